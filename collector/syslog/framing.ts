/**
 * RFC 6587 framing of a syslog TCP (or TLS, RFC 5425) stream into messages.
 *
 * Two framings share one stream, decided per frame by its first byte (RFC 6587 §3.4): a digit starts
 * octet-counting (`MSG-LEN SP SYSLOG-MSG`, MSG-LEN without leading zeros), anything else is non-transparent framing
 * ending at LF (a trailing CR and NUL are stripped, as rsyslog and syslog-ng do). Senders may switch between frames.
 *
 * Bounded memory: a message longer than `maxMessageBytes` is never buffered. An octet-counted one is skipped by its
 * declared length; a newline-framed one is discarded up to its LF. Either way the splitter reports it (`oversized`)
 * and the stream stays in sync, so one bad message never costs the connection. A non-numeric or absurd octet count
 * (`12x`, more digits than any allowed length) cannot be resynchronised by length: the rest of that line is
 * reported as `malformed` and framing restarts after the next LF.
 *
 * Pure: no sockets, no timers. `push` takes whatever chunks the socket delivers; messages are views into them or
 * copies when they span chunks.
 */

export type FrameEvent =
  | { readonly kind: 'message'; readonly bytes: Buffer }
  | { readonly kind: 'oversized'; readonly bytes: number }
  | { readonly kind: 'malformed'; readonly reason: string };

/** Where `each` hands frames. */
export interface FrameVisitor {
  /** A whole message: bytes start..end of `bytes` (the socket's chunk, or a copy when it spanned chunks). */
  message(bytes: Buffer, start: number, end: number): void;
  /** A frame that is not a message. */
  problem(event: Exclude<FrameEvent, { readonly kind: 'message' }>): void;
}

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const NUL = 0x00;

type State =
  /** At the start of a frame. */
  | { readonly mode: 'start' }
  /** Reading MSG-LEN digits. */
  | { readonly mode: 'length'; digits: number; value: number }
  /** Reading an octet-counted body of `remaining` more bytes. */
  | { readonly mode: 'counted'; remaining: number; parts: Buffer[]; skip: boolean; total: number }
  /** Reading a newline-terminated frame. */
  | { readonly mode: 'line'; parts: Buffer[]; size: number; skip: boolean }
  /** Discarding up to the next LF after a malformed octet count. */
  | { readonly mode: 'resync' };

export class SyslogFrameSplitter {
  private state: State = { mode: 'start' };
  private readonly maxDigits: number;

  constructor(private readonly maxMessageBytes: number) {
    this.maxDigits = String(maxMessageBytes).length + 3; // enough to read an oversized length and skip by it
  }

  /** Frames completed by this chunk, in order. */
  push(chunk: Buffer): FrameEvent[] {
    const out: FrameEvent[] = [];
    this.each(chunk, {
      message: (bytes, start, end) => out.push({ kind: 'message', bytes: bytes.subarray(start, end) }),
      problem: (event) => out.push(event),
    });
    return out;
  }

