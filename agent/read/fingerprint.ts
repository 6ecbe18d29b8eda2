/**
 * File identity: device + inode (what the file *is* while it exists) plus a checksum of its first bytes (what tells
 * a reused inode, or a file truncated and rewritten in place, from the file we read before).
 *
 * A file shorter than FINGERPRINT_BYTES has a fingerprint over what it holds so far (`length` says how much); it is
 * recomputed as the file grows. Two fingerprints match when the shorter one is a prefix checksum of the file, i.e.
 * checking always re-reads the first `length` bytes of the file under test and compares checksums.
 */
import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';

/** How many leading bytes are checksummed: Vector's default "first line" checksum is of the same order. */
export const FINGERPRINT_BYTES = 256;

export interface Fingerprint {
  /** How many leading bytes the checksum covers (0 for an empty file: matches any file). */
  readonly length: number;
  /** CRC-32 of those bytes. */
  readonly crc: number;
}

/** `dev:ino` — the key of a live file (checkpoints, readers). */
export type FileKey = string;

export function fileKeyOf(stats: Pick<Stats, 'dev' | 'ino'>): FileKey {
  return `${stats.dev}:${stats.ino}`;
}

/** Reads the first min(size, FINGERPRINT_BYTES) bytes through `handle` and checksums them. */
export async function computeFingerprint(handle: FileHandle, size: number): Promise<Fingerprint> {
  return fingerprintPrefix(handle, Math.min(size, FINGERPRINT_BYTES));
}

/** Checksums exactly the first `length` bytes (fewer if the file is shorter now). */
export async function fingerprintPrefix(handle: FileHandle, length: number): Promise<Fingerprint> {
  if (length === 0) return { length: 0, crc: 0 };
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await handle.read(buf, got, length - got, got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return { length: got, crc: crc32(buf.subarray(0, got)) };
}

/** True when the file behind `handle` still starts with the bytes `expected` was computed from. */
export async function fingerprintMatches(handle: FileHandle, expected: Fingerprint): Promise<boolean> {
  if (expected.length === 0) return true;
  const now = await fingerprintPrefix(handle, expected.length);
  return now.length === expected.length && now.crc === expected.crc;
}
