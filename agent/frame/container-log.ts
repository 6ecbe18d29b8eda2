/**
 * Container runtime log files: the CRI format (containerd, CRI-O: `/var/log/pods/…/<n>.log`) and Docker's
 * json-file format. The decoder strips the runtime's framing from each line, joins the pieces of a line the runtime
 * split, and hands on the application's line with the runtime's timestamp and stream (stdout / stderr).
 *
 * - CRI: `<RFC 3339 nanosecond time> <stdout|stderr> <tags> <content>`; tag `P` marks a partial piece (the runtime
 *   splits lines above its buffer, 16 KiB in containerd), `F` the last piece of a line.
 * - Docker: `{"log":"…\n","stream":"stdout","time":"…"}`; a `log` without its trailing newline is a piece of a line
 *   Docker split at 16 KiB; the piece ending in `\n` completes it.
 * - `auto` decides per line: a line starting with `{` is Docker's, anything else CRI.
 *
 * A joined line is capped at `maxLineBytes` (the rest of its pieces are dropped and the line is marked truncated).
 * A line that is not in the configured format is passed on as it is (timestamp: now) and counted as malformed:
 * nothing is lost to a format mismatch. Positions: a joined line's `end` is the end of its last piece, so a
 * checkpoint never moves past a piece still held here (pieces held at shutdown are read again).
 *
 * `kubeletPathLabels` reads namespace, pod and container from the kubelet's paths:
 * `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log` (and its rotated `<restart>.log.<time>`), and
 * `/var/log/containers/<pod>_<namespace>_<container>-<id>.log`.
 */
import type { BytePosition, TimestampMs } from '../../shared/record.ts';

export type ContainerFormat = 'cri' | 'docker' | 'auto';
export type ContainerStream = 'stdout' | 'stderr';

export interface ContainerLine {
  readonly value: Buffer;
  readonly timestamp: TimestampMs;
  readonly stream: ContainerStream | undefined;
  /** End position of the line's last piece in the file. */
  readonly end: BytePosition;
  readonly truncated: boolean;
  /** The line was not in the container format and is passed on raw. */
  readonly malformed: boolean;
}

interface Piece {
  readonly content: Buffer;
  readonly timestamp: TimestampMs;
  readonly stream: ContainerStream;
  /** True when this piece ends the line. */
  readonly final: boolean;
}

const SP = 0x20;
const OPEN_BRACE = 0x7b;

export class ContainerLogDecoder {
  private parts: Buffer[] = [];
  private size = 0;
  private first: Piece | undefined;
  private truncated = false;
  /** End of the last piece taken. */
  private lastEnd: BytePosition = 0;

  constructor(
    private readonly format: ContainerFormat,
    private readonly maxLineBytes: number,
    private readonly now: () => TimestampMs = Date.now,
  ) {}

  /** True while pieces of a split line are held. */
  get hasPending(): boolean {
    return this.first !== undefined;
  }

  /** The file was truncated: held pieces belong to content that is gone. */
  reset(): void {
    this.parts = [];
    this.size = 0;
    this.first = undefined;
    this.truncated = false;
  }

  /**
   * One line of the file; returns the application lines it completed, in order: none (a piece was held), one, or
   * two (a held split line cut short by a line that is not in the format, then that line).
   */
  line(raw: Buffer, end: BytePosition, truncated: boolean): ContainerLine[] {
    const docker = this.format === 'docker' || (this.format === 'auto' && raw[0] === OPEN_BRACE);
    const piece = docker ? parseDocker(raw) : parseCri(raw);
    if (!piece) {
      // Whatever was held is incomplete forever now (the runtime never writes a bare line inside a split one).
      const line: ContainerLine = {
        value: raw,
        timestamp: this.now(),
        stream: undefined,
        end,
        truncated,
        malformed: true,
      };
      return this.first ? [this.finish(this.lastEnd), line] : [line];
    }
    if (truncated) this.truncated = true;
    if (!this.first) this.first = piece;
    if (this.size < this.maxLineBytes) {
      const room = this.maxLineBytes - this.size;
      const content = piece.content.length > room ? piece.content.subarray(0, room) : piece.content;
      if (content.length < piece.content.length) this.truncated = true;
      // Copy: the piece is a view of a read chunk and may be held across reads.
      this.parts.push(piece.final && this.parts.length === 0 ? content : Buffer.from(content));
      this.size += content.length;
    } else if (piece.content.length > 0) {
      this.truncated = true;
    }
    this.lastEnd = end;
    return piece.final ? [this.finish(end)] : [];
  }

