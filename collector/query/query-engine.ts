/**
 * Queries over one topic: a time range, label matchers, a text filter, a limit, newest- or oldest-first.
 *
 * How it stays fast: each partition is entered through the time index (offsetForTimestamp), never scanned from
 * its start; a batch whose labels do not match is skipped by reading its source header alone, without inflating
 * its records; plain text is searched in bytes. Partitions are read as independent streams and merged by
 * timestamp; results are yielded as they are found (an async generator), never gathered whole.
 *
 * Newest-first reads each partition backwards in windows of offsets: read [start, end) forwards, yield the
 * matches in reverse, move the window down and double it (up to a cap).
 *
 * A scan budget (bytes read and wall time) bounds the work: past it, the query stops, marks the result `partial`
 * and returns a cursor — per partition, the boundary between what was returned and what was not — from which the
 * same query resumes exactly.
 */
import {
  type BatchHeader,
  type BatchSource,
  forEachRecord,
  readBatchHeader,
  readBatchSource,
  toStoredRecord,
} from '../../shared/batch-codec.ts';
import { setImmediate } from 'node:timers/promises';
import { InvalidArgumentError } from '../../shared/errors.ts';
import type { Offset, PartitionId, StoredRecord, TimestampMs } from '../../shared/record.ts';
import type { LogStore, PartitionInfo } from '../storage/log-store.ts';
import { compileLineFilter, type LineFilter, type LineFilterSpec } from '../../shared/query/line-filter.ts';
import { FIELD_PREFIX, type LabelMatcher, matchesFields, matchesLabels } from '../../shared/query/matchers.ts';

export type QueryOrder = 'newest' | 'oldest';

export interface QueryRequest extends LineFilterSpec {
  readonly topic: string;
  /** Inclusive lower bound on record timestamps. */
  readonly since?: TimestampMs;
  /** Exclusive upper bound on record timestamps. */
  readonly until?: TimestampMs;
  readonly matchers?: readonly LabelMatcher[];
  readonly limit: number;
  readonly order: QueryOrder;
  readonly maxScanBytes?: number;
  readonly maxScanMs?: number;
  readonly cursor?: string;
}

export interface QueryHit extends StoredRecord {
  readonly partition: PartitionId;
}

export interface QuerySummary {
  readonly count: number;
  readonly partial: boolean;
  /** Present when the query stopped before exhausting the range (limit or budget): resume from here. */
  readonly cursor: string | undefined;
  readonly scannedBytes: number;
  /** Wall time from the start of the query to its summary. */
  readonly durationMs: number;
  /**
   * Matcher names (`host`, `field.level`) that no scanned batch has: the matcher compared "" every time, which is
   * most often a typo or a label meant as a field. Empty when nothing was scanned.
   */
  readonly missingNames: readonly string[];
}

export const DEFAULT_MAX_SCAN_BYTES = 1024 ** 3;
export const DEFAULT_MAX_SCAN_MS = 10_000;
const READ_CHUNK_BYTES = 4 * 1024 * 1024;
const FIRST_WINDOW = 512;
/** How far out of timestamp order records may be stored and still be found by a query with `until`. */
export const MAX_SKEW_MS = 5 * 60_000;

/**
 * The offsets [low, high) of one partition that can hold records of [since, until]. Batches before
 * offsetForTimestamp(since) hold only older records (the time index's promise); past it, records may be out of
 * order, so the upper bound allows MAX_SKEW_MS of disorder before it stops. An open side is the partition's start or
 * end.
 */
export async function offsetRange(
  store: LogStore,
  topic: string,
  partition: PartitionInfo,
  since: TimestampMs | undefined,
  until: TimestampMs | undefined,
): Promise<{ low: Offset; high: Offset }> {
  const low = since !== undefined ? await store.offsetForTimestamp(topic, partition.partition, since) : undefined;
  const high =
    until !== undefined ? await store.offsetForTimestamp(topic, partition.partition, until + MAX_SKEW_MS) : undefined;
  return { low: Math.max(low ?? partition.startOffset, partition.startOffset), high: high ?? partition.endOffset };
}
const MAX_WINDOW = 65_536;

interface Cursor {
  readonly order: QueryOrder;
  /** Oldest-first: the next offset to read. Newest-first: the exclusive end of what is left. */
  readonly positions: Record<string, Offset>;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify({ v: 1, o: cursor.order, p: cursor.positions })).toString('base64url');
}

function decodeCursor(text: string, order: QueryOrder): Cursor {
  try {
    const parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as {
      v: number;
      o: QueryOrder;
      p: Record<string, number>;
    };
    if (parsed.v !== 1 || parsed.o !== order || typeof parsed.p !== 'object' || parsed.p === null) throw new Error();
    for (const value of Object.values(parsed.p)) if (!Number.isSafeInteger(value) || value < 0) throw new Error();
    return { order, positions: parsed.p };
  } catch {
    throw new InvalidArgumentError('the cursor is not one this query returned (same order and parameters needed)');
  }
}

