/**
 * Between a syslog socket and the produce path: records accumulate while one append is in flight, and go as the
 * next append when it completes, so a busy connection batches by itself and an idle one adds no delay.
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
import type { PlainRecord } from '../produce/record-batches.ts';

export type Deliver = (records: readonly PlainRecord[]) => Promise<void>;

export interface IngestQueueOptions {
  readonly deliver: Deliver;
  readonly maxPendingBytes: number;
  readonly onDrain: () => void;
  /** A failed append (will be retried). */
  readonly onError: (error: unknown) => void;
  readonly onStored: (count: number) => void;
  readonly sleep?: (ms: number) => Promise<void>;
}

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2000;

export class IngestQueue {
  private pending: PlainRecord[] = [];
  private pendingBytes = 0;
  private inFlight: Promise<void> | undefined;
  private closed = false;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: IngestQueueOptions) {
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

  add(record: PlainRecord): void {
    this.pending.push(record);
    this.pendingBytes += record.value.length + 64;
  }

  /** Starts an append of what is waiting, unless one is in flight (its completion starts the next). */
  kick(): void {
    if (this.inFlight || this.pending.length === 0) return;
    this.inFlight = this.run().finally(() => {
      this.inFlight = undefined;
    });
  }

  private async run(): Promise<void> {
    while (this.pending.length > 0) {
      const records = this.pending;
      const wasFull = this.full;
      this.pending = [];
      this.pendingBytes = 0;
      if (wasFull) this.options.onDrain();
      let delay = RETRY_MIN_MS;
      for (;;) {
        try {
          await this.options.deliver(records);
          this.options.onStored(records.length);
          break;
        } catch (error) {
          this.options.onError(error);
          if (this.closed) throw error;
          await this.sleep(delay);
          delay = Math.min(RETRY_MAX_MS, delay * 2);
        }
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
    const lost = this.pending.length;
    this.pending = [];
    this.pendingBytes = 0;
    return lost;
  }
}