  private finish(end: BytePosition): ContainerLine {
    const first = this.first!;
    const value = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
    const line: ContainerLine = {
      value,
      timestamp: first.timestamp,
      stream: first.stream,
      end,
      truncated: this.truncated,
      malformed: false,
    };
    this.reset();
    return line;
  }
}

/** `<time> <stream> <tags> <content>`; undefined when the line is not CRI. */
export function parseCri(raw: Buffer): Piece | undefined {
  const s1 = raw.indexOf(SP);
  if (s1 < 20 || s1 > 40) return undefined;
  const s2 = raw.indexOf(SP, s1 + 1);
  if (s2 === -1) return undefined;
  const stream = raw.toString('latin1', s1 + 1, s2);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  let s3 = raw.indexOf(SP, s2 + 1);
  if (s3 === -1) s3 = raw.length; // "… stdout F" with an empty line and no trailing space
  const tags = raw.toString('latin1', s2 + 1, s3).split(':');
  if (!tags.includes('P') && !tags.includes('F')) return undefined;
  const timestamp = Date.parse(raw.toString('latin1', 0, s1));
  if (!Number.isFinite(timestamp)) return undefined;
  return {
    content: raw.subarray(Math.min(raw.length, s3 + 1)),
    timestamp,
    stream,
    final: !tags.includes('P'),
  };
}

/** Docker's json-file line; undefined when it is not one. */
export function parseDocker(raw: Buffer): Piece | undefined {
  let entry: unknown;
  try {
    entry = JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof entry !== 'object' || entry === null) return undefined;
  const { log, stream, time } = entry as { log?: unknown; stream?: unknown; time?: unknown };
  if (typeof log !== 'string' || (stream !== 'stdout' && stream !== 'stderr') || typeof time !== 'string') {
    return undefined;
  }
  const timestamp = Date.parse(time);
  if (!Number.isFinite(timestamp)) return undefined;
  const final = log.endsWith('\n');
  let text = final ? log.slice(0, -1) : log;
  if (final && text.endsWith('\r')) text = text.slice(0, -1);
  return { content: Buffer.from(text, 'utf8'), timestamp, stream, final };
}

export interface KubeletLabels {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
}

const PODS_PATH = /\/pods\/([^/_]+)_([^/_]+)_([^/]+)\/([^/]+)\/\d+\.log(?:\.[^/]*)?$/;
const CONTAINERS_PATH = /\/containers\/([^/_]+)_([^/_]+)_(.+)-[0-9a-f]{64}\.log(?:\.[^/]*)?$/;

export function kubeletPathLabels(path: string): KubeletLabels | undefined {
  const pods = PODS_PATH.exec(path);
  if (pods) return { namespace: pods[1]!, pod: pods[2]!, container: pods[4]! };
  const containers = CONTAINERS_PATH.exec(path);
  if (containers) return { namespace: containers[2]!, pod: containers[1]!, container: containers[3]! };
  return undefined;
}

/** What the runtime said about a line: its time and stream (a record field). */
export interface LineMeta {
  readonly timestamp: TimestampMs;
  readonly stream: ContainerStream | undefined;
}

/**
 * The runtime's time and stream of lines handed to multiline grouping, by end position: a grouped event takes those
 * of its first line (`take(event.end)` drops the entries of every line the event covers).
 */
export class LineMetaQueue {
  private readonly entries: { end: BytePosition; meta: LineMeta }[] = [];

  push(end: BytePosition, meta: LineMeta): void {
    this.entries.push({ end, meta });
  }

  take(end: BytePosition): LineMeta | undefined {
    let first: LineMeta | undefined;
    while (this.entries.length > 0 && this.entries[0]!.end <= end) {
      const e = this.entries.shift()!;
      first ??= e.meta;
    }
    return first;
  }

  clear(): void {
    this.entries.length = 0;
  }
}