/** How long a scan holds the event loop before it lets other requests (health checks, produce) run. */
const SLICE_MS = 10;
/** The clock is read once this many line bytes have been examined since the last reading (and before each line). */
const CLOCK_EVERY_BYTES = 64 * 1024;

/** Shared by every partition stream of one query: the filters and the scan budget. */
class ScanContext {
  scannedBytes = 0;
  /**
   * Set once the page made progress (oldest-first: one line examined; newest-first: one window completed): until
   * then the budget is not enforced, so every page moves its cursor forward.
   */
  progressed = false;
  private readonly deadline: number;
  private sliceEnd = 0;
  private sinceClock = 0;
  private readonly labelMatchers: readonly LabelMatcher[];
  private readonly fieldMatchers: readonly LabelMatcher[];
  /** Matched names not yet seen in a scanned batch (labels) or record (fields). */
  private readonly unseenLabels: Set<string>;
  private readonly unseenFields: Set<string>;
  /** Whether any batch was looked at: with none, nothing can be said about missing names. */
  private sawBatch = false;
  constructor(
    readonly store: LogStore,
    readonly request: QueryRequest,
    readonly filter: LineFilter,
    private readonly maxBytes: number,
    maxMs: number,
  ) {
    this.deadline = Date.now() + maxMs;
    this.sliceEnd = Date.now() + SLICE_MS;
    const matchers = request.matchers ?? [];
    this.labelMatchers = matchers.filter((m) => m.target === 'label');
    this.fieldMatchers = matchers.filter((m) => m.target === 'field');
    this.unseenLabels = new Set(this.labelMatchers.map((m) => m.name));
    this.unseenFields = new Set(this.fieldMatchers.map((m) => m.name));
  }

  /** Matcher names no scanned batch had, as written (`level`, `field.level`). */
  missingNames(): string[] {
    if (!this.sawBatch) return [];
    return [...this.unseenLabels, ...[...this.unseenFields].map((n) => FIELD_PREFIX + n)];
  }

  private noteFields(fields: Readonly<Record<string, unknown>> | undefined): void {
    if (fields === undefined) return;
    for (const name of this.unseenFields) if (Object.hasOwn(fields, name)) this.unseenFields.delete(name);
  }

  get exhausted(): boolean {
    return this.progressed && (this.scannedBytes >= this.maxBytes || Date.now() >= this.deadline);
  }

  private get order(): QueryOrder {
    return this.request.order;
  }

  /**
   * Whether to stop before examining a line of `bytes` bytes: to give the event loop a turn, or because the budget
   * ran out. The clock is read per 64 KiB of lines, and before any line that long on its own.
   */
  private mustPause(bytes: number): boolean {
    this.sinceClock += bytes;
    if (this.sinceClock < CLOCK_EVERY_BYTES) return false;
    this.sinceClock = bytes;
    const now = Date.now();
    return now >= this.sliceEnd || (this.progressed && now >= this.deadline);
  }

  /**
   * Collects the matching records of the batches in `bytes` whose offsets lie in [from, to). Returns undefined
   * when all were examined, or the first offset not examined when the scan budget ran out. Gives the event loop a
   * turn every SLICE_MS, so no query holds up other requests, whatever its filters.
   */
  async collect(
    bytes: Buffer,
    from: Offset,
    to: Offset,
    out: QueryHit[],
    partition: PartitionId,
  ): Promise<Offset | undefined> {
    const { since, until } = this.request;
    const { labelMatchers, fieldMatchers } = this;
    const examinesLines = this.order === 'oldest';
    let pos = 0;
    while (pos < bytes.length) {
      const header: BatchHeader = readBatchHeader(bytes, pos);
      const batch = bytes.subarray(pos, pos + header.size);
      pos += header.size;
      if (header.lastOffset < from || header.baseOffset >= to) continue;
      if (since !== undefined && header.maxTimestamp < since) continue;
      let source: BatchSource | undefined;
      if (this.unseenLabels.size > 0) {
        source = readBatchSource(batch);
        for (const name of this.unseenLabels) if (Object.hasOwn(source.labels, name)) this.unseenLabels.delete(name);
      }
      this.sawBatch = true;
      if (header.compression === 'none' && !this.filter.mayMatch(batch)) continue;
      source ??= readBatchSource(batch);
      if (labelMatchers.length > 0 && !matchesLabels(source.labels, labelMatchers)) continue;
      const batchSource = source;
      /** The first offset of this batch not yet examined. */
      let next = Math.max(from, header.baseOffset);
      for (;;) {
        let paused = false;
        forEachRecord(
          batch,
          (r) => {
            if (r.offset < next) return true;
            if (r.offset >= to) return false;
            if (this.mustPause(r.value.length)) {
              paused = true;
              return false;
            }
            next = r.offset + 1;
            if (examinesLines) this.progressed = true;
            if (since !== undefined && r.timestamp < since) return true;
            if (until !== undefined && r.timestamp >= until) return true;
            if (fieldMatchers.length > 0) {
              if (this.unseenFields.size > 0) this.noteFields(r.fields);
              if (!matchesFields(r.fields, fieldMatchers)) return true;
            }
            if (!this.filter.matches(r.value)) return true;
            out.push({ partition, ...toStoredRecord(r, batchSource) });
            return true;
          },
          header,
          batchSource,
        );
        if (!paused) break;
        if (this.exhausted) return next;
        await setImmediate();
        this.sliceEnd = Date.now() + SLICE_MS;
      }
    }
    return undefined;
  }

