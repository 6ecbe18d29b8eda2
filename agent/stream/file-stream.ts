/**
 * One file being read, from its lines to its checkpoint position (Vector's file source: one pipeline stage per
 * file). A line from the file server goes through the container framing (source `format`), multiline assembly and
 * the parser here, and into the batcher under this stream's id; a sealed batch's byte range is tracked here, and
 * its settlement moves this stream's AckTracker, whose position the agent writes as the file's checkpoint.
 *
 * copytruncate: `truncated()` starts a new generation at byte 0 and hands the ranges still in flight to the copy,
 * whose stream `start()`s by inheriting them (so a crash before they are acknowledged reads them again from the
 * copy); settling such a range moves the copy's position (`settle` returns the stream whose position moved).
 */
import type { BytePosition, Fields } from '../../shared/record.ts';
import type { UnackedBytes } from '../backpressure.ts';
import type { Batcher, BatchStream, SealedBatch } from '../batch/batcher.ts';
import { AckTracker, type TrackedRange } from '../checkpoint/ack-tracker.ts';
import type { SourceOptions } from '../config.ts';
import { ContainerLogDecoder, kubeletPathLabels, type LineMeta, LineMetaQueue } from '../frame/container-log.ts';
import { TimedMultiline } from '../frame/multiline.ts';
import { type LineParser, makeParser } from '../frame/parse.ts';
import type { AgentMetrics } from '../metrics.ts';
import type { FileReader } from '../read/file-reader.ts';

/** What a stream hands its lines to, and reports into. */
export interface StreamContext {
  /** The `host` of the keys (`host:path`). */
  readonly host: string;
  readonly batcher: Pick<Batcher, 'open' | 'add' | 'restart' | 'close'>;
  readonly budget: Pick<UnackedBytes, 'add'>;
  readonly metrics: Pick<AgentMetrics, 'truncatedLine' | 'parseFailure'>;
  /** A line went to the batcher (the read metric counts them per chunk). */
  readonly lineEmitted: () => void;
}

/** What a truncated file leaves to its copy: its acknowledged position and its ranges still in flight. */
export interface Handoff {
  readonly stream: FileStream;
  readonly generation: number;
  readonly acked: BytePosition;
  readonly ranges: ReturnType<AckTracker['outstandingRanges']>;
}

let streamCounter = 0;

export class FileStream implements BatchStream {
  readonly id: string;
  readonly topic: string;
  readonly key: string;
  readonly labels: Readonly<Record<string, string>>;
  tracker: AckTracker;
  /** Let go by the file server; kept until its last batch is settled. */
  closed = false;
  private readonly multiline: TimedMultiline | undefined;
  private readonly parse: LineParser;
  /** Container runtime framing (source `format`), and the runtime's time/stream of lines held by multiline. */
  private readonly container: ContainerLogDecoder | undefined;
  private readonly containerMeta = new LineMetaQueue();
  /** The byte range of each sealed batch not yet settled. */
  private readonly ranges = new Map<SealedBatch, TrackedRange>();
  /**
   * Ranges of an older generation (before a copytruncate) passed on to the copy that now holds their bytes: their
   * settlements move the copy's checkpoint. By generation, then by the range's seq.
   */
  private readonly heirs = new Map<
    number,
    { readonly stream: FileStream; readonly ranges: Map<number, TrackedRange> }
  >();

  constructor(
    readonly reader: FileReader,
    readonly source: SourceOptions,
    private readonly context: StreamContext,
  ) {
    this.id = `${reader.key}#${++streamCounter}`;
    this.topic = source.topic;
    this.key = `${context.host}:${reader.openedPath}`;
    this.labels = Object.freeze({
      ...source.labels,
      ...(source.format === 'none' ? {} : kubeletPathLabels(reader.openedPath)),
      path: reader.openedPath,
    });
    this.tracker = new AckTracker(reader.position);
    this.multiline = source.multiline
      ? new TimedMultiline({
          startPattern: source.multiline.startPattern,
          maxEventBytes: source.multiline.maxBytes,
          timeoutMs: source.multiline.timeoutMs,
          emit: (event) => this.emit(event.value, event.end, this.containerMeta.take(event.end)),
        })
      : undefined;
    this.parse = makeParser({ kind: source.parser, timestampField: source.timestampField });
    this.container = source.format === 'none' ? undefined : new ContainerLogDecoder(source.format, source.maxLineBytes);
  }

