/**
 * A budgeted forward scan over the batches of a topic in a time range whose labels match, for the aggregate
 * queries (volume, label names and values) that need every matching batch once, in no particular order.
 *
 * Each partition is entered through its time index, as the query engine does: [offsetForTimestamp(since),
 * offsetForTimestamp(until + MAX_SKEW_MS)). Partitions are read one chunk at a time in turn, so a scan stopped by
 * its budget has looked at every partition about equally; it then reports `partial`. Batches whose newest record is
 * older than `since` are skipped; records are not decoded here: the visitor decides whether it needs them.
 */
import { type BatchHeader, type BatchSource, readBatchHeader, readBatchSource } from '../../shared/batch-codec.ts';
import type { Offset, PartitionId, TimestampMs } from '../../shared/record.ts';
import type { LogStore } from '../storage/log-store.ts';
import { type LabelMatcher, matchesLabels } from '../../shared/query/matchers.ts';
import { offsetRange } from './query-engine.ts';

export interface BatchScanRequest {
  readonly topic: string;
  readonly since?: TimestampMs;
  readonly until?: TimestampMs;
  readonly matchers?: readonly LabelMatcher[];
  readonly maxScanBytes: number;
  readonly maxScanMs: number;
}

export interface ScannedBatch {
  readonly partition: PartitionId;
  readonly header: BatchHeader;
  /** The whole batch (a view into the chunk read; valid during the visit only). */
  readonly bytes: Buffer;
  readonly source: BatchSource;
  /** Only records with offsets in [from, to) belong to the scan (a batch may straddle either end). */
  readonly from: Offset;
  readonly to: Offset;
}

export interface BatchScanSummary {
  /** True when the budget stopped the scan before the range was read. */
  readonly partial: boolean;
  readonly scannedBytes: number;
}

const READ_CHUNK_BYTES = 4 * 1024 * 1024;

export async function scanBatches(
  store: LogStore,
  request: BatchScanRequest,
  visit: (batch: ScannedBatch) => void,
  now: () => number = Date.now,
): Promise<BatchScanSummary> {
  const { topic, since, until, matchers } = request;
  const info = await store.describeTopic(topic);
  const ranges: { partition: PartitionId; at: Offset; high: Offset }[] = [];
  for (const p of info.partitions) {
    const { low, high } = await offsetRange(store, topic, p, since, until);
    ranges.push({ partition: p.partition, at: low, high });
  }
  const deadline = now() + request.maxScanMs;
  let scannedBytes = 0;
  let open = ranges.filter((r) => r.at < r.high);
  while (open.length > 0) {
    if (scannedBytes >= request.maxScanBytes || now() >= deadline) return { partial: true, scannedBytes };
    for (const range of open) {
      const result = await store.read(topic, range.partition, range.at, READ_CHUNK_BYTES);
      if (result.batches.length === 0) {
        range.at = range.high;
        continue;
      }
      scannedBytes += result.batches.length;
      let pos = 0;
      while (pos < result.batches.length) {
        const header = readBatchHeader(result.batches, pos);
        const bytes = result.batches.subarray(pos, pos + header.size);
        pos += header.size;
        if (header.lastOffset < range.at || header.baseOffset >= range.high) continue;
        if (since !== undefined && header.maxTimestamp < since) continue;
        const source = readBatchSource(bytes);
        if (matchers && matchers.length > 0 && !matchesLabels(source.labels, matchers)) continue;
        visit({ partition: range.partition, header, bytes, source, from: range.at, to: range.high });
      }
      range.at = result.nextOffset;
    }
    open = open.filter((r) => r.at < r.high);
  }
  return { partial: false, scannedBytes };
}
