/**
 * One partition: an ordered list of segments, the last one active. Appends are serialized through one queue and
 * committed in groups: every append waiting when the previous group finishes joins the next one, which stamps
 * offsets, writes once per segment and, with flush=always, fsyncs once for all of them. Each append's promise
 * resolves when the fsync that covers it completes (flush=always) or when its bytes are written (flush=interval,
 * whose timer and byte threshold fsync later).
 *
 * Visibility: readers see up to `endOffset`, which moves only after a group is durable under the policy. A group
 * that fails (ENOSPC, EIO) is cut back from the file before anyone could read it, and every append in it rejects.
 */
import { EventEmitter } from 'node:events';
import { type BatchHeader, stampBaseOffset, type ValidatedBatch } from '../../../shared/batch-codec.ts';
import {
  CorruptBatchError,
  InvalidArgumentError,
  OffsetOutOfRangeError,
  StorageFullError,
  UnavailableError,
} from '../../../shared/errors.ts';
import type { Offset, PartitionId, TimestampMs } from '../../../shared/record.ts';
import type { AppendResult, PartitionInfo, ReadResult, StorageEvents, TopicConfig } from '../log-store.ts';
import { ProducerState, type StoredDuplicate } from '../producer-state.ts';
import { Segment } from './segment.ts';

interface PendingAppend {
  readonly batches: readonly ValidatedBatch[];
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

export interface PartitionLogOptions {
  readonly topic: string;
  readonly partition: PartitionId;
  readonly dir: string;
  readonly config: TopicConfig;
  /** Segments in base-offset order, the last one active and recovered. */
  readonly segments: Segment[];
  /** The producers seen in the tail of the log (log-loader.ts rebuilds it on open). */
  readonly producers: ProducerState;
  readonly events: StorageEvents;
  readonly now: () => TimestampMs;
}

export class PartitionLog {
  readonly topic: string;
  readonly partition: PartitionId;
  private readonly dir: string;
  config: TopicConfig;
  private readonly segments: Segment[];
  private readonly events: StorageEvents;
  private readonly now: () => TimestampMs;
  private pending: PendingAppend[] = [];
  private writing: Promise<void> | undefined;
  /** Offsets below this are visible to readers. */
  private visibleEnd: Offset;
  /** Bytes of the active segment visible to readers. */
  private visibleSize: number;
  private unflushedBytes = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private backgroundSync: Promise<void> | undefined;
  private readonly appended = new EventEmitter();
  private closed = false;
  private readonly producers: ProducerState;

  constructor(options: PartitionLogOptions) {
    this.topic = options.topic;
    this.partition = options.partition;
    this.dir = options.dir;
    this.config = options.config;
    this.segments = options.segments;
    this.producers = options.producers;
    this.events = options.events;
    this.now = options.now;
    this.visibleEnd = this.active.nextOffset;
    this.visibleSize = this.active.size;
    this.appended.setMaxListeners(0);
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  get startOffset(): Offset {
    return this.segments[0]!.baseOffset;
  }

  get endOffset(): Offset {
    return this.visibleEnd;
  }

  info(): PartitionInfo {
    return {
      partition: this.partition,
      startOffset: this.startOffset,
      endOffset: this.endOffset,
      sizeBytes: this.segments.reduce((sum, s) => sum + s.size, 0),
      segmentCount: this.segments.length,
    };
  }

  /** Queues batches the caller validated (LogStore.append); see the module comment for when the promise resolves. */
  append(batches: readonly ValidatedBatch[]): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new UnavailableError(`partition ${this.topic}/${this.partition} is closed`));
    if (batches.length === 0) return Promise.reject(new InvalidArgumentError('an append needs at least one batch'));
    const size = batches.reduce((sum, b) => sum + b.bytes.length, 0);
    if (size > 2 ** 31) return Promise.reject(new InvalidArgumentError(`an append of ${size} bytes is too large`));
    return new Promise<AppendResult>((resolve, reject) => {
      this.pending.push({ batches, resolve, reject });
      this.writing ??= this.drain();
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const group = this.pending;
      this.pending = [];
      await this.commitGroup(group);
    }
    this.writing = undefined;
  }

