/**
 * Sends sealed batches to the collector through a Transport, one request at a time per topic, retrying until each
 * request is acknowledged or rejected for good.
 *
 * Why one request in flight per topic: a file's batches must reach the collector in file order (ordering per source
 * is promised to consumers), and a retried request must not overtake a later one. Throughput does not suffer from
 * it, because a request carries every batch that is ready (up to `maxRequestBytes`, many files at once): while one
 * request is in flight the next one fills up.
 *
 * Every batch ends in exactly one call of `onSettled(batch, 'acked' | 'dropped')`, unless the shipper is closed
 * first; then its lines were never acknowledged, its file's checkpoint stays before them, and they are read again
 * after the restart.
 */
import type { SealedBatch } from '../batch/batcher.ts';
import { type BackoffOptions, backoffDelay } from '../../shared/backoff.ts';
import type { Transport } from './transport.ts';

export type Settlement = 'acked' | 'dropped';

export interface ShipperEvents {
  settled(batch: SealedBatch, how: Settlement): void;
  /** One request's outcome, with its duration. */
  sent(result: 'ok' | 'retried' | 'rejected', seconds: number, lines: number): void;
  /** A request failed and will be retried after `delayMs`. */
  retrying(topic: string, reason: string, attempt: number, delayMs: number): void;
  rejected(topic: string, reason: string, lines: number): void;
}

export interface ShipperOptions {
  readonly transport: Transport;
  readonly maxRequestBytes: number;
  /** Lines per request at most (the collector caps records per request). */
  readonly maxRequestLines: number;
  readonly backoff: BackoffOptions;
  readonly events: ShipperEvents;
}

interface TopicQueue {
  readonly topic: string;
  readonly batches: SealedBatch[];
  running: boolean;
}

export class Shipper {
  private readonly options: ShipperOptions;
  private readonly queues = new Map<string, TopicQueue>();
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private readonly sleeping = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();

  constructor(options: ShipperOptions) {
    this.options = options;
  }

  enqueue(batch: SealedBatch): void {
    if (this.closed) return;
    const topic = batch.stream.topic;
    let queue = this.queues.get(topic);
    if (!queue) {
      queue = { topic, batches: [], running: false };
      this.queues.set(topic, queue);
    }
    queue.batches.push(batch);
    if (!queue.running) {
      queue.running = true;
      // On a microtask: batches sealed in the same tick go out in one request.
      queueMicrotask(() => void this.run(queue));
    }
  }

  /** Batches not yet settled. */
  get pending(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.batches.length;
    return n;
  }

  /** Bytes of the batches not yet settled: how far behind delivery is (lines still unread in files not counted). */
  get pendingBytes(): number {
    let n = 0;
    for (const q of this.queues.values()) for (const b of q.batches) n += b.body.length;
    return n;
  }

  /** Resolves true once every queued batch is settled, or false at the deadline. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.pending === 0) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(this.pending === 0), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Stops sending: requests in flight finish, nothing new starts, retry waits end. */
  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.sleeping) {
      clearTimeout(s.timer);
      s.wake();
    }
    while ([...this.queues.values()].some((q) => q.running)) await new Promise((r) => setTimeout(r, 5));
    await this.options.transport.close();
  }

  private async run(queue: TopicQueue): Promise<void> {
    const { transport, events } = this.options;
    try {
      while (!this.closed && queue.batches.length > 0) {
        // Take every ready batch up to the request size and line count (at least one).
        let count = 0;
        let size = 0;
        let lines = 0;
        for (const b of queue.batches) {
          if (
            count > 0 &&
            (size + b.body.length > this.options.maxRequestBytes || lines + b.lines > this.options.maxRequestLines)
          )
            break;
          size += b.body.length;
          lines += b.lines;
          count++;
        }
        let attempt = 0;
        let settled: Settlement | undefined;
        while (!this.closed && settled === undefined) {
          const taken = queue.batches.slice(0, count);
          const body = count === 1 ? taken[0]!.body : Buffer.concat(taken.map((b) => b.body));
          lines = taken.reduce((n, b) => n + b.lines, 0);
          const started = performance.now();
          const outcome = await transport.send(queue.topic, body);
          const seconds = (performance.now() - started) / 1000;
          if (outcome.kind === 'ok') {
            events.sent('ok', seconds, lines);
            settled = 'acked';
          } else if (outcome.kind === 'reject' && outcome.tooLarge && count > 1) {
            // Too large for this collector's limits: send fewer batches per request (order is kept).
            events.sent('retried', seconds, lines);
            count = Math.ceil(count / 2);
          } else if (outcome.kind === 'reject') {
            events.sent('rejected', seconds, lines);
            events.rejected(queue.topic, outcome.reason, lines);
            settled = 'dropped';
          } else {
            events.sent('retried', seconds, lines);
            const delay = backoffDelay(attempt, this.options.backoff, outcome.retryAfterMs);
            events.retrying(queue.topic, outcome.reason, attempt, delay);
            attempt++;
            await this.sleep(delay);
          }
        }
        if (settled === undefined) return;
        for (const b of queue.batches.splice(0, count)) events.settled(b, settled);
      }
    } finally {
      queue.running = false;
      if (this.pending === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.sleeping.delete(entry);
          resolve();
        }, ms),
        wake: resolve,
      };
      this.sleeping.add(entry);
    });
  }
}
