/**
 * Recovery of one partition directory on open, as numbered passes (Kafka's LogLoader):
 *
 *   1. Remove leftovers of interrupted work: `*.tmp` (an atomic write that never renamed) and `*.deleted`.
 *   2. List the segments by base offset; a directory without one gets an empty segment at offset 0.
 *   3. Closed segments (all but the last): load their index files, rebuilding any that is missing or invalid by
 *      scanning that segment's headers. Their batches are CRC-checked when read, not here, so opening a large
 *      partition costs one header walk per closed segment's tail, not a full read.
 *   4. The active segment (the last): validate batch by batch (structure, CRC, contiguous offsets), truncate a torn
 *      or corrupt tail, rebuild its indexes with the append rule. What was cut is reported and counted.
 *
 * Returns the recovered segments, ready for a PartitionLog.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PartitionId, TimestampMs } from '../../../shared/record.ts';
import type { StorageEvents } from '../log-store.ts';
import { DELETED_SUFFIX, parseSegmentFileName, TMP_SUFFIX } from './log-file-names.ts';
import { Segment } from './segment.ts';

export interface LoadPartitionOptions {
  readonly topic: string;
  readonly partition: PartitionId;
  readonly dir: string;
  readonly events: StorageEvents;
  readonly now: () => TimestampMs;
}

export async function loadPartitionSegments(options: LoadPartitionOptions): Promise<Segment[]> {
  const { dir, topic, partition, events } = options;
  await mkdir(dir, { recursive: true });

  // Pass 1
  const names = await readdir(dir);
  await Promise.all(
    names
      .filter((name) => name.endsWith(TMP_SUFFIX) || name.endsWith(DELETED_SUFFIX))
      .map((name) => rm(join(dir, name), { force: true })),
  );

  // Pass 2
  const baseOffsets = names
    .map(parseSegmentFileName)
    .filter((offset): offset is number => offset !== undefined)
    .sort((a, b) => a - b);
  if (baseOffsets.length === 0) return [await Segment.create(dir, 0, options.now())];

  const segments: Segment[] = [];
  try {
    // Pass 3
    for (const baseOffset of baseOffsets.slice(0, -1)) {
      const segment = await Segment.open(dir, baseOffset);
      segments.push(segment);
      if (await segment.loadIndexes()) {
        events.recoveryTruncated?.(topic, partition, 0, `rebuilt the indexes of segment ${baseOffset}`);
      }
    }
    // Pass 4
    const active = await Segment.open(dir, baseOffsets[baseOffsets.length - 1]!);
    segments.push(active);
    const recovered = await active.recover();
    if (recovered.truncatedBytes > 0) {
      events.recoveryTruncated?.(topic, partition, recovered.truncatedBytes, recovered.reason || 'torn tail');
    }
    return segments;
  } catch (error) {
    await Promise.all(segments.map((s) => s.close().catch(() => {})));
    throw error;
  }
}