  private shouldRoll(incomingBytes: number): boolean {
    const active = this.active;
    if (active.size === 0) return false;
    return (
      active.size + incomingBytes > this.config.segmentBytes || this.now() - active.createdAtMs >= this.config.segmentMs
    );
  }

  private async roll(): Promise<void> {
    const old = this.active;
    // The closed segment is made durable with its index files before the new one exists, so recovery only ever
    // has to validate the last segment.
    await old.sync();
    await old.saveIndexes();
    this.segments.push(await Segment.create(this.dir, old.nextOffset, this.now()));
    this.visibleSize = 0;
    this.events.segmentRolled?.(this.topic, this.partition);
  }

  private async commitGroup(group: PendingAppend[]): Promise<void> {
    const marks = new Map<Segment, ReturnType<Segment['mark']>>();
    const results: AppendResult[] = [];
    /** Per request: the batches written (duplicates left out) and their stamped headers. */
    const written: { batches: ValidatedBatch[]; headers: BatchHeader[] }[] = [];
    const touched: Segment[] = [];
    const visibleBefore = { end: this.visibleEnd, size: this.visibleSize, segments: this.segments.length };
    // Batches of earlier requests in this group, for a resend that arrives while its first copy is still queued.
    const inGroup = new ProducerState();
    try {
      for (const request of group) {
        const { fresh, duplicates } = this.withoutDuplicates(request.batches, inGroup);
        const headers: BatchHeader[] = [];
        written.push({ batches: fresh, headers });
        if (fresh.length > 0) {
          const bytes = fresh.reduce((sum, b) => sum + b.bytes.length, 0);
          if (this.shouldRoll(bytes)) await this.roll();
          const segment = this.active;
          if (segment.size === 0) segment.createdAtMs = this.now();
          if (!marks.has(segment)) {
            marks.set(segment, segment.mark());
            touched.push(segment);
          }
          let next = segment.nextOffset;
          for (const batch of fresh) {
            stampBaseOffset(batch.bytes, 0, next);
            const header = { ...batch.header, baseOffset: next, lastOffset: next + batch.header.recordCount - 1 };
            headers.push(header);
            inGroup.stored(header);
            next = header.lastOffset + 1;
          }
          await segment.append(
            fresh.length === 1 ? fresh[0]!.bytes : Buffer.concat(fresh.map((b) => b.bytes)),
            headers,
          );
          this.unflushedBytes += bytes;
        }
        results.push(appendResult(headers, duplicates, this.active.nextOffset));
      }
      const flush = this.config.flush;
      if (flush.mode === 'always') {
        await this.syncSegments(touched);
      } else if (this.unflushedBytes >= flush.intervalBytes) {
        this.syncInBackground(touched);
      } else {
        this.scheduleFlush(flush.intervalMs);
      }
    } catch (error) {
      for (const [segment, mark] of marks) await segment.rollback(mark).catch(() => {});
      // Drop segments rolled in this group that ended up empty, so the log looks as it did.
      while (this.segments.length > visibleBefore.segments && this.active.size === 0) {
        await this.segments
          .pop()!
          .delete()
          .catch(() => {});
      }
      this.visibleEnd = visibleBefore.end;
      this.visibleSize = this.active.size;
      const failure = classifyWriteError(error, this.topic, this.partition);
      for (const request of group) request.reject(failure);
      return;
    }
    this.visibleEnd = this.active.nextOffset;
    this.visibleSize = this.active.size;
    group.forEach((request, i) => {
      const result = results[i]!;
      const { batches, headers } = written[i]!;
      for (const header of headers) this.producers.stored(header);
      request.resolve(result);
      if (result.duplicateBatches) this.events.duplicatesSkipped?.(this.topic, this.partition, result.duplicateBatches);
      if (headers.length === 0) return;
      this.events.appended?.({
        topic: this.topic,
        partition: this.partition,
        baseOffset: headers[0]!.baseOffset,
        lastOffset: headers[headers.length - 1]!.lastOffset,
        recordCount: headers[headers.length - 1]!.lastOffset - headers[0]!.baseOffset + 1,
        bytes: batches.reduce((sum, b) => sum + b.bytes.length, 0),
        batches: batches.map((b) => b.bytes),
      });
    });
    this.appended.emit('end', this.visibleEnd);
  }

