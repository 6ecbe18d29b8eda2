/**
 * Splits the bytes of one file into lines, on bytes: `Buffer.indexOf(10)` and `subarray`, no string decoding, so
 * invalid UTF-8 and binary garbage pass through byte for byte.
 *
 * Invariants:
 * - A line is emitted only once its '\n' has been read; its `end` is the file position just after that '\n', which
 *   is what a checkpoint may move to. A partial last line waits in `pending` for its newline.
 * - A trailing '\r' before the '\n' (CRLF) is not part of the value.
 * - A line longer than `maxLineBytes` is emitted truncated to its first `maxLineBytes` bytes (flag `truncated`) when
 *   its newline finally arrives; the bytes in between are skipped, not buffered, so a huge line never stalls the file
 *   nor grows memory beyond `maxLineBytes`.
 * - Values that lie wholly inside one chunk are views of that chunk (no copy): a reader must hand each call a
 *   chunk it does not reuse.
 */
import type { BytePosition } from '../../shared/record.ts';

const NEWLINE = 10;
const CARRIAGE_RETURN = 13;

export type LineHandler = (value: Buffer, end: BytePosition, truncated: boolean) => void;

export interface LineSplitterOptions {
  /** Longest value kept; longer lines are truncated to it. */
  readonly maxLineBytes: number;
}

export class LineSplitter {
  private readonly maxLineBytes: number;
  /** Bytes of the current unterminated line (at most maxLineBytes of them are kept). */
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** Bytes of the current line seen so far, kept or skipped. */
  private lineLength = 0;

  constructor(options: LineSplitterOptions) {
    if (!Number.isSafeInteger(options.maxLineBytes) || options.maxLineBytes < 1) {
      throw new RangeError(`maxLineBytes must be a positive integer, got ${options.maxLineBytes}`);
    }
    this.maxLineBytes = options.maxLineBytes;
  }

  /** Bytes of an unterminated line held (or skipped) so far: the distance from the last line end to the read position. */
  get pendingBytes(): number {
    return this.lineLength;
  }

  /** Feeds `chunk`, which starts at file position `chunkStart`; calls `onLine` for every line it completes. */
  push(chunk: Buffer, chunkStart: BytePosition, onLine: LineHandler): void {
    let from = 0;
    while (from < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, from);
      if (nl === -1) {
        this.keep(chunk.subarray(from));
        return;
      }
      const end = chunkStart + nl + 1;
      if (this.lineLength === 0 && nl - from <= this.maxLineBytes + 1) {
        // The common case: the whole line lies in this chunk.
        let stop = nl;
        if (stop > from && chunk[stop - 1] === CARRIAGE_RETURN) stop--;
        if (stop - from <= this.maxLineBytes) {
          onLine(chunk.subarray(from, stop), end, false);
          from = nl + 1;
          continue;
        }
      }
      this.keep(chunk.subarray(from, nl));
      this.emitPending(end, onLine);
      from = nl + 1;
    }
  }

  /** Emits the unterminated line as it stands (a file let go will never get its newline); `end` is its end position. */
  flush(end: BytePosition, onLine: LineHandler): void {
    if (this.lineLength > 0) this.emitPending(end, onLine);
  }

  /** Forgets the unterminated line (the file was truncated under it). */
  reset(): void {
    this.pending = [];
    this.pendingLength = 0;
    this.lineLength = 0;
  }

  private keep(bytes: Buffer): void {
    this.lineLength += bytes.length;
    // Keep one byte beyond the limit so a CRLF line of exactly maxLineBytes is not reported as truncated.
    const room = this.maxLineBytes + 1 - this.pendingLength;
    if (room <= 0) return;
    const kept = bytes.length > room ? bytes.subarray(0, room) : bytes;
    // Copy: the caller's chunk may be a view of a buffer that is reused after this call returns.
    this.pending.push(Buffer.from(kept));
    this.pendingLength += kept.length;
  }

  private emitPending(end: BytePosition, onLine: LineHandler): void {
    let value = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingLength);
    let length = this.lineLength;
    if (length <= this.maxLineBytes + 1 && value.length > 0 && value[value.length - 1] === CARRIAGE_RETURN) {
      value = value.subarray(0, value.length - 1);
      length--;
    }
    const truncated = length > this.maxLineBytes;
    if (value.length > this.maxLineBytes) value = value.subarray(0, this.maxLineBytes);
    this.reset();
    onLine(value, end, truncated);
  }
}
