/**
 * Temporary folders for tests, removed when the test process exits, whatever the test did (a failed assertion, a
 * forgotten dispose): a full run used to leave collector and agent folders in /tmp. TRIBUTARY_KEEP_TEST_DIRS=1 keeps
 * them for a post-mortem.
 */
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const made: string[] = [];
process.once('exit', () => {
  if (process.env.TRIBUTARY_KEEP_TEST_DIRS === '1') return;
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A new folder under the system's temporary folder, named `prefix` + random characters. */
export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}