  /** Reads [from, to) of a partition into `out`; returns where it stopped: `to`, or earlier when over budget. */
  async scanRange(partition: PartitionId, from: Offset, to: Offset, out: QueryHit[]): Promise<Offset> {
    const read = (offset: Offset) => {
      const reading = this.store.read(this.request.topic, partition, offset, READ_CHUNK_BYTES);
      reading.catch(() => {}); // a read ahead that is never awaited must not become an unhandled rejection
      return reading;
    };
    let at = from;
    let next = at < to ? read(at) : undefined;
    while (next !== undefined) {
      if (this.exhausted) return at;
      const result = await next;
      if (result.batches.length === 0) return to;
      // The next chunk is read (by the thread pool) while this one is searched on the main thread, so a scan costs
      // about the larger of the two rather than their sum; at most one chunk is read in vain when a scan stops.
      next = result.nextOffset < to ? read(result.nextOffset) : undefined;
      this.scannedBytes += result.batches.length;
      const stopped = await this.collect(result.batches, at, to, out, partition);
      if (stopped !== undefined) return stopped;
      at = result.nextOffset;
      if (this.order === 'oldest') this.progressed = true;
    }
    this.progressed = true;
    return to;
  }
}

/** One partition's matches in the query's order, fetched lazily a chunk or a window at a time. */
class PartitionStream {
  private buffer: QueryHit[] = [];
  private index = 0;
  /** Scan position: oldest-first, the next offset to read; newest-first, the exclusive end of what is unread. */
  private scanPosition: Offset;
  /** The cursor boundary: everything before (oldest) / from (newest) it has been handed out. */
  position: Offset;
  private window = FIRST_WINDOW;
  private done = false;

  constructor(
    readonly partition: PartitionId,
    private readonly context: ScanContext,
    private readonly order: QueryOrder,
    /** Offsets [low, high) may hold matches. */
    private readonly low: Offset,
    private readonly high: Offset,
    start: Offset,
  ) {
    this.scanPosition = start;
    this.position = start;
  }

  /** The next match, loading more as needed; undefined when the range is done or the budget ran out. */
  async peek(): Promise<QueryHit | undefined> {
    while (this.index >= this.buffer.length && !this.done) {
      if (this.context.exhausted) return undefined;
      this.buffer = [];
      this.index = 0;
      if (this.order === 'oldest') {
        if (this.scanPosition >= this.high) {
          this.done = true;
          break;
        }
        const to = Math.min(this.high, this.scanPosition + MAX_WINDOW);
        this.scanPosition = await this.context.scanRange(this.partition, this.scanPosition, to, this.buffer);
      } else {
        if (this.scanPosition <= this.low) {
          this.done = true;
          break;
        }
        const from = Math.max(this.low, this.scanPosition - this.window);
        const hits: QueryHit[] = [];
        const reached = await this.context.scanRange(this.partition, from, this.scanPosition, hits);
        if (reached < this.scanPosition) return undefined; // budget ran out inside the window: resume it whole
        this.buffer = hits.reverse();
        this.scanPosition = from;
        this.window = Math.min(MAX_WINDOW, this.window * 2);
      }
    }
    return this.buffer[this.index];
  }

  take(): QueryHit {
    const hit = this.buffer[this.index++]!;
    this.position = this.order === 'oldest' ? hit.offset + 1 : hit.offset;
    return hit;
  }

  /** True when nothing is left in range (so the partition needs no cursor entry). */
  get finished(): boolean {
    return this.done && this.index >= this.buffer.length;
  }

