/**
 * Reads one file by byte position through an open FileHandle, and tells what happened to it since the last look.
 *
 * The reader knows nothing of sources, batches or the collector: it turns bytes at [position, size) into lines
 * with their end positions (line-splitter.ts), and `check()` reports changes, which the file server acts on:
 *
 * - `truncated`: the file is shorter than our position, or its first bytes changed (copytruncate, or truncated and
 *   rewritten past our position between two looks): the caller restarts it from 0 with `restartFromBeginning()`.
 * - `replaced`: the path now names another file (rename rotation: app.log -> app.log.1, new app.log). This reader
 *   keeps its descriptor and is read to its end; the new file gets its own reader.
 * - `removed`: the path names nothing (deleted, or renamed out of sight). The descriptor stays open, so the unread
 *   rest is still read to its end before the reader is let go.
 *
 * Not safe for concurrent calls: the file server awaits each call before the next on the same reader.
 */
import type { Stats } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import type { BytePosition } from '../../shared/record.ts';
import {
  computeFingerprint,
  FINGERPRINT_BYTES,
  type FileKey,
  type Fingerprint,
  fileKeyOf,
  fingerprintMatches,
} from './fingerprint.ts';
import { type LineHandler, LineSplitter } from './line-splitter.ts';

export type FileChange = 'none' | 'truncated' | 'replaced' | 'removed';

/** Where a newly opened reader starts. */
export type StartAt =
  | { readonly kind: 'beginning' }
  | { readonly kind: 'end' }
  | { readonly kind: 'checkpoint'; readonly position: BytePosition; readonly fingerprint: Fingerprint }
  /**
   * A copytruncate copy of a file read up to `position`: it continues from there (from its end if it is shorter:
   * the lines after its end were read from the original before the truncation).
   */
  | { readonly kind: 'copy'; readonly position: BytePosition };

/** How the start position was decided (a checkpoint may be refused). */
export type StartDecision = 'beginning' | 'end' | 'checkpoint' | 'copy' | 'inode_reused' | 'truncated_while_away';

export interface FileReaderOpenOptions {
  readonly path: string;
  readonly startAt: StartAt;
  /** The path that names this file's source (its record key); default `path`. A copy keeps its original's. */
  readonly keyPath?: string;
  readonly maxLineBytes: number;
  /** Bytes read per `read()` call. */
  readonly chunkBytes: number;
}

export class FileReader {
  readonly key: FileKey;
  readonly dev: number;
  readonly ino: number;
  readonly startDecision: StartDecision;
  /** The path this file had when it was opened (its source key); `path` follows renames. */
  readonly openedPath: string;
  path: string;
  private readonly handle: FileHandle;
  private readonly splitter: LineSplitter;
  private readonly chunkBytes: number;
  private readPosition: BytePosition;
  private knownSize: number;
  private lastMtimeMs: number;
  private print: Fingerprint;
  private closed = false;
  /** A read found the first bytes changed: the next check reports a truncation. */
  private rewritten = false;

  private constructor(
    options: FileReaderOpenOptions,
    handle: FileHandle,
    stats: Stats,
    position: BytePosition,
    print: Fingerprint,
    decision: StartDecision,
  ) {
    this.key = fileKeyOf(stats);
    this.dev = stats.dev;
    this.ino = stats.ino;
    this.openedPath = options.keyPath ?? options.path;
    this.path = options.path;
    this.handle = handle;
    this.splitter = new LineSplitter({ maxLineBytes: options.maxLineBytes });
    this.chunkBytes = options.chunkBytes;
    this.readPosition = position;
    this.knownSize = stats.size;
    this.lastMtimeMs = stats.mtimeMs;
    this.print = print;
    this.startDecision = decision;
  }

