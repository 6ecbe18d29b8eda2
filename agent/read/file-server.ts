/**
 * Schedules the readers of every discovered file: opens them, reads them in turn, acts on what `check()` reports
 * (rotation, truncation, deletion), pauses while the unacked-bytes bound is reached, and lets go of rotated or
 * deleted files once they are read to their end.
 *
 * Readers are keyed by file identity (device:inode), not by path: a file renamed to a name that still matches
 * (app.log -> app.log.1) keeps its reader and its position, and a new file at the old path gets a new reader.
 *
 * Rules:
 * - Every reader is looked at on every poll (`pollIntervalMs`), whatever discovery said: notifications can be
 *   coalesced or missed, identity comparisons cannot.
 * - A reader whose path names another file opens that file (once), whether or not discovery reported it: after a
 *   quick rename and re-create, chokidar may say only "changed".
 * - A reader whose path no longer names its file is "detached": it is read to its end, then kept for `rotateWaitMs`
 *   (a writer that has not reopened yet may still append), then let go. Its unterminated last line is handed out
 *   as a line at that point, since it can never be completed.
 * - A file that cannot be opened (no permission…) is reported once and retried every `retryOpenMs`.
 * - Fairness: at most `maxBytesPerTurn` per file per turn, so one busy file cannot starve the others.
 */
import { stat } from 'node:fs/promises';
import type { FileErrorKind, RotationKind } from '../metrics.ts';
import { type FileKey, fileKeyOf } from './fingerprint.ts';
import { FileReader, type StartAt } from './file-reader.ts';
import type { LineHandler } from './line-splitter.ts';

export interface ServedFile {
  readonly reader: FileReader;
  readonly sourceIndex: number;
}

export interface FileServerSink {
  /** Where to start a newly found file. `initial`: it was present when the agent started. */
  startAt(key: FileKey, path: string, sourceIndex: number, initial: boolean): StartAt;
  opened(file: ServedFile): void;
  /** Lines of `file`, in file order. */
  lines(file: ServedFile): LineHandler;
  /** After each read: `bytes` were read. */
  read(file: ServedFile, bytes: number): void;
  /** The file was truncated under the reader: everything pending for it belongs to the old content. */
  truncated(file: ServedFile): void;
  /** Positions restarted at 0 after a truncation. */
  restarted(file: ServedFile): void;
  rotation(kind: RotationKind, file: ServedFile): void;
  /** The file is let go: its last lines have been handed out. */
  closed(file: ServedFile): void;
  fileError(path: string, kind: FileErrorKind, error: Error, firstTime: boolean): void;
}

export interface FileServerOptions {
  readonly pollIntervalMs: number;
  readonly rotateWaitMs: number;
  readonly retryOpenMs: number;
  readonly chunkBytes: number;
  readonly maxBytesPerTurn: number;
  readonly maxLineBytesOf: (sourceIndex: number) => number;
  /** True while reading must pause (unacked-bytes bound reached). */
  readonly paused: () => boolean;
  /** Resolves when reading may resume. */
  readonly whenUnpaused: () => Promise<void>;
  readonly sink: FileServerSink;
}

interface ReaderState extends ServedFile {
  readonly reader: FileReader;
  /** Set when the path no longer names this file. */
  detachedAt: number | undefined;
  detachedBy: 'replaced' | 'removed' | undefined;
  lastDataAt: number;
  readonly onLine: LineHandler;
}

export class FileServer {
  private readonly options: FileServerOptions;
  private readonly readers = new Map<FileKey, ReaderState>();
  /** Paths to look at on the next turn: newly discovered, or whose file was replaced. */
  private readonly toOpen = new Map<string, { sourceIndex: number; initial: boolean }>();
  /**
   * Every path discovery reported in the globs and has not reported gone. A path that no reader holds is looked at
   * on every turn: after a rename rotation, the reader follows its file to the rotated name (or keeps the old
   * path while detached), and discovery may fold the new file's creation into a `change` or report it before the
   * rename: neither of them alone can be trusted to open the new file at the old name.
   */
  private readonly paths = new Map<string, number>();
  /** Paths that could not be opened: when to try again. */
  private readonly failed = new Map<string, { sourceIndex: number; retryAt: number }>();
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private acceptingInitial = true;
  /**
   * One read buffer for every file: files are read one at a time, and every stage after the splitter copies what it
   * keeps, so reusing it saves allocating (and collecting) a chunk per read.
   */
  private readonly buffer: Buffer;

