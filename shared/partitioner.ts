/**
 * Partition choice: `crc32(utf8(key)) mod partitionCount`. Stable across processes, releases and backends, so the
 * same source always lands in the same partition and its records stay ordered. Changing this function reorders
 * every existing topic: it is part of the wire contract (docs/api.md).
 */
import { crc32 } from 'node:zlib';
import type { PartitionId } from './record.ts';

export function partitionForKey(key: string, partitionCount: number): PartitionId {
  return crc32(key) % partitionCount;
}