  /** Opens this file's batches; a copy whose original left ranges in flight at its position takes them over. */
  start(handoff: Handoff | undefined): void {
    this.context.batcher.open(this, this.reader.position);
    if (handoff && (handoff.ranges.at(-1)?.end ?? handoff.acked) === this.reader.position) {
      this.tracker = new AckTracker(handoff.acked);
      const ranges = this.tracker.inherit(handoff.ranges);
      handoff.stream.heirs.set(handoff.generation, { stream: this, ranges });
    }
  }

  /** One line as the reader split it (`end`: the byte after it). */
  line(value: Buffer, end: BytePosition, truncated: boolean): void {
    if (truncated) this.context.metrics.truncatedLine();
    if (!this.container) {
      if (this.multiline) this.multiline.line(value, end, truncated);
      else this.emit(value, end);
      return;
    }
    for (const line of this.container.line(value, end, truncated)) {
      if (line.malformed) this.context.metrics.parseFailure();
      const meta = { timestamp: line.timestamp, stream: line.stream };
      if (this.multiline) {
        this.containerMeta.push(line.end, meta);
        this.multiline.line(line.value, line.end, line.truncated);
      } else {
        this.emit(line.value, line.end, meta);
      }
    }
  }

  private emit(value: Buffer, end: BytePosition, meta?: LineMeta): void {
    let timestamp = meta?.timestamp ?? Date.now();
    let fields: Fields | undefined = meta?.stream ? { stream: meta.stream } : undefined;
    if (this.source.parser !== 'none') {
      const parsed = this.parse(value);
      if (!parsed.ok) this.context.metrics.parseFailure();
      if (parsed.fields) fields = fields ? { ...parsed.fields, ...fields } : parsed.fields;
      if (parsed.timestamp !== undefined) timestamp = parsed.timestamp;
    }
    this.context.budget.add(value.length);
    this.context.lineEmitted();
    this.context.batcher.add(this.id, timestamp, value, end, fields);
  }

  /** Hands out a multiline event held back (shutdown, truncation, let go). */
  flushHeld(): void {
    this.multiline?.flush();
  }

  /** Stops the multiline timer (shutdown). */
  stopTimers(): void {
    this.multiline?.close();
  }

  /** A sealed batch of this file: its range is tracked until it settles. */
  sealed(batch: SealedBatch): void {
    this.ranges.set(batch, this.tracker.register(batch.start, batch.end));
  }

  /**
   * A batch of this file was acknowledged (or dropped for good): returns the stream whose position moved — this
   * one, or the copy that took the range over after a truncation — or undefined when none did.
   */
  settle(batch: SealedBatch): FileStream | undefined {
    const range = this.ranges.get(batch);
    if (!range) return undefined;
    this.ranges.delete(batch);
    let owner: FileStream = this;
    let owned: TrackedRange | undefined = range;
    if (range.generation !== this.tracker.generation) {
      // Truncated since: the copy that took the range over (if any) moves its checkpoint.
      const heir = this.heirs.get(range.generation);
      owned = heir?.ranges.get(range.seq);
      if (!heir || !owned) return undefined;
      heir.ranges.delete(range.seq);
      if (heir.ranges.size === 0) this.heirs.delete(range.generation);
      owner = heir.stream;
    }
    return owner.tracker.settle(owned) ? owner : undefined;
  }

  /** The file was truncated: what was read before goes out, reading restarts at 0, the copy gets the rest. */
  truncated(): Handoff {
    this.multiline?.flush();
    this.container?.reset();
    this.containerMeta.clear();
    this.context.batcher.restart(this.id, 0);
    const handoff = {
      stream: this,
      generation: this.tracker.generation,
      acked: this.tracker.position,
      ranges: this.tracker.outstandingRanges(),
    };
    this.tracker.restart(0);
    return handoff;
  }

  /** The file server let the file go: the last lines go out; the stream stays until its batches settle. */
  letGo(): void {
    this.multiline?.flush();
    this.multiline?.close();
    this.context.batcher.close(this.id);
    this.closed = true;
  }

  /** Let go, and every batch settled: only its checkpoint remains. */
  get done(): boolean {
    return this.closed && this.tracker.outstanding === 0;
  }
}
