/**
 * One assigned partition of a Consumer, read ahead of the iterator: a long-poll fetch loop that keeps at most
 * PREFETCH_CHUNKS fetched chunks (so a consumer's memory is bounded by partitions × chunks × maxBytes), and hands
 * out their records one at a time. The consumer (consumer.ts) owns the group membership, the positions and the
 * commits; a reader only knows where it fetches next.
 */
import { type BackoffOptions, backoffDelay, sleep } from '../backoff.ts';
import { forEachRecord, readBatchSource, splitBatches } from '../batch-codec.ts';
import { OffsetOutOfRangeError } from '../errors.ts';
import type { Offset, PartitionId, StoredRecord } from '../record.ts';
import type { CollectorClient } from './collector-client.ts';

export interface ConsumedRecord extends StoredRecord {
  readonly topic: string;
  readonly partition: PartitionId;
}

/** Chunks held per partition: one being handed out and one fetched ahead, so the next fetch overlaps the first. */
const PREFETCH_CHUNKS = 2;
/** Fetches (and the consumer's joins) that failed for a reason that may pass (unreachable, 503) are retried with this backoff. */
export const RETRY_BACKOFF: BackoffOptions = { initialMs: 200, maxMs: 5_000 };

export interface PartitionReaderOptions {
  readonly client: CollectorClient;
  readonly maxBytes: number;
  readonly maxWaitMs: number;
  /** A chunk arrived: wake the iterator if it waits. */
  readonly fetched: () => void;
  /** The reader jumped to `position` (retention deleted what it was to read, or the topic was recreated). */
  readonly skipped: (position: Offset) => void;
  readonly onError?: ((error: Error) => void) | undefined;
}

export class PartitionReader {
  /** The next offset to fetch. */
  private fetchPosition: Offset;
  /** Fetched chunks not yet handed out, oldest first; the first one from index `next` on. */
  private readonly chunks: ConsumedRecord[][] = [];
  private next = 0;
  /** Resolves the fetch loop's wait for the iterator to finish a chunk. */
  private drained: (() => void) | undefined;

  constructor(
    readonly topic: string,
    readonly partition: PartitionId,
    start: Offset,
    private readonly options: PartitionReaderOptions,
  ) {
    this.fetchPosition = start;
  }

  /** Fetches until `signal` aborts. */
  start(signal: AbortSignal): void {
    void this.fetchLoop(signal);
  }

  /** Lets a fetch loop that waits for room see its abort. */
  release(): void {
    this.drained?.();
  }

  /** The next buffered record, or undefined when none is. */
  take(): ConsumedRecord | undefined {
    const chunk = this.chunks[0];
    if (chunk === undefined) return undefined;
    const record = chunk[this.next++]!;
    if (this.next >= chunk.length) {
      this.chunks.shift();
      this.next = 0;
      this.drained?.();
      this.drained = undefined;
    }
    return record;
  }

  private async fetchLoop(signal: AbortSignal): Promise<void> {
    const { client, onError } = this.options;
    let failures = 0;
    while (!signal.aborted) {
      if (this.chunks.length >= PREFETCH_CHUNKS) {
        await new Promise<void>((resolve) => {
          this.drained = resolve;
        });
        continue;
      }
      try {
        const got = await client.fetchBatches(this.topic, this.partition, this.fetchPosition, {
          maxBytes: this.options.maxBytes,
          waitMs: this.options.maxWaitMs,
          signal,
        });
        if (signal.aborted) return;
        const records = this.recordsFrom(got.batches);
        this.fetchPosition = Math.max(this.fetchPosition, got.nextOffset);
        failures = 0;
        if (records.length > 0) {
          this.chunks.push(records);
          this.options.fetched();
        }
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof OffsetOutOfRangeError) {
          // Retention deleted what we were to read next: continue at the oldest record held. Past the end (the
          // topic was recreated): continue at its end.
          onError?.(error);
          this.fetchPosition = this.fetchPosition < error.startOffset ? error.startOffset : error.endOffset;
          this.options.skipped(this.fetchPosition);
          continue;
        }
        onError?.(error as Error);
        await sleep(backoffDelay(failures++, RETRY_BACKOFF), signal);
      }
    }
  }

  /**
   * The records of fetched batches at or after the fetch position, as the objects handed out. Values are views
   * into the fetched buffer (no copy per record); the buffer lives as long as one of its records is referenced.
   */
  private recordsFrom(batches: Buffer): ConsumedRecord[] {
    const out: ConsumedRecord[] = [];
    const { topic, partition, fetchPosition } = this;
    for (const { header, bytes } of splitBatches(batches)) {
      if (header.lastOffset < fetchPosition) continue;
      const source = readBatchSource(bytes);
      forEachRecord(
        bytes,
        (r) => {
          if (r.offset < fetchPosition) return true;
          out.push({
            topic,
            partition,
            offset: r.offset,
            timestamp: r.timestamp,
            key: source.key,
            labels: source.labels,
            value: r.value,
            ...(r.fields ? { fields: r.fields } : {}),
          });
          return true;
        },
        header,
        source,
      );
    }
    return out;
  }
}
