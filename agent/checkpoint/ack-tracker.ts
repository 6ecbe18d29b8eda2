/**
 * The acknowledged position of one file: the checkpoint moves only to the end of the highest CONTIGUOUS range the
 * collector has acknowledged (Vector's ordered finalizer). Ranges are registered in file order as batches are sealed
 * ([start, end) byte ranges, each starting where the previous ended); acknowledgements may come in any order.
 *
 * A range that was rejected for good (a 4xx that retrying cannot fix) is "settled" like an acknowledged one: the
 * lines are counted as dropped and the checkpoint moves past them rather than stalling the file forever.
 *
 * A truncated file restarts its positions at 0: `restart()` begins a new generation; settlements of ranges from an
 * older generation are ignored (their bytes no longer exist on disk, so they cannot move the checkpoint).
 */
import type { BytePosition } from '../../shared/record.ts';

export interface TrackedRange {
  readonly generation: number;
  /** Registration number within the generation (ranges may be empty, so positions alone do not identify one). */
  readonly seq: number;
  readonly start: BytePosition;
  readonly end: BytePosition;
}

export class AckTracker {
  private gen = 0;
  private acked: BytePosition;
  /** Registered, unsettled-or-settled ranges of the current generation, in file order. */
  private readonly pending: { seq: number; start: BytePosition; end: BytePosition; settled: boolean }[] = [];
  private nextSeq = 0;

  constructor(start: BytePosition) {
    this.acked = start;
  }

  get generation(): number {
    return this.gen;
  }

  /** The checkpoint: every byte before it has been acknowledged (or settled). */
  get position(): BytePosition {
    return this.acked;
  }

  /** Ranges registered and not yet contiguous with the position. */
  get outstanding(): number {
    return this.pending.length;
  }

  /** Registers the next range in file order. */
  register(start: BytePosition, end: BytePosition): TrackedRange {
    const last = this.pending[this.pending.length - 1];
    const expected = last ? last.end : this.acked;
    if (start !== expected || end < start) {
      throw new RangeError(`range [${start}, ${end}) does not follow position ${expected}`);
    }
    const seq = this.nextSeq++;
    this.pending.push({ seq, start, end, settled: false });
    return { generation: this.gen, seq, start, end };
  }

  /** Marks a range acknowledged; returns true when the position moved. */
  settle(range: TrackedRange): boolean {
    if (range.generation !== this.gen) return false;
    // Pending entries are in seq order with no gaps: the entry is at a known index.
    const first = this.pending[0];
    const entry = first ? this.pending[range.seq - first.seq] : undefined;
    if (!entry || entry.seq !== range.seq) return false;
    entry.settled = true;
    let moved = false;
    while (this.pending.length > 0 && this.pending[0]!.settled) {
      this.acked = this.pending.shift()!.end;
      moved = true;
    }
    return moved;
  }

  /**
   * The ranges of the current generation not yet contiguous with the position, in file order: what a copytruncate
   * copy inherits (`inherit()`) when the original is truncated under them.
   */
  outstandingRanges(): {
    readonly seq: number;
    readonly start: BytePosition;
    readonly end: BytePosition;
    readonly settled: boolean;
  }[] {
    return this.pending.map((p) => ({ ...p }));
  }

  /**
   * Registers ranges first read from another file (the original of a copy) and settled through it; returns, by the
   * original's `seq`, this tracker's range for each, so that the original's settlements can be passed on.
   */
  inherit(
    ranges: readonly {
      readonly seq: number;
      readonly start: BytePosition;
      readonly end: BytePosition;
      readonly settled: boolean;
    }[],
  ): Map<number, TrackedRange> {
    const out = new Map<number, TrackedRange>();
    for (const r of ranges) {
      const mine = this.register(r.start, r.end);
      out.set(r.seq, mine);
      if (r.settled) this.settle(mine);
    }
    return out;
  }

  /** The file was truncated: positions restart at `start` in a new generation. */
  restart(start: BytePosition = 0): void {
    this.gen++;
    this.pending.length = 0;
    this.acked = start;
  }
}
