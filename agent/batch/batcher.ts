/**
 * Builds record batches per (topic, file) with the shared codec (shared/batch-codec.ts): one batch carries one
 * source, so its key (`host:path`) and labels are written once in its header. A batch is sealed when its records
 * reach `maxBytes` or `maxRecords`, when its first record is `maxWaitMs` old, or when its file is truncated or let go; sealing
 * gzips the records and hands the batch on with the byte range [start, end) of the file it covers.
 *
 * Ranges are contiguous per file: a batch starts where the file's previous line ended. `open`/`restart` set that
 * position (where reading starts; 0 after a truncation).
 */
import { BatchBuilder, type Compression } from '../../shared/batch-codec.ts';
import type { BytePosition, Fields, Labels, TimestampMs } from '../../shared/record.ts';
import { ProducerSequence } from '../ship/producer-sequence.ts';

/** The identity of one file as the batcher sees it. */
export interface BatchStream {
  readonly id: string;
  readonly topic: string;
  readonly key: string;
  readonly labels: Labels;
}

export interface SealedBatch {
  readonly stream: BatchStream;
  readonly start: BytePosition;
  readonly end: BytePosition;
  /** The encoded batch. */
  readonly body: Buffer;
  readonly lines: number;
  /** Sum of the line values' sizes (what the unacked-bytes bound counts). */
  readonly rawBytes: number;
}

export interface BatcherOptions {
  readonly maxBytes: number;
  /** Records per batch at most. */
  readonly maxRecords: number;
  readonly maxWaitMs: number;
  readonly compression: Compression;
  readonly onSealed: (batch: SealedBatch) => void;
  /** Stamps each sealed batch, in sealing order (default: a producer of its own). */
  readonly producer?: ProducerSequence;
  readonly now?: () => number;
}

interface OpenBatch {
  builder: BatchBuilder;
  start: BytePosition;
  end: BytePosition;
  rawBytes: number;
  openedAt: number;
}

interface StreamState {
  readonly stream: BatchStream;
  /** Record bytes of this stream's last batch: the next builder starts about that big (up to a cap). */
  lastRecordBytes: number;
  /** End of the last line added (where the next batch starts). */
  lastEnd: BytePosition;
  open: OpenBatch | undefined;
}

export class Batcher {
  private readonly options: BatcherOptions;
  private readonly now: () => number;
  private readonly streams = new Map<string, StreamState>();
  private timer: NodeJS.Timeout | undefined;
  private readonly producer: ProducerSequence;

  constructor(options: BatcherOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.producer = options.producer ?? new ProducerSequence();
  }

  /** Starts the timer that seals batches older than maxWaitMs. */
  start(): void {
    const every = Math.max(5, Math.min(100, Math.floor(this.options.maxWaitMs / 4)));
    this.timer = setInterval(() => this.sealIdle(), every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Starts a stream whose reading begins at `position`. */
  open(stream: BatchStream, position: BytePosition): void {
    this.streams.set(stream.id, { stream, lastEnd: position, open: undefined, lastRecordBytes: 0 });
  }

  /** The file was truncated: seal what was read before, and continue from `position`. */
  restart(id: string, position: BytePosition): void {
    const state = this.streams.get(id);
    if (!state) return;
    this.sealStream(state);
    state.lastEnd = position;
  }

  /** Seals what is pending and forgets the stream. */
  /** Seals the stream's open batch now (the stream stays open). */
  seal(id: string): void {
    const state = this.streams.get(id);
    if (state) this.sealStream(state);
  }

  close(id: string): void {
    const state = this.streams.get(id);
    if (!state) return;
    this.sealStream(state);
    this.streams.delete(id);
  }

  add(id: string, timestamp: TimestampMs, value: Buffer, end: BytePosition, fields?: Fields): void {
    const state = this.streams.get(id);
    if (!state) throw new Error(`batcher: unknown stream ${id}`);
    let open = state.open;
    if (open && open.builder.recordBytes + value.length > this.options.maxBytes) {
      this.sealStream(state);
      open = undefined;
    }
    if (!open) {
      open = {
        builder: new BatchBuilder(
          state.stream.key,
          state.stream.labels,
          initialCapacity(state.lastRecordBytes, this.options.maxBytes),
        ),
        start: state.lastEnd,
        end: state.lastEnd,
        rawBytes: 0,
        openedAt: this.now(),
      };
      state.open = open;
    }
    open.builder.add(timestamp, value, fields);
    open.end = end;
    open.rawBytes += value.length;
    state.lastEnd = end;
    if (open.builder.recordBytes >= this.options.maxBytes || open.builder.recordCount >= this.options.maxRecords) {
      this.sealStream(state);
    }
  }

  /** Seals every open batch (shutdown). */
  sealAll(): void {
    for (const state of this.streams.values()) this.sealStream(state);
  }

  private sealIdle(): void {
    const cutoff = this.now() - this.options.maxWaitMs;
    for (const state of this.streams.values()) {
      if (state.open && state.open.openedAt <= cutoff) this.sealStream(state);
    }
  }

  private sealStream(state: StreamState): void {
    const open = state.open;
    if (!open) return;
    state.open = undefined;
    state.lastRecordBytes = open.builder.recordBytes;
    this.options.onSealed({
      stream: state.stream,
      start: open.start,
      end: open.end,
      body: open.builder.finish(this.options.compression, this.producer.take()),
      lines: open.builder.recordCount,
      rawBytes: open.rawBytes,
    });
  }
}

function initialCapacity(lastRecordBytes: number, maxBytes: number): number {
  // Capped at 256 KiB: with many files, builders sized for full batches would hold far more memory than the
  // unacked-bytes bound accounts for; a busy file's builder still grows by doubling past it.
  return Math.min(Math.max(4096, Math.ceil(lastRecordBytes * 1.05) + 1024), maxBytes + 64 * 1024, 256 * 1024);
}
