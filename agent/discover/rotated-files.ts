/**
 * Where a file the agent was reading went: the files of one directory, by identity. Used after a restart (a
 * checkpointed file renamed while the agent was down, perhaps to a name no glob matches) and on a truncation (the
 * copytruncate copy holding the lines not read yet). Discovery (file-discovery.ts) knows paths in the globs; this
 * knows every regular file of a directory, looked at on demand, never watched.
 *
 * Names that count as "rotated names" of `app.log`: `app.log` followed by `.`, `-` or `_` and anything
 * (`app.log.1`, `app.log-20260101`), except compressed ones (`.gz`, `.xz`, `.bz2`, `.zst`, `.lz4`, `.Z`): their
 * bytes are not the lines.
 */
import type { Stats } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { type FileKey, type Fingerprint, fileKeyOf, fingerprintPrefix } from '../read/fingerprint.ts';

export interface DirectoryFile {
  readonly path: string;
  readonly key: FileKey;
  readonly stats: Stats;
}

const COMPRESSED = /\.(gz|xz|bz2|zst|lz4|Z|zip)$/;

/** True when `name` is a rotated name of `base` (see the module comment). */
export function isRotatedName(base: string, name: string): boolean {
  return (
    name.length > base.length + 1 &&
    name.startsWith(base) &&
    /[.\-_]/.test(name[base.length]!) &&
    !COMPRESSED.test(name)
  );
}

/** The regular files directly in `dir` (none if it cannot be listed). */
export async function filesIn(dir: string): Promise<DirectoryFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: DirectoryFile[] = [];
  for (const name of names) {
    const p = path.join(dir, name);
    try {
      const stats = await stat(p);
      if (stats.isFile()) out.push({ path: p, key: fileKeyOf(stats), stats });
    } catch {
      // gone since the listing, or unreadable: not a candidate
    }
  }
  return out;
}

/** The checksum of the first `length` bytes of the file at `filePath` (undefined if it cannot be read). */
export async function prefixOf(filePath: string, length: number): Promise<Fingerprint | undefined> {
  try {
    const handle = await open(filePath, 'r');
    try {
      return await fingerprintPrefix(handle, length);
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
}

/** True when the file at `filePath` starts with the bytes `print` was computed from. */
export async function startsWith(filePath: string, print: Fingerprint): Promise<boolean> {
  if (print.length === 0) return true;
  const now = await prefixOf(filePath, print.length);
  return now !== undefined && now.length === print.length && now.crc === print.crc;
}

/**
 * The copytruncate copy of a file with fingerprint `print` (the file's identity `except` excluded): a file of `dir`
 * with the same first bytes, the most recently modified if several match. Fingerprints shorter than `minLength`
 * are too weak to call another file a copy.
 */
export async function findCopy(
  dir: string,
  print: Fingerprint,
  except: FileKey,
  minLength: number,
): Promise<DirectoryFile | undefined> {
  if (print.length < minLength) return undefined;
  let best: DirectoryFile | undefined;
  for (const f of await filesIn(dir)) {
    if (f.key === except || f.stats.size < print.length || COMPRESSED.test(f.path)) continue;
    if (best && best.stats.mtimeMs >= f.stats.mtimeMs) continue;
    if (await startsWith(f.path, print)) best = f;
  }
  return best;
}