  /**
   * Splits a request's batches into those to write and those this partition already holds (ProducerState: a
   * producer's resend after a lost answer), checking both what is durable and what this group wrote before.
   */
  private withoutDuplicates(
    batches: readonly ValidatedBatch[],
    inGroup: ProducerState,
  ): { fresh: ValidatedBatch[]; duplicates: StoredDuplicate[] } {
    const fresh: ValidatedBatch[] = [];
    const duplicates: StoredDuplicate[] = [];
    for (const batch of batches) {
      const duplicate = this.producers.duplicateOf(batch.header) ?? inGroup.duplicateOf(batch.header);
      if (duplicate) duplicates.push(duplicate);
      else fresh.push(batch);
    }
    return { fresh, duplicates };
  }

  private async syncSegments(segments: readonly Segment[]): Promise<void> {
    const started = process.hrtime.bigint();
    await Promise.all(segments.map((s) => s.sync()));
    this.unflushedBytes = 0;
    this.events.fsynced?.(Number(process.hrtime.bigint() - started) / 1e9);
  }

  /**
   * flush=interval's byte threshold: the fsync runs beside the next writes instead of holding the queue, since
   * appends under this policy resolve once written anyway.
   */
  private syncInBackground(segments: readonly Segment[]): void {
    if (this.backgroundSync) return;
    this.unflushedBytes = 0;
    this.backgroundSync = this.syncSegments(segments)
      .catch(() => {})
      .finally(() => {
        this.backgroundSync = undefined;
      });
  }

