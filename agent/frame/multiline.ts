/**
 * Multiline framing: groups continuation lines (a stack trace, a wrapped message) with the line that starts the
 * event. A line matching the start pattern begins a new event; any other line continues the current one. An event
 * is complete when the next one starts, or when no line has come for the flush timeout.
 *
 * `MultilineAggregator` is pure (time is passed in); `TimedMultiline` is the thin adapter that owns the timer.
 * An event's `end` is the end position of its last line, so a checkpoint never moves past a line that is still
 * held here. Events are capped at `maxEventBytes` (the rest is cut and the event marked truncated).
 */
import type { BytePosition } from '../../shared/record.ts';

export interface FramedEvent {
  readonly value: Buffer;
  readonly end: BytePosition;
  readonly truncated: boolean;
}

export interface MultilineOptions {
  readonly startPattern: RegExp;
  readonly maxEventBytes: number;
}

const NEWLINE = Buffer.from('\n');

export class MultilineAggregator {
  private readonly startPattern: RegExp;
  private readonly maxEventBytes: number;
  private parts: Buffer[] = [];
  private length = 0;
  private end: BytePosition = 0;
  private truncated = false;
  private lastLineAt = 0;

  constructor(options: MultilineOptions) {
    this.startPattern = options.startPattern;
    this.maxEventBytes = options.maxEventBytes;
  }

  get hasPending(): boolean {
    return this.parts.length > 0;
  }

  /** Adds one line read at time `now`; returns the event this line completed, if any. */
  handleLine(value: Buffer, end: BytePosition, truncated: boolean, now: number): FramedEvent | undefined {
    const starts = this.startPattern.test(value.toString('utf8'));
    let done: FramedEvent | undefined;
    if (starts && this.parts.length > 0) done = this.flush();
    if (this.parts.length > 0) this.append(NEWLINE);
    // Copy: the line may be a view of a read chunk, and this event may be held across many reads.
    this.append(Buffer.from(value));
    this.truncated ||= truncated;
    this.end = end;
    this.lastLineAt = now;
    return done;
  }

  /** The pending event if its last line came `timeoutMs` or more before `now`. */
  flushIfIdle(now: number, timeoutMs: number): FramedEvent | undefined {
    if (this.parts.length === 0 || now - this.lastLineAt < timeoutMs) return undefined;
    return this.flush();
  }

  /** The pending event, whatever its age (file let go, shutdown, truncation). */
  flush(): FramedEvent | undefined {
    if (this.parts.length === 0) return undefined;
    const value = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.length);
    const event = { value, end: this.end, truncated: this.truncated };
    this.parts = [];
    this.length = 0;
    this.truncated = false;
    return event;
  }

  private append(bytes: Buffer): void {
    const room = this.maxEventBytes - this.length;
    if (room <= 0) {
      this.truncated = true;
      return;
    }
    const kept = bytes.length > room ? bytes.subarray(0, room) : bytes;
    if (kept.length < bytes.length) this.truncated = true;
    this.parts.push(kept);
    this.length += kept.length;
  }
}

export interface TimedMultilineOptions extends MultilineOptions {
  readonly timeoutMs: number;
  readonly emit: (event: FramedEvent) => void;
  readonly now?: () => number;
}

/** Owns the flush timer of one file's aggregator: an event is emitted at most `timeoutMs` after its last line. */
export class TimedMultiline {
  private readonly aggregator: MultilineAggregator;
  private readonly timeoutMs: number;
  private readonly emit: (event: FramedEvent) => void;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: TimedMultilineOptions) {
    this.aggregator = new MultilineAggregator(options);
    this.timeoutMs = options.timeoutMs;
    this.emit = options.emit;
    this.now = options.now ?? Date.now;
  }

  line(value: Buffer, end: BytePosition, truncated: boolean): void {
    const done = this.aggregator.handleLine(value, end, truncated, this.now());
    if (done) this.emit(done);
    if (!this.timer) {
      this.timer = setTimeout(() => this.onTimer(), this.timeoutMs);
      this.timer.unref();
    }
  }

  /** Emits whatever is pending now. */
  flush(): void {
    this.clearTimer();
    const event = this.aggregator.flush();
    if (event) this.emit(event);
  }

  close(): void {
    this.clearTimer();
  }

  private onTimer(): void {
    this.timer = undefined;
    const event = this.aggregator.flushIfIdle(this.now(), this.timeoutMs);
    if (event) this.emit(event);
    if (this.aggregator.hasPending) {
      this.timer = setTimeout(() => this.onTimer(), this.timeoutMs);
      this.timer.unref();
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