  /**
   * Where a resumed query continues: past what was scanned when every match found was handed out, else past what
   * was handed out (buffered matches are read again). A page stopped by its budget thus resumes where it stopped,
   * even when it found nothing.
   */
  resumePosition(): Offset {
    if (this.index >= this.buffer.length) return this.scanPosition;
    return this.position;
  }
}

export function validateQuery(request: QueryRequest): void {
  if (!Number.isSafeInteger(request.limit) || request.limit < 1) {
    throw new InvalidArgumentError(`limit must be a positive whole number, got ${request.limit}`);
  }
  if (request.since !== undefined && request.until !== undefined && request.since >= request.until) {
    throw new InvalidArgumentError('since must be earlier than until');
  }
}

/**
 * Runs a query, yielding matches in order; the generator's return value is the summary. Stop early by breaking
 * out of the loop (the summary is then not produced).
 */
export async function* runQuery(store: LogStore, request: QueryRequest): AsyncGenerator<QueryHit, QuerySummary> {
  const started = performance.now();
  validateQuery(request);
  const filter = compileLineFilter(request);
  const context = new ScanContext(
    store,
    request,
    filter,
    request.maxScanBytes ?? DEFAULT_MAX_SCAN_BYTES,
    request.maxScanMs ?? DEFAULT_MAX_SCAN_MS,
  );
  const cursor = request.cursor ? decodeCursor(request.cursor, request.order) : undefined;
  const topic = await store.describeTopic(request.topic);
  const streams: PartitionStream[] = [];
  for (const info of topic.partitions) {
    const p = info.partition;
    const { low, high } = await offsetRange(store, request.topic, info, request.since, request.until);
    let start = request.order === 'oldest' ? low : high;
    if (cursor) {
      const resume = cursor.positions[String(p)];
      if (resume === undefined) continue; // finished in the earlier page
      start = Math.min(Math.max(resume, low), high);
    }
    streams.push(new PartitionStream(p, context, request.order, low, high, start));
  }

  let count = 0;
  const before = (a: QueryHit, b: QueryHit): boolean =>
    request.order === 'oldest'
      ? a.timestamp < b.timestamp || (a.timestamp === b.timestamp && a.partition < b.partition)
      : a.timestamp > b.timestamp || (a.timestamp === b.timestamp && a.partition < b.partition);
  while (count < request.limit) {
    let best: PartitionStream | undefined;
    let bestHit: QueryHit | undefined;
    for (const stream of streams) {
      const hit = await stream.peek();
      if (hit && (!bestHit || before(hit, bestHit))) {
        best = stream;
        bestHit = hit;
      }
    }
    if (!best) break;
    yield best.take();
    count++;
  }

  const partial = context.exhausted && streams.some((s) => !s.finished);
  const open = streams.filter((s) => !s.finished);
  const more = partial || (count >= request.limit && open.length > 0);
  const positions: Record<string, Offset> = {};
  for (const s of open) positions[String(s.partition)] = s.resumePosition();
  return {
    count,
    partial,
    cursor: more ? encodeCursor({ order: request.order, positions }) : undefined,
    scannedBytes: context.scannedBytes,
    durationMs: Math.round(performance.now() - started),
    missingNames: context.missingNames(),
  };
}

/**
 * Follows a topic from its current end, yielding matching records as they are appended, until `signal` aborts.
 * Partitions are polled with waitForAppend; matches of one partition come in offset order.
 */
export async function* followQuery(
  store: LogStore,
  request: Omit<QueryRequest, 'limit' | 'order' | 'cursor'>,
  signal: AbortSignal,
  /** Told, before anything is yielded, the offset per partition the follow starts at (records before it are not followed). */
  onStart?: (start: ReadonlyMap<PartitionId, Offset>) => void,
): AsyncGenerator<QueryHit> {
  const filter = compileLineFilter(request);
  const context = new ScanContext(store, { ...request, limit: 1, order: 'oldest' }, filter, Infinity, Infinity);
  const topic = await store.describeTopic(request.topic);
  const positions = new Map<PartitionId, Offset>(topic.partitions.map((p) => [p.partition, p.endOffset]));
  onStart?.(new Map(positions));
  const ready: QueryHit[] = [];
  while (!signal.aborted) {
    const woke = await Promise.race(
      [...positions].map(async ([p, at]) => ((await store.waitForAppend(request.topic, p, at, 1000, signal)) ? p : -1)),
    );
    if (signal.aborted) return;
    if (woke < 0) continue;
    const described = await store.describeTopic(request.topic);
    for (const [p, at] of positions) {
      const end = described.partitions[p]?.endOffset ?? at;
      if (end <= at) continue;
      await context.scanRange(p, at, end, ready);
      positions.set(p, end);
    }
    ready.sort((a, b) => a.timestamp - b.timestamp);
    while (ready.length > 0) yield ready.shift()!;
  }
}
