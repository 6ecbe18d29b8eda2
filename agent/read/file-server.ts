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
import path from 'node:path';
import { filesIn, findCopy, isRotatedName, prefixOf } from '../discover/rotated-files.ts';
import type { FileErrorKind, RotationKind } from '../metrics.ts';
import { FINGERPRINT_BYTES, type FileKey, type Fingerprint, fileKeyOf } from './fingerprint.ts';
import { FileReader, type StartAt } from './file-reader.ts';
import type { LineHandler } from './line-splitter.ts';

export interface ServedFile {
  readonly reader: FileReader;
  readonly sourceIndex: number;
  /** Set on the copytruncate copy of a file being read: the identity of that original. */
  readonly copyOf?: FileKey;
}

/** How a file found outside discovery (a rotated file after a restart, a copy) is opened. */
export interface FoundFile {
  /**
   * The identity of the file found. Its path is only where it was when it was found: a rotation can rename it (and
   * put another file at that name) before it is opened, so it is opened by identity, found again by it if it moved.
   */
  readonly key: FileKey;
  readonly start: StartAt;
  /** The record key's path (the original's). */
  readonly keyPath: string;
  /**
   * Read to its end at once, its lines sealed before those of the files read after it (a rotated file's lines
   * precede those of the file now at its name); a copy is let go right after.
   */
  readonly drain: boolean;
  readonly copyOf?: FileKey;
}

/** A copy is recognised by its first bytes only when they are this many: shorter prefixes are too common. */
export const COPY_FINGERPRINT_BYTES = FINGERPRINT_BYTES;

export interface FileServerSink {
  /** Where to start a newly found file. `initial`: it was present when the agent started. */
  startAt(key: FileKey, path: string, sourceIndex: number, initial: boolean): StartAt | Promise<StartAt>;
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
  /** A copy was read to its end at once: what it read must leave before the lines read after it. */
  drained(file: ServedFile): void;
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
  /** On a truncation, look for the copy among every file of the directory, not only the globs' paths. */
  readonly copiesOutsideGlobs: boolean;
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
  detachedBy: 'replaced' | 'removed' | 'found' | undefined;
  lastDataAt: number;
  readonly onLine: LineHandler;
}

export class FileServer {
  private readonly options: FileServerOptions;
  private readonly readers = new Map<FileKey, ReaderState>();
  /** Paths to look at on the next turn: newly discovered, or whose file was replaced. */
  private readonly toOpen = new Map<string, { sourceIndex: number; initial: boolean; found?: FoundFile }>();
  /** The copy being read for each truncated original (its lines go before the original's new ones). */
  private readonly copies = new Map<FileKey, ReaderState>();
  /** New paths whose first bytes are those of a file being read (a copy, before the original's truncation). */
  private readonly deferred = new Map<string, number>();
  /** Callers of nextTurn, resolved at the end of the first turn that starts after them. */
  private readonly turnWaiters: (() => void)[] = [];
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

  /**
   * A file outside discovery's view to read (a rotated file found after a restart): detached from the start, read
   * to its end, let go after `rotateWaitMs` (a copy: at once).
   */
  adopt(filePath: string, sourceIndex: number, found: FoundFile): void {
    this.toOpen.set(filePath, { sourceIndex, initial: false, found });
    this.poke();
  }

