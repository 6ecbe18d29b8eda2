/**
 * A syslog listener on its own worker thread (listener-worker.ts): sockets, framing, parsing and batch encoding
 * there; the appends here, through the one produce path, on the main thread that owns the store.
 *
 * Why a thread: on one JavaScript thread the receiver's per-message work (framing, parsing, records, encoding and
 * the garbage they make) and the store's appends take turns, and the collector ran at 0.67-0.89× rsyslog's imtcp,
 * which spreads the same work over its input and queue threads (docs/benchmarks.md). The guarantees do not change:
 * the worker's queue waits for this side's answer that a delivery is durable, so TCP flow control is still the
 * acknowledgement (receiver.ts).
 *
 * Messages between the two threads (structured clone; batch bytes are transferred, not copied) are the types below.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { readBatchHeader } from '../../shared/batch-codec.ts';
import type { Logger, LogLevel } from '../../shared/logger.ts';
import type { ProducedBatch, RecordLimits } from '../produce/record-batches.ts';
import type { ReceiverErrorKind, ReceiverEvents } from '../receivers/receiver-events.ts';
import type { SyslogListenerOptions } from './receiver.ts';

/** What the worker starts with (workerData). */
export interface WorkerStart {
  readonly listener: SyslogListenerOptions;
  readonly limits: RecordLimits;
  readonly logLevel: LogLevel;
}

/** Receiver events added up in the worker since its last report. */
export interface EventCounts {
  received: number;
  bytes: number;
  stored: number;
  opened: number;
  closed: number;
  errors: Partial<Record<ReceiverErrorKind, number>>;
}

export type ToListener =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'deliver'; readonly id: number; readonly batches: { bytes: Uint8Array; key: string }[] }
  | { readonly type: 'events'; readonly counts: EventCounts }
  | { readonly type: 'log'; readonly line: string }
  | { readonly type: 'closed' };

export type ToWorker =
  | { readonly type: 'delivered'; readonly id: number; readonly error?: string }
  | { readonly type: 'close'; readonly deadlineMs: number };

export interface ListenerThreadOptions {
  readonly listener: SyslogListenerOptions;
  readonly limits: RecordLimits;
  /** Appends one delivery's batches; resolves when they are durable. */
  readonly append: (batches: readonly ProducedBatch[]) => Promise<unknown>;
  readonly events: ReceiverEvents;
  readonly logger: Logger;
}

// The worker's file next to this one: listener-worker.ts under tsx (tests), listener-worker.js from dist/.
const here = fileURLToPath(import.meta.url);
const WORKER_FILE = path.join(path.dirname(here), `listener-worker${path.extname(here)}`);

/** After close's deadline, this long for the worker to report before it is terminated. */
const CLOSE_GRACE_MS = 2000;

export class SyslogListenerThread {
  private readonly worker: Worker;
  private boundPort = 0;
  private closedReport: (() => void) | undefined;

  private constructor(private readonly options: ListenerThreadOptions) {
    const start: WorkerStart = {
      listener: options.listener,
      limits: { maxRecordsPerRequest: options.limits.maxRecordsPerRequest, maxLineBytes: options.limits.maxLineBytes },
      logLevel: options.logger.level as LogLevel,
    };
    this.worker = new Worker(WORKER_FILE, { workerData: start });
  }

  /** Starts the worker; resolves once it listens (its real port when 0 was configured), rejects if it cannot. */
  static async start(options: ListenerThreadOptions): Promise<SyslogListenerThread> {
    const thread = new SyslogListenerThread(options);
    await thread.listening();
    return thread;
  }

  get port(): number {
    return this.boundPort;
  }

  get protocol(): SyslogListenerOptions['protocol'] {
    return this.options.listener.protocol;
  }

  private listening(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.worker.on('message', (message: ToListener) => {
        switch (message.type) {
          case 'listening':
            this.boundPort = message.port;
            resolve();
            break;
          case 'failed':
            void this.worker.terminate();
            reject(new Error(message.message));
            break;
          case 'deliver':
            this.deliver(message.id, message.batches);
            break;
          case 'events':
            this.report(message.counts);
            break;
          case 'log':
            this.relog(message.line);
            break;
          case 'closed':
            this.closedReport?.();
            break;
        }
      });
      this.worker.on('error', (error) => {
        // A bug in the worker: the listener is gone; say so loudly (the collector keeps serving everything else).
        this.options.logger.error(
          { err: error, protocol: this.protocol, port: this.boundPort },
          'syslog listener thread failed',
        );
        reject(error);
      });
    });
  }

  private deliver(id: number, batches: readonly { bytes: Uint8Array; key: string }[]): void {
    const produced = batches.map(({ bytes, key }): ProducedBatch => {
      const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return { header: readBatchHeader(buffer, 0), bytes: buffer, key };
    });
    // The batches' memory stays here once appended: the store's listeners (live forwarding on NATS) may still hold
    // views of it, so it is not handed back to the worker.
    this.options.append(produced).then(
      () => this.answer({ type: 'delivered', id }),
      (error: Error) => this.answer({ type: 'delivered', id, error: error.message }),
    );
  }

  private answer(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  private report(counts: EventCounts): void {
    const { events } = this.options;
    for (let i = 0; i < counts.opened; i++) events.connectionOpened();
    if (counts.received > 0) events.received(counts.received, counts.bytes);
    if (counts.stored > 0) events.stored(counts.stored);
    for (const [kind, n] of Object.entries(counts.errors)) events.error(kind as ReceiverErrorKind, n);
    for (let i = 0; i < counts.closed; i++) events.connectionClosed();
  }

  private relog(line: string): void {
    const {
      level,
      msg,
      time: _time,
      pid: _pid,
      hostname: _hostname,
      name: _name,
      ...fields
    } = JSON.parse(line) as {
      level: LogLevel;
      msg?: string;
      [field: string]: unknown;
    };
    const log = this.options.logger;
    const child = { ...fields, receiver: 'syslog' };
    if (level === 'error' || level === 'fatal') log.error(child, msg);
    else if (level === 'warn') log.warn(child, msg);
    else if (level === 'info') log.info(child, msg);
    else log.debug(child, msg);
  }

  /**
   * Stops listening and stores what the worker read (receiver.ts close, with the same deadline), then ends the
   * thread. A worker that does not report within the deadline and a grace period is terminated.
   */
  async close(deadlineMs: number): Promise<void> {
    const reported = new Promise<void>((resolve) => {
      this.closedReport = resolve;
    });
    this.answer({ type: 'close', deadlineMs });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      reported,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, deadlineMs + CLOSE_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    await this.worker.terminate();
  }
}
