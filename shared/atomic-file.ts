/**
 * The one way Tributary replaces a small state file (topic metadata, group offsets, the journald cursor): write
 * `<name>.tmp`, fsync it, rename it over `<name>`, fsync the directory. A crash leaves either the old file or the
 * new one, never a mix; a leftover `.tmp` is ignored or removed by whoever owns the directory.
 */
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

export const ATOMIC_TMP_SUFFIX = '.tmp';

/** `mode`: the new file's permissions (e.g. 0o600 for the agent's checkpoints); default 0o666 less the umask. */
export async function writeFileAtomic(path: string, contents: string | Buffer, mode?: number): Promise<void> {
  const tmp = path + ATOMIC_TMP_SUFFIX;
  const file = await open(tmp, 'w', mode);
  try {
    await file.writeFile(contents);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
  await syncDirectory(dirname(path));
}

export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