  /** The same, handed to `visitor` frame by frame: a receiver's hot path, with no object per message. */
  each(chunk: Buffer, out: FrameVisitor): void {
    let pos = 0;
    while (pos < chunk.length) {
      const s = this.state;
      switch (s.mode) {
        case 'start': {
          const b = chunk[pos]!;
          if (b === LF || b === CR || b === NUL) {
            pos++; // stray separators between frames
          } else if (b >= 0x31 && b <= 0x39) {
            this.state = { mode: 'length', digits: 0, value: 0 };
          } else {
            // The common case, a whole line within this chunk: one view, no state to keep.
            const lf = chunk.indexOf(LF, pos);
            if (lf !== -1 && lf - pos <= this.maxMessageBytes) {
              out.message(chunk, pos, trimmedEnd(chunk, pos, lf));
              pos = lf + 1;
            } else {
              this.state = { mode: 'line', parts: [], size: 0, skip: false };
            }
          }
          break;
        }
        case 'length': {
          const b = chunk[pos]!;
          if (b >= 0x30 && b <= 0x39) {
            s.value = s.value * 10 + (b - 0x30);
            s.digits++;
            pos++;
            if (s.digits > this.maxDigits) {
              out.problem({ kind: 'malformed', reason: `octet count longer than ${this.maxDigits} digits` });
              this.state = { mode: 'resync' };
            }
          } else if (b === SP) {
            pos++;
            const skip = s.value > this.maxMessageBytes;
            this.state = { mode: 'counted', remaining: s.value, parts: [], skip, total: s.value };
          } else {
            out.problem({
              kind: 'malformed',
              reason: 'a frame starting with a digit is not an octet count (RFC 6587)',
            });
            this.state = { mode: 'resync' };
          }
          break;
        }
        case 'counted': {
          const take = Math.min(s.remaining, chunk.length - pos);
          if (!s.skip) s.parts.push(chunk.subarray(pos, pos + take));
          s.remaining -= take;
          pos += take;
          if (s.remaining === 0) {
            if (s.skip) out.problem({ kind: 'oversized', bytes: s.total });
            else message(out, join(s.parts));
            this.state = { mode: 'start' };
          }
          break;
        }
        case 'line': {
          const lf = chunk.indexOf(LF, pos);
          const end = lf === -1 ? chunk.length : lf;
          const piece = chunk.subarray(pos, end);
          s.size += piece.length;
          if (!s.skip) {
            if (s.size > this.maxMessageBytes) {
              s.skip = true;
              s.parts = [];
            } else {
              s.parts.push(piece);
            }
          }
          pos = end;
          if (lf !== -1) {
            pos = lf + 1;
            if (s.skip) out.problem({ kind: 'oversized', bytes: s.size });
            else message(out, join(s.parts));
            this.state = { mode: 'start' };
          }
          break;
        }
        case 'resync': {
          const lf = chunk.indexOf(LF, pos);
          if (lf === -1) pos = chunk.length;
          else {
            pos = lf + 1;
            this.state = { mode: 'start' };
          }
          break;
        }
      }
    }
  }

  /**
   * The connection ended: a newline-framed message without its LF is still a message (many senders omit the last
   * LF); an octet-counted one cut short is malformed.
   */
  end(): FrameEvent[] {
    const s = this.state;
    this.state = { mode: 'start' };
    if (s.mode === 'line') {
      if (s.skip) return [{ kind: 'oversized', bytes: s.size }];
      const bytes = trimTrailer(join(s.parts));
      return bytes.length > 0 ? [{ kind: 'message', bytes }] : [];
    }
    if (s.mode === 'counted' || s.mode === 'length') {
      return [{ kind: 'malformed', reason: 'the connection ended inside an octet-counted frame' }];
    }
    return [];
  }

  /** Bytes held for an incomplete frame (the memory this connection costs between chunks). */
  get bufferedBytes(): number {
    const s = this.state;
    if (s.mode === 'line' || s.mode === 'counted') return s.parts.reduce((n, p) => n + p.length, 0);
    return 0;
  }
}

function join(parts: Buffer[]): Buffer {
  if (parts.length === 1) return parts[0]!;
  // Copy: the caller may keep a message while the socket's chunks are reused.
  return Buffer.concat(parts);
}

function trimTrailer(bytes: Buffer): Buffer {
  const end = trimmedEnd(bytes, 0, bytes.length);
  return end === bytes.length ? bytes : bytes.subarray(0, end);
}

/** The end of bytes[start, end) without its trailing CR, NUL and LF bytes. */
function trimmedEnd(bytes: Buffer, start: number, end: number): number {
  while (end > start && (bytes[end - 1] === CR || bytes[end - 1] === NUL || bytes[end - 1] === LF)) end--;
  return end;
}

function message(visitor: FrameVisitor, bytes: Buffer): void {
  visitor.message(bytes, 0, trimmedEnd(bytes, 0, bytes.length));
}
