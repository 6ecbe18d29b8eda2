/**
 * Between a syslog socket and the produce path: records accumulate while one append is in flight, and go as the
 * next append when it completes, so a busy connection batches by itself and an idle one adds no delay. They are
 * encoded into batches as they are added (BatchEncoder): what waits is batch bytes, not record objects.
 *
 * Bounded memory and backpressure: when the records waiting reach `maxPendingBytes`, `full` turns true and the
 * owner stops reading (a TCP socket pauses: the sender's kernel buffers, then the sender, wait; a UDP socket has no
 * way to wait, so its owner drops and counts). `onDrain` is called when there is room again.
 *
 * An append that fails (store full, unavailable) is retried with capped exponential backoff, in order, while the
 * owner stays paused: syslog has no negative acknowledgement, the bytes were already taken from the socket, so
 * they are held until they are durable or the receiver is closed (`close` gives up after its deadline and reports
 * what it could not store). Order: one append at a time, so records of one connection are stored in arrival order.
 */
import type { Fields, Labels, TimestampMs } from '../../shared/record.ts';
import { BatchEncoder, type PlainRecord, type ProducedBatch, type RecordLimits } from '../produce/record-batches.ts';

/** Appends batches; resolves once they are durable. One call holds at most limits.maxRecordsPerRequest records. */
export type Deliver = (batches: readonly ProducedBatch[]) => Promise<void>;

export interface IngestQueueOptions {
  readonly deliver: Deliver;
  /** The produce path's limits: a value above max_line_bytes is refused by `add`/`addRange`. */
  readonly limits: RecordLimits;
  readonly maxPendingBytes: number;
  readonly onDrain: () => void;
  /** A failed append (will be retried). */
  readonly onError: (error: unknown) => void;
  readonly onStored: (count: number) => void;
  readonly sleep?: (ms: number) => Promise<void>;
}

const RETRY_MIN_MS = 50;
/** Keys (programs) with a batch open at once: a relay's interleaved programs each fill their own batch. */
const MAX_OPEN_BATCHES = 64;
const RETRY_MAX_MS = 2000;

export class IngestQueue {
  private readonly pending: BatchEncoder;
  private pendingBytes = 0;
  private inFlight: Promise<void> | undefined;
  private closed = false;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: IngestQueueOptions) {
    this.pending = new BatchEncoder(
      options.limits,
      (i) => `message ${i}`,
      options.limits.maxRecordsPerRequest,
      MAX_OPEN_BATCHES,
    );
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** True when the owner should stop reading until onDrain. */
  get full(): boolean {
    return this.pendingBytes >= this.options.maxPendingBytes;
  }

  /** Bytes of record values waiting (not counting the append in flight). */
  get bytesWaiting(): number {
    return this.pendingBytes;
  }

  /** Queues a record; false (and nothing queued) for a value above limits.max_line_bytes. */
  add(record: PlainRecord): boolean {
    const { value } = record;
    return this.addRange(record.key, record.labels, record.timestamp, value, 0, value.length, record.fields);
  }

  /** The same for a record whose value is bytes start..end of `source` (no record object; see BatchEncoder). */
  addRange(
    key: string,
    labels: Labels,
    timestamp: TimestampMs,
    source: Uint8Array,
    start: number,
    end: number,
    fields?: Fields,
  ): boolean {
    if (end - start > this.options.limits.maxLineBytes) return false;
    this.pending.addRange(key, labels, timestamp, source, start, end, fields);
    this.pendingBytes += end - start + 64;
    return true;
  }

  /** Starts an append of what is waiting, unless one is in flight (its completion starts the next). */
  kick(): void {
    if (this.inFlight || this.pending.recordCount === 0) return;
    this.inFlight = this.run().finally(() => {
      this.inFlight = undefined;
    });
  }

  private async run(): Promise<void> {
    while (this.pending.recordCount > 0) {
      const wasFull = this.full;
      const deliveries = byRequest(this.pending.take(), this.options.limits.maxRecordsPerRequest);
      this.pendingBytes = 0;
      if (wasFull) this.options.onDrain();
      for (const batches of deliveries) {
        await this.deliverUntilStored(batches);
      }
    }
  }

  private async deliverUntilStored(batches: readonly ProducedBatch[]): Promise<void> {
    let delay = RETRY_MIN_MS;
    for (;;) {
      try {
        await this.options.deliver(batches);
        this.options.onStored(recordsIn(batches));
        return;
      } catch (error) {
        this.options.onError(error);
        if (this.closed) throw error;
        await this.sleep(delay);
        delay = Math.min(RETRY_MAX_MS, delay * 2);
      }
    }
  }

  /** Stores what is waiting and resolves when every record taken so far is durable. */
  async flush(): Promise<void> {
    this.kick();
    while (this.inFlight) await this.inFlight.catch(() => {});
  }

  /**
   * Stops retrying after the append in progress: used at shutdown once the deadline passed. Returns how many
   * records were never stored.
   */
  abandon(): number {
    this.closed = true;
    const lost = this.pending.recordCount;
    this.pending.take();
    this.pendingBytes = 0;
    return lost;
  }
}

function recordsIn(batches: readonly ProducedBatch[]): number {
  let n = 0;
  for (const b of batches) n += b.header.recordCount;
  return n;
}

/** Batches grouped into appends of at most `max` records each (each batch holds at most `max`: BatchEncoder). */
function byRequest(batches: readonly ProducedBatch[], max: number): ProducedBatch[][] {
  const out: ProducedBatch[][] = [];
  let group: ProducedBatch[] = [];
  let count = 0;
  for (const b of batches) {
    if (count + b.header.recordCount > max && group.length > 0) {
      out.push(group);
      group = [];
      count = 0;
    }
    group.push(b);
    count += b.header.recordCount;
  }
  if (group.length > 0) out.push(group);
  return out;
}
