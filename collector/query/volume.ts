/**
 * Volume: how many matching records fall in each interval of a time range, split by the `level` label — the
 * histogram the web console draws above its results. Counted by the collector, so the browser never receives the
 * records it only needs to count.
 *
 * A batch that lies wholly inside one bucket and needs no line filter is counted from its header (record count,
 * first and newest timestamps) without decoding its records; the others are decoded and counted record by record.
 * A record written out of order, older than its batch's first record, can be counted one bucket late by the
 * header shortcut: a histogram's precision, not a query's.
 */
import { forEachRecord } from '../../shared/batch-codec.ts';
import { InvalidArgumentError } from '../../shared/errors.ts';
import type { TimestampMs } from '../../shared/record.ts';
import type { LogStore } from '../storage/log-store.ts';
import { scanBatches } from './batch-scan.ts';
import { compileLineFilter, type LineFilterSpec } from '../../shared/query/line-filter.ts';
import { type LabelMatcher, matchesFields } from '../../shared/query/matchers.ts';

export interface VolumeRequest extends LineFilterSpec {
  readonly topic: string;
  readonly since: TimestampMs;
  readonly until: TimestampMs;
  readonly matchers?: readonly LabelMatcher[];
  /** About how many buckets (the step is rounded to a readable interval). */
  readonly buckets: number;
  readonly maxScanBytes: number;
  readonly maxScanMs: number;
}

export interface Volume {
  /** The first bucket starts here; bucket i covers [start + i * step, start + (i + 1) * step). */
  readonly start: TimestampMs;
  readonly step: number;
  /** Per bucket, records per level (`""` for records without a level label). */
  readonly buckets: readonly Record<string, number>[];
  readonly total: number;
  readonly partial: boolean;
  readonly scannedBytes: number;
}

/** Readable bucket widths, in ms: 1 s … 1 day. */
const STEPS = [
  1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000,
  10_800_000, 21_600_000, 43_200_000, 86_400_000,
];
export const MAX_BUCKETS = 1000;

/** The smallest readable step that covers [since, until) in at most `buckets` buckets. */
export function volumeStep(since: TimestampMs, until: TimestampMs, buckets: number): number {
  const wanted = (until - since) / buckets;
  return STEPS.find((s) => s >= wanted) ?? Math.ceil(wanted / 86_400_000) * 86_400_000;
}

export async function countVolume(store: LogStore, request: VolumeRequest): Promise<Volume> {
  const { since, until } = request;
  if (since >= until) throw new InvalidArgumentError('since must be earlier than until');
  if (!Number.isSafeInteger(request.buckets) || request.buckets < 1 || request.buckets > MAX_BUCKETS) {
    throw new InvalidArgumentError(`buckets must be from 1 to ${MAX_BUCKETS}`);
  }
  const step = volumeStep(since, until, request.buckets);
  const start = Math.floor(since / step) * step;
  const count = Math.ceil((until - start) / step);
  const buckets: Record<string, number>[] = Array.from({ length: count }, () => ({}));
  const filter = compileLineFilter(request);
  const matchers = request.matchers ?? [];
  const textFiltered = request.grep !== undefined || request.regex !== undefined;
  // Field matchers (`field.level=error`) are decided per record, like a text filter.
  const filtered = textFiltered || matchers.some((m) => m.target === 'field');
  let total = 0;
  const add = (timestamp: TimestampMs, level: string, n: number) => {
    const bucket = buckets[Math.floor((timestamp - start) / step)]!;
    bucket[level] = (bucket[level] ?? 0) + n;
    total += n;
  };
  const summary = await scanBatches(store, { ...request, matchers }, (batch) => {
    const { header, source, from, to } = batch;
    const level = source.labels.level ?? '';
    const inside = header.baseOffset >= from && header.lastOffset < to;
    const first = header.firstTimestamp;
    const last = header.maxTimestamp;
    if (
      !filtered &&
      inside &&
      first >= since &&
      last < until &&
      Math.floor((first - start) / step) === Math.floor((last - start) / step)
    ) {
      add(first, level, header.recordCount);
      return;
    }
    if (textFiltered && header.compression === 'none' && !filter.mayMatch(batch.bytes)) return;
    forEachRecord(
      batch.bytes,
      (r) => {
        if (r.offset < from || r.offset >= to || r.timestamp < since || r.timestamp >= until) return true;
        if (textFiltered && !filter.matches(r.value)) return true;
        if (!matchesFields(r.fields, matchers)) return true;
        add(r.timestamp, level, 1);
        return true;
      },
      header,
      source,
    );
  });
  return { start, step, buckets, total, partial: summary.partial, scannedBytes: summary.scannedBytes };
}