  private scheduleFlush(intervalMs: number): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush().catch(() => {});
    }, intervalMs);
    this.flushTimer.unref();
  }

  /** Makes everything written so far durable (flush=interval's timer, and close). */
  async flush(): Promise<void> {
    await this.writing;
    await this.backgroundSync;
    if (this.unflushedBytes > 0) await this.syncSegments([this.active]);
  }

  private segmentFor(offset: Offset): Segment | undefined {
    let lo = 0;
    let hi = this.segments.length - 1;
    let found: Segment | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const segment = this.segments[mid]!;
      if (segment.baseOffset <= offset) {
        found = segment;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  private limitOf(segment: Segment): number {
    return segment === this.active ? this.visibleSize : segment.size;
  }

  async read(offset: Offset, maxBytes: number, readInto?: (size: number) => Buffer): Promise<ReadResult> {
    const startOffset = this.startOffset;
    const endOffset = this.visibleEnd;
    if (!Number.isSafeInteger(offset) || offset < startOffset || offset > endOffset) {
      throw new OffsetOutOfRangeError(offset, startOffset, endOffset);
    }
    let batches: Buffer = Buffer.alloc(0);
    for (let at = offset; at < endOffset && batches.length === 0; ) {
      const segment = this.segmentFor(at);
      if (!segment) break;
      try {
        batches = await segment.read(at, maxBytes, this.limitOf(segment), readInto);
      } catch (error) {
        this.events.corruptionDetected?.(this.topic, this.partition, (error as Error).message);
        throw error;
      }
      // An empty read means `at` was past this segment's last batch: continue in the next segment.
      if (batches.length === 0) at = segment.nextOffset;
    }
    let nextOffset = offset;
    if (batches.length > 0) {
      // The last batch's last offset + 1, read from its header.
      let pos = 0;
      while (pos < batches.length) {
        const length = batches.readInt32BE(pos + 8) + 12;
        nextOffset = Number(batches.readBigInt64BE(pos)) + batches.readInt32BE(pos + 19);
        pos += length;
      }
    }
    return { batches, nextOffset, startOffset, endOffset };
  }

  async offsetForTimestamp(timestamp: TimestampMs): Promise<Offset> {
    for (const segment of [...this.segments]) {
      const found = await segment.offsetForTimestamp(timestamp, this.limitOf(segment));
      if (found !== undefined) return Math.max(found, this.startOffset);
    }
    return this.visibleEnd;
  }

  waitForAppend(offset: Offset, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.visibleEnd > offset) return Promise.resolve(true);
    if (timeoutMs <= 0 || signal?.aborted || this.closed) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const finish = (value: boolean): void => {
        clearTimeout(timer);
        this.appended.off('end', onEnd);
        this.appended.off('close', onClose);
        signal?.removeEventListener('abort', onAbort);
        resolve(value);
      };
      const onEnd = (end: Offset): void => {
        if (end > offset) finish(true);
      };
      const onClose = (): void => finish(false);
      const onAbort = (): void => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.appended.on('end', onEnd);
      this.appended.on('close', onClose);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Deletes closed segments past the retention limits; the log start offset moves to the first kept segment. */
  async enforceRetention(): Promise<{ segments: number; bytes: number }> {
    await this.writing;
    const now = this.now();
    const { retentionMs, retentionBytes } = this.config;
    let total = this.segments.reduce((sum, s) => sum + s.size, 0);
    const deleted = { segments: 0, bytes: 0 };
    while (this.segments.length > 1) {
      const oldest = this.segments[0]!;
      let reason: 'time' | 'size' | undefined;
      if (retentionMs !== null && oldest.maxTimestamp >= 0 && oldest.maxTimestamp < now - retentionMs) reason = 'time';
      else if (retentionBytes !== null && total - oldest.size >= retentionBytes) reason = 'size';
      if (!reason) break;
      this.segments.shift();
      total -= oldest.size;
      await oldest.delete();
      deleted.segments++;
      deleted.bytes += oldest.size;
      this.events.segmentsDeleted?.(this.topic, this.partition, 1, oldest.size, reason);
    }
    return deleted;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.appended.emit('close');
    await this.active.saveIndexes();
    await Promise.all(this.segments.map((s) => s.close()));
  }

  /** Closes and removes every segment (topic deletion). */
  async destroy(): Promise<void> {
    await this.writing;
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.appended.emit('close');
    await Promise.all(this.segments.map((s) => s.delete()));
  }
}

/**
 * The answer to one append: the offsets of its batches, those written now and those found stored before (where
 * still known). An append of nothing but forgotten duplicates answers an empty range at the end of the log.
 */
function appendResult(
  written: readonly BatchHeader[],
  duplicates: readonly StoredDuplicate[],
  endOffset: Offset,
): AppendResult {
  let baseOffset = Number.POSITIVE_INFINITY;
  let lastOffset = -1;
  let recordCount = 0;
  const add = (base: Offset, last: Offset): void => {
    baseOffset = Math.min(baseOffset, base);
    lastOffset = Math.max(lastOffset, last);
    recordCount += last - base + 1;
  };
  for (const h of written) add(h.baseOffset, h.lastOffset);
  for (const d of duplicates)
    if (d.baseOffset !== undefined && d.lastOffset !== undefined) add(d.baseOffset, d.lastOffset);
  const result =
    recordCount === 0
      ? { baseOffset: endOffset, lastOffset: endOffset - 1, recordCount: 0 }
      : { baseOffset, lastOffset, recordCount };
  return duplicates.length > 0 ? { ...result, duplicateBatches: duplicates.length } : result;
}

/** The file system is full, or this user's quota on it is (the errors StorageFullError stands for). */
export function isDiskFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

function classifyWriteError(error: unknown, topic: string, partition: PartitionId): Error {
  if (error instanceof CorruptBatchError || error instanceof InvalidArgumentError) return error;
  if (isDiskFull(error)) {
    return new StorageFullError(
      `no space left to append to ${topic}/${partition}: nothing of this request was stored; free disk space ` +
        'or lower retention, then retry',
      { cause: error },
    );
  }
  return new UnavailableError(`cannot write to ${topic}/${partition}: ${(error as Error).message}`, { cause: error });
}