  constructor(options: FileServerOptions) {
    this.options = options;
    this.buffer = Buffer.allocUnsafe(options.chunkBytes);
  }

  get fileCount(): number {
    return this.readers.size;
  }

  files(): IterableIterator<ServedFile> {
    return this.readers.values();
  }

  /** Discovery found `path` (owned by source `sourceIndex`). */
  appeared(path: string, sourceIndex: number): void {
    this.paths.set(path, sourceIndex);
    this.toOpen.set(path, { sourceIndex, initial: this.acceptingInitial });
    this.poke();
  }

  /** Discovery says `path` changed: read soon (and open it if no reader holds that path). */
  changed(path: string, sourceIndex: number): void {
    this.paths.set(path, sourceIndex);
    this.poke();
  }

  /** Discovery says `path` is gone: the next check of its reader will detach it. */
  removed(path: string): void {
    this.paths.delete(path);
    this.failed.delete(path);
    this.toOpen.delete(path);
    this.poke();
  }

  /** Files appearing from now on were created after start: they are read from the beginning. */
  endInitialScan(): void {
    this.acceptingInitial = false;
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Stops reading: resolves once the current turn is over. Readers stay open until `close()`. */
  async stop(): Promise<void> {
    this.running = false;
    this.poke();
    await this.loop;
  }

  /** Hands out the unterminated lines of files being let go, and closes every reader. */
  async close(): Promise<void> {
    for (const state of this.readers.values()) await state.reader.close();
    this.readers.clear();
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      let busy = false;
      try {
        busy = await this.turn();
      } catch (error) {
        this.options.sink.fileError('(file server)', 'other', error as Error, true);
      }
      if (!this.running) break;
      if (this.options.paused()) {
        await Promise.race([this.options.whenUnpaused(), this.sleep(this.options.pollIntervalMs)]);
      } else if (!busy) {
        await this.sleep(this.options.pollIntervalMs);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** One pass over every file; returns true when some file may have more to read right away. */
  private async turn(): Promise<boolean> {
    await this.openPending();
    let busy = false;
    const now = Date.now();
    for (const state of [...this.readers.values()]) {
      if (!this.running) break;
      await this.checkOne(state, now);
      if (!this.readers.has(state.reader.key)) continue;
      if (this.options.paused()) continue;
      let turnBytes = 0;
      while (turnBytes < this.options.maxBytesPerTurn && !this.options.paused() && this.running) {
        const n = await state.reader.read(state.onLine, this.buffer);
        if (n === 0) break;
        turnBytes += n;
        this.options.sink.read(state, n);
      }
      if (turnBytes > 0) {
        state.lastDataAt = Date.now();
        if (turnBytes >= this.options.maxBytesPerTurn) busy = true;
      }
      if (
        state.detachedAt !== undefined &&
        turnBytes === 0 &&
        state.reader.atEnd &&
        Date.now() - Math.max(state.detachedAt, state.lastDataAt) >= this.options.rotateWaitMs
      ) {
        await this.letGo(state);
      }
    }
    return busy;
  }

  private async checkOne(state: ReaderState, now: number): Promise<void> {
    const { reader } = state;
    let change: Awaited<ReturnType<FileReader['check']>>;
    try {
      change = await reader.check();
    } catch (error) {
      this.options.sink.fileError(reader.path, 'other', error as Error, false);
      return;
    }
    switch (change) {
      case 'none':
        return;
      case 'truncated':
        this.options.sink.truncated(state);
        await reader.restartFromBeginning();
        this.options.sink.rotation('copytruncate', state);
        this.options.sink.restarted(state);
        return;
      case 'replaced':
        // The path now names a new file: read it as a file created after start. Also when an earlier look found
        // the path empty (a rename rotation seen between its two steps): discovery may never report the new file
        // as appeared, since chokidar folds a quick unlink and add into a change.
        if (state.detachedAt === undefined || state.detachedBy === 'removed') {
          state.detachedAt ??= now;
          state.detachedBy = 'replaced';
          this.options.sink.rotation('rename', state);
          this.toOpen.set(reader.path, { sourceIndex: state.sourceIndex, initial: false });
        }
        return;
      case 'removed':
        if (state.detachedAt === undefined) {
          state.detachedAt = now;
          state.detachedBy = 'removed';
        }
        return;
    }
  }

  private async letGo(state: ReaderState): Promise<void> {
    const { reader } = state;
    if (state.detachedBy === 'removed') {
      // Gone from its path: deleted (no link left) or renamed out of sight of every glob.
      this.options.sink.rotation((await reader.isDeleted()) ? 'deleted' : 'rename', state);
    }
    reader.flushPartial(state.onLine);
    this.readers.delete(reader.key);
    this.options.sink.closed(state);
    await reader.close();
  }

  private async openPending(): Promise<void> {
    const now = Date.now();
    if (this.paths.size > 0) {
      const held = new Set<string>();
      for (const state of this.readers.values()) if (state.detachedAt === undefined) held.add(state.reader.path);
      for (const [path, sourceIndex] of this.paths) {
        if (!held.has(path) && !this.toOpen.has(path) && !this.failed.has(path)) {
          this.toOpen.set(path, { sourceIndex, initial: false });
        }
      }
    }
    for (const [path, f] of this.failed) {
      if (f.retryAt <= now && !this.toOpen.has(path))
        this.toOpen.set(path, { sourceIndex: f.sourceIndex, initial: false });
    }
    if (this.toOpen.size === 0) return;
    const batch = [...this.toOpen];
    this.toOpen.clear();
    for (const [path, { sourceIndex, initial }] of batch) await this.openOne(path, sourceIndex, initial);
  }

  private async openOne(path: string, sourceIndex: number, initial: boolean): Promise<void> {
    let key: FileKey;
    try {
      const stats = await stat(path);
      if (!stats.isFile()) return;
      key = fileKeyOf(stats);
    } catch (error) {
      this.reportOpenError(path, sourceIndex, error as NodeJS.ErrnoException);
      return;
    }
    const existing = this.readers.get(key);
    if (existing) {
      // A file we already read under another name (renamed and still matching): follow it, keep its position.
      if (existing.detachedBy === 'removed') this.options.sink.rotation('rename', existing);
      existing.reader.path = path;
      existing.detachedAt = undefined;
      existing.detachedBy = undefined;
      return;
    }
    let reader: FileReader;
    try {
      reader = await FileReader.open({
        path,
        startAt: this.options.sink.startAt(key, path, sourceIndex, initial),
        maxLineBytes: this.options.maxLineBytesOf(sourceIndex),
        chunkBytes: this.options.chunkBytes,
      });
    } catch (error) {
      this.reportOpenError(path, sourceIndex, error as NodeJS.ErrnoException);
      return;
    }
    if (reader.key !== key || this.readers.has(reader.key)) {
      // The path changed between stat and open: look again next turn.
      await reader.close();
      this.toOpen.set(path, { sourceIndex, initial });
      return;
    }
    this.failed.delete(path);
    const served: ServedFile = { reader, sourceIndex };
    const state: ReaderState = {
      reader,
      sourceIndex,
      detachedAt: undefined,
      detachedBy: undefined,
      lastDataAt: Date.now(),
      onLine: this.options.sink.lines(served),
    };
    this.readers.set(key, state);
    this.options.sink.opened(state);
  }

  private reportOpenError(path: string, sourceIndex: number, error: NodeJS.ErrnoException): void {
    if (error.code === 'ENOENT') {
      // Gone between the rename and the create of a rotation: still a path of the globs until discovery says not.
      this.failed.delete(path);
      return;
    }
    const kind: FileErrorKind = error.code === 'EACCES' || error.code === 'EPERM' ? 'permission' : 'other';
    const firstTime = !this.failed.has(path);
    this.failed.set(path, { sourceIndex, retryAt: Date.now() + this.options.retryOpenMs });
    this.options.sink.fileError(path, kind, error, firstTime);
  }
}