  /**
   * Resolves once a whole turn has run after this call (at once when stopped): every file reported before it is
   * open, its start position taken. The agent says it has started only then, so a line written after that is never
   * taken for history by `start_position: end`.
   */
  nextTurn(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.turnWaiters.push(resolve);
      this.poke();
    });
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
    for (const resolve of this.turnWaiters.splice(0)) resolve();
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
      const waiting = this.turnWaiters.splice(0);
      try {
        busy = await this.turn();
      } catch (error) {
        this.options.sink.fileError('(file server)', 'other', error as Error, true);
      }
      for (const resolve of waiting) resolve();
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
      // A truncated file whose copy is not read to its end yet waits: the copy's lines come first.
      if (this.copyPending(state.reader.key)) continue;
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

  private copyPending(original: FileKey): boolean {
    const copy = this.copies.get(original);
    return copy !== undefined && this.readers.get(copy.reader.key) === copy && !copy.reader.atEnd;
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
      case 'truncated': {
        // copytruncate: the lines not read yet are in the copy (same first bytes, another inode), if anywhere.
        const copy = await findCopy(path.dirname(reader.path), reader.fingerprint, reader.key, COPY_FINGERPRINT_BYTES);
        const from = reader.lineEnd;
        this.options.sink.truncated(state);
        if (copy && !this.readers.has(copy.key) && (this.options.copiesOutsideGlobs || this.paths.has(copy.path))) {
          await this.openOne(copy.path, state.sourceIndex, false, {
            key: copy.key,
            start: { kind: 'copy', position: from },
            keyPath: reader.openedPath,
            drain: true,
            copyOf: reader.key,
          });
        }
        await reader.restartFromBeginning();
        this.options.sink.rotation('copytruncate', state);
        this.options.sink.restarted(state);
        return;
      }
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
    if (state.copyOf !== undefined && this.copies.get(state.copyOf) === state) this.copies.delete(state.copyOf);
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
    for (const [p, { sourceIndex, initial, found }] of batch) await this.openOne(p, sourceIndex, initial, found);
  }

  private async openOne(filePath: string, sourceIndex: number, initial: boolean, found?: FoundFile): Promise<void> {
    let path = filePath;
    let key: FileKey;
    if (found) {
      // Opened by identity: a rotation may have renamed it since it was found (and put another file at its name).
      const now = await locate(found.key, filePath);
      if (!now) return; // deleted since: nothing left to read
      ({ path, key } = now);
    } else {
      try {
        const stats = await stat(path);
        if (!stats.isFile()) return;
        key = fileKeyOf(stats);
      } catch (error) {
        this.reportOpenError(path, sourceIndex, error as NodeJS.ErrnoException);
        return;
      }
    }
    const existing = this.readers.get(key);
    if (existing && found) return;
    if (existing) {
      // A file we already read under another name (renamed and still matching): follow it, keep its position.
      if (existing.detachedBy === 'removed') this.options.sink.rotation('rename', existing);
      existing.reader.path = path;
      existing.detachedAt = undefined;
      existing.detachedBy = undefined;
      return;
    }
    if (!found && (await this.isEarlyCopy(path, key))) return;
    let reader: FileReader;
    try {
      reader = await FileReader.open({
        path,
        startAt: found ? found.start : await this.options.sink.startAt(key, path, sourceIndex, initial),
        ...(found ? { keyPath: found.keyPath } : {}),
        maxLineBytes: this.options.maxLineBytesOf(sourceIndex),
        chunkBytes: this.options.chunkBytes,
      });
    } catch (error) {
      this.reportOpenError(path, sourceIndex, error as NodeJS.ErrnoException);
      return;
    }
    if (reader.key !== key || this.readers.has(reader.key)) {
      // The path changed between stat and open: look again next turn (a found file, by its identity).
      await reader.close();
      this.toOpen.set(path, { sourceIndex, initial, ...(found ? { found } : {}) });
      return;
    }
    this.failed.delete(path);
    this.deferred.delete(path);
    const copyOf = found?.copyOf;
    const served: ServedFile = { reader, sourceIndex, ...(copyOf === undefined ? {} : { copyOf }) };
    const state: ReaderState = {
      reader,
      sourceIndex,
      ...(copyOf === undefined ? {} : { copyOf }),
      detachedAt: found ? Date.now() : undefined,
      detachedBy: found ? 'found' : undefined,
      lastDataAt: Date.now(),
      onLine: this.options.sink.lines(served),
    };
    this.readers.set(key, state);
    if (copyOf !== undefined) this.copies.set(copyOf, state);
    this.options.sink.opened(state);
    if (found?.drain) {
      // Within the unacked-bytes bound: a file too big for it is read on by the turns, as any other.
      for (;;) {
        if (this.options.paused()) return;
        const n = await reader.read(state.onLine, this.buffer);
        if (n === 0) break;
        this.options.sink.read(state, n);
      }
      if (this.paths.has(path)) {
        // In the globs: it stays a file being read (discovery would open it again), its lines sealed now.
        state.detachedAt = undefined;
        state.detachedBy = undefined;
        this.options.sink.drained(state);
      } else if (found.start.kind === 'copy') {
        await this.letGo(state); // a copy is complete: nobody writes to it
      } else {
        // A rotated file: its lines sealed now, then kept `rotateWaitMs` for a writer that has not reopened yet.
        this.options.sink.drained(state);
      }
    }
  }

  /**
   * A new file that starts with the first bytes of a file being read is, most likely, its copytruncate copy made
   * before the truncation: the original's reader reads the copy's rest when it sees the truncation. It waits
   * `rotateWaitMs` for that. Then the originals are looked at once more before it is read as a new file: a busy or
   * paused agent may not have checked them since logrotate truncated one, and that look opens this file as the copy,
   * from where its original stopped. A file that is still no one's copy then (same header, or an operator's `cp`) is
   * read as a new file.
   *
   * Discovery can see a copy while logrotate is still writing it: empty, or shorter than the bytes that identify a
   * copy. Read from 0 then, every line in it would arrive twice. So a file at a rotated name of a file being read
   * waits while it is empty (there is nothing to read before), and like a copy while its bytes so far are how that
   * file begins. Other new files (the new app.log of a create rotation, a kubelet's new 0.log) open at once.
   */
  private async isEarlyCopy(filePath: string, key: FileKey): Promise<boolean> {
    const originals = [...this.readers.values()].filter(
      (r) => r.reader.key !== key && r.reader.fingerprint.length === COPY_FINGERPRINT_BYTES,
    );
    if (originals.length === 0) return false;
    const print = await prefixOf(filePath, COPY_FINGERPRINT_BYTES);
    if (!print) return false;
    const copied: ReaderState[] = [];
    if (print.length === COPY_FINGERPRINT_BYTES) {
      copied.push(...originals.filter((r) => r.reader.fingerprint.crc === print.crc));
    } else {
      // Too short to identify a copy: only a file at a rotated name of a file being read (app.log.1 of app.log)
      // whose bytes so far are how that file begins is taken for a copy being written.
      const rotatedFrom = originals.filter(
        (r) =>
          path.dirname(r.reader.path) === path.dirname(filePath) &&
          isRotatedName(path.basename(r.reader.path), path.basename(filePath)),
      );
      if (print.length === 0) return rotatedFrom.length > 0;
      for (const r of rotatedFrom) {
        const head = await prefixOf(r.reader.path, print.length);
        if (head?.length === print.length && head.crc === print.crc) copied.push(r);
      }
    }
    const since = this.deferred.get(filePath);
    if (copied.length === 0) {
      this.deferred.delete(filePath);
      return false;
    }
    if (since === undefined) this.deferred.set(filePath, Date.now());
    if (since === undefined || Date.now() - since < this.options.rotateWaitMs) return true;
    for (const original of copied) await this.checkOne(original, Date.now());
    if (!this.readers.has(key)) return false;
    this.deferred.delete(filePath);
    return true;
  }

  /** True when `print` (a file's first COPY_FINGERPRINT_BYTES bytes) is how a file being read begins. */
  isCopyOfFileBeingRead(print: Fingerprint): boolean {
    if (print.length !== COPY_FINGERPRINT_BYTES) return false;
    for (const { reader } of this.readers.values()) {
      if (reader.fingerprint.length === COPY_FINGERPRINT_BYTES && reader.fingerprint.crc === print.crc) return true;
    }
    return false;
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

/** Where the file `key` is now: at `where` still, or renamed within its directory; undefined once it is gone. */
async function locate(key: FileKey, where: string): Promise<{ path: string; key: FileKey } | undefined> {
  try {
    const stats = await stat(where);
    if (stats.isFile() && fileKeyOf(stats) === key) return { path: where, key };
  } catch {
    // not at this name any more
  }
  const moved = (await filesIn(path.dirname(where))).find((f) => f.key === key);
  return moved && { path: moved.path, key };
}