  /** Opens `path` and decides where to start. Throws the fs error (ENOENT, EACCES…) if it cannot be opened. */
  static async open(options: FileReaderOpenOptions): Promise<FileReader> {
    const handle = await open(options.path, 'r');
    try {
      const stats = await handle.stat();
      if (!stats.isFile())
        throw Object.assign(new Error(`${options.path} is not a regular file`), { code: 'ENOTFILE' });
      const start = options.startAt;
      let position = 0;
      let decision: StartDecision = 'beginning';
      if (start.kind === 'end') {
        position = stats.size;
        decision = 'end';
      } else if (start.kind === 'copy') {
        position = Math.min(start.position, stats.size);
        decision = 'copy';
      } else if (start.kind === 'checkpoint') {
        if (!(await fingerprintMatches(handle, start.fingerprint))) decision = 'inode_reused';
        else if (start.position > stats.size) decision = 'truncated_while_away';
        else {
          position = start.position;
          decision = 'checkpoint';
        }
      }
      const print = await computeFingerprint(handle, stats.size);
      return new FileReader(options, handle, stats, position, print, decision);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Position of the next byte to read. */
  get position(): BytePosition {
    return this.readPosition;
  }

  /** Position just after the last complete line handed out: where a re-read would have to start. */
  get lineEnd(): BytePosition {
    return this.readPosition - this.splitter.pendingBytes;
  }

  /** File size at the last read or check. */
  get size(): number {
    return this.knownSize;
  }

  get fingerprint(): Fingerprint {
    return this.print;
  }

  /** True when the last read or check saw no bytes beyond the position. */
  get atEnd(): boolean {
    return this.readPosition >= this.knownSize;
  }

  /**
   * Reads up to one chunk from the position into `buffer` (or a fresh one) and hands each completed line to
   * `onLine`. A line's value may be a view of `buffer`: it is valid only during the callback, so a caller that reuses
   * the buffer must copy what it keeps (the batcher copies into its batch; multiline copies). Returns the number of
   * bytes read (0 at the end of the file).
   */
  async read(onLine: LineHandler, buffer?: Buffer): Promise<number> {
    const chunk = buffer ?? Buffer.allocUnsafe(this.chunkBytes);
    const start = this.readPosition;
    const { bytesRead } = await this.handle.read(chunk, 0, Math.min(chunk.length, this.chunkBytes), start);
    if (bytesRead === 0) {
      this.knownSize = Math.max(this.knownSize, start);
      return 0;
    }
    // Bytes read by position are the file's only while it still starts as it did: truncated and written again
    // between the last check and this read (copytruncate), they belong to the new content. They are dropped, and
    // the next check reports the truncation (the copy holds the old content's rest).
    if (this.print.length > 0 && !(await fingerprintMatches(this.handle, this.print))) {
      this.rewritten = true;
      return 0;
    }
    this.readPosition = start + bytesRead;
    if (this.readPosition > this.knownSize) this.knownSize = this.readPosition;
    if (this.print.length < FINGERPRINT_BYTES && this.readPosition > this.print.length) {
      this.print = await computeFingerprint(this.handle, this.knownSize);
    }
    this.splitter.push(chunk.subarray(0, bytesRead), start, onLine);
    return bytesRead;
  }

  /** Looks at the descriptor and at the path: see the module comment for what each answer means. */
  async check(): Promise<FileChange> {
    const own = await this.handle.stat();
    this.knownSize = own.size;
    if (this.rewritten || own.size < this.readPosition) return 'truncated';
    if (own.mtimeMs !== this.lastMtimeMs) {
      this.lastMtimeMs = own.mtimeMs;
      if (!(await fingerprintMatches(this.handle, this.print))) return 'truncated';
      if (this.print.length < FINGERPRINT_BYTES && own.size > this.print.length) {
        this.print = await computeFingerprint(this.handle, own.size);
      }
    }
    let atPath: Stats;
    try {
      atPath = await stat(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'removed';
      throw error;
    }
    if (atPath.ino !== own.ino || atPath.dev !== own.dev) return 'replaced';
    return 'none';
  }

  /** After `truncated`: forget the unterminated line and read again from 0. */
  async restartFromBeginning(): Promise<void> {
    this.rewritten = false;
    this.splitter.reset();
    this.readPosition = 0;
    const own = await this.handle.stat();
    this.knownSize = own.size;
    this.lastMtimeMs = own.mtimeMs;
    this.print = await computeFingerprint(this.handle, own.size);
  }

  /** Hands out the unterminated last line as it stands: the file is let go and will never complete it. */
  flushPartial(onLine: LineHandler): void {
    this.splitter.flush(this.readPosition, onLine);
  }

  /** True when the file has no name left (deleted while we hold it open). */
  async isDeleted(): Promise<boolean> {
    return (await this.handle.stat()).nlink === 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}
