/**
 * Partition choice: `fmix32(crc32(utf8(key))) mod partitionCount`. Stable across processes, releases and backends,
 * so the same source always lands in the same partition and its records stay ordered. Changing this function
 * reorders every existing topic: it is part of the wire contract (docs/api.md).
 *
 * Why the mixing step: CRC-32 is linear over GF(2), so its low bits follow fixed linear combinations of the input
 * bits. Keys that differ in a digit or two (`app-0.log` … `app-7.log`) then share the low bits that `mod 2^k`
 * keeps: with plain `crc32 mod 4`, all eight such files of one host landed in one partition. murmur3's finalizer
 * (fmix32) is a bijection in which every output bit depends on every input bit, which spreads them.
 */
import { crc32 } from 'node:zlib';
import type { PartitionId } from './record.ts';

/** MurmurHash3's 32-bit finalizer. */
function fmix32(hash: number): number {
  let h = hash;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function partitionForKey(key: string, partitionCount: number): PartitionId {
  return fmix32(crc32(key)) % partitionCount;
}
