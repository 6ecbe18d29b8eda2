/**
 * The one way the file store replaces a small state file (topic metadata, group offsets): write `<name>.tmp`,
 * fsync it, rename it over `<name>`, fsync the directory. A crash leaves either the old file or the new one, never
 * a mix; a leftover `.tmp` is removed by recovery.
 */
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TMP_SUFFIX } from './log-file-names.ts';

export async function writeFileAtomic(path: string, contents: string | Buffer): Promise<void> {
  const tmp = path + TMP_SUFFIX;
  const file = await open(tmp, 'w');
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
