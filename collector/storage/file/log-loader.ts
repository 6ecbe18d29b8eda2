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
 *   5. The producer state (producer-state.ts) from the batches of at least the last PRODUCER_TAIL_BYTES of the log:
 *      the active segment (read in pass 4 anyway) and, when that is shorter, the end of the segment before it.
 *
 * Returns the recovered segments and producer state, ready for a PartitionLog.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PartitionId, TimestampMs } from '../../../shared/record.ts';
import type { StorageEvents } from '../log-store.ts';
import { ProducerState } from '../producer-state.ts';
import { DELETED_SUFFIX, parseSegmentFileName, TMP_SUFFIX } from './log-file-names.ts';
import { Segment } from './segment.ts';

export interface LoadPartitionOptions {
  readonly topic: string;
  readonly partition: PartitionId;
  readonly dir: string;
  readonly events: StorageEvents;
  readonly now: () => TimestampMs;
}

/**
 * How much of a partition's tail is read for its producers on open: more than any one request (the resends that
 * matter are of the requests in flight when the collector stopped), and little enough to open fast.
 */
const PRODUCER_TAIL_BYTES = 8 * 1024 * 1024;

export interface LoadedPartition {
  readonly segments: Segment[];
  readonly producers: ProducerState;
}

export async function loadPartition(options: LoadPartitionOptions): Promise<LoadedPartition> {
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
  const producers = new ProducerState();
  if (baseOffsets.length === 0) return { segments: [await Segment.create(dir, 0, options.now())], producers };

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
    // Pass 4, and pass 5 beside it (the segment before the active one first, to see batches in log order)
    const active = await Segment.open(dir, baseOffsets[baseOffsets.length - 1]!);
    const previous = segments[segments.length - 1];
    if (previous && active.size < PRODUCER_TAIL_BYTES) {
      await previous.visitTail(PRODUCER_TAIL_BYTES - active.size, (header) => producers.stored(header));
    }
    segments.push(active);
    const recovered = await active.recover((header) => producers.stored(header));
    if (recovered.truncatedBytes > 0) {
      events.recoveryTruncated?.(topic, partition, recovered.truncatedBytes, recovered.reason || 'torn tail');
    }
    return { segments, producers };
  } catch (error) {
    await Promise.all(segments.map((s) => s.close().catch(() => {})));
    throw error;
  }
}
