/**
 * One segment of a partition: a `.log` file of whole record batches (shared/batch-codec.ts) laid end to end, whose
 * first batch has the segment's base offset, plus its sparse offset and time indexes (sparse-index.ts).
 *
 * Invariants: batches are contiguous in offsets and in bytes; `size` is the byte length of the valid log; every
 * index entry points at a batch boundary below `size`. Writes are positional at `size` through one FileHandle.
 *
 * Crash policy: the active segment is re-read batch by batch on open (`recover`), CRC-checked, truncated to the end
 * of the last valid batch, and its indexes rebuilt with the same rule as append (`indexBatch`). A closed segment
 * is trusted for its size and headers, and each batch's CRC is checked the first time this process reads it: a bad
 * batch is reported as CorruptDataError, never returned.
 *
 * Not safe for concurrent writers: the partition log serializes appends; reads may run beside an append since they
 * never look past the size the partition log has made visible.
 */
import { type FileHandle, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type BatchHeader, MAX_HEADER_SIZE, isCrcValid, readBatchHeader } from '../../../shared/batch-codec.ts';
import { CorruptBatchError, CorruptDataError } from '../../../shared/errors.ts';
import type { Offset, TimestampMs } from '../../../shared/record.ts';
import { INDEX_SUFFIX, LOG_SUFFIX, segmentFileStem, TIME_INDEX_SUFFIX } from './log-file-names.ts';
import { INDEX_INTERVAL_BYTES, SparseIndex } from './sparse-index.ts';

/** Large sequential reads for recovery scans: few syscalls, bounded memory. */
const SCAN_CHUNK_BYTES = 8 * 1024 * 1024;

export interface RecoveryResult {
  readonly truncatedBytes: number;
  readonly reason: string;
}

export class Segment {
  readonly baseOffset: Offset;
  /** When the segment's first batch was written (the file's time after a restart): the age rule counts from it. */
  createdAtMs: TimestampMs;
  private readonly stem: string;
  private file: FileHandle;
  private offsetIndex = new SparseIndex('offset');
  private timeIndex = new SparseIndex('time');
  private bytesSinceIndexEntry = 0;
  /** Byte length of the log. */
  size = 0;
  /** The offset after the last batch. */
  nextOffset: Offset;
  /** Greatest batch max-timestamp in the segment; -1 while empty. */
  maxTimestamp: TimestampMs = -1;
  /**
   * Bytes from the start whose CRCs this process has already checked: the active segment's at recovery and at
   * append (the partition log validates every batch it is given), a closed segment's as reads cover it. A segment
   * is never rewritten, so a batch checked once is not hashed again on every read.
   */
  private verifiedSize = 0;
  private readers = 0;
  private closeWhenIdle: (() => void) | undefined;

  private constructor(dir: string, baseOffset: Offset, file: FileHandle, createdAtMs: TimestampMs) {
    this.baseOffset = baseOffset;
    this.nextOffset = baseOffset;
    this.stem = join(dir, segmentFileStem(baseOffset));
    this.file = file;
    this.createdAtMs = createdAtMs;
  }

  get logPath(): string {
    return this.stem + LOG_SUFFIX;
  }

  static async create(dir: string, baseOffset: Offset, nowMs: TimestampMs): Promise<Segment> {
    const file = await open(join(dir, segmentFileStem(baseOffset) + LOG_SUFFIX), 'w+');
    return new Segment(dir, baseOffset, file, nowMs);
  }

  /** Opens an existing segment. Call `recover()` (active) or `loadIndexes()` (closed) before using it. */
  static async open(dir: string, baseOffset: Offset): Promise<Segment> {
    const path = join(dir, segmentFileStem(baseOffset) + LOG_SUFFIX);
    const file = await open(path, 'r+');
    const stat = await file.stat();
    const segment = new Segment(dir, baseOffset, file, stat.birthtimeMs || stat.mtimeMs);
    segment.size = stat.size;
    return segment;
  }

  /** The indexing rule, shared by append and recovery. */
  private indexBatch(header: BatchHeader, position: number): void {
    if (this.offsetIndex.entries === 0 || this.bytesSinceIndexEntry >= INDEX_INTERVAL_BYTES) {
      const relative = header.baseOffset - this.baseOffset;
      this.offsetIndex.add(relative, position);
      // Key: greatest max-timestamp up to and including this batch; an entry only when it grew.
      const running = Math.max(this.maxTimestamp, header.maxTimestamp);
      const last = this.timeIndex.lastKey;
      if (last === undefined || running > last) this.timeIndex.add(running, relative);
      this.bytesSinceIndexEntry = 0;
    }
    this.bytesSinceIndexEntry += header.size;
    if (header.maxTimestamp > this.maxTimestamp) this.maxTimestamp = header.maxTimestamp;
    this.nextOffset = header.lastOffset + 1;
  }

  /** State to return to if the write that follows fails. */
  mark(): { size: number; nextOffset: Offset; maxTimestamp: number; entries: [number, number]; since: number } {
    return {
      size: this.size,
      nextOffset: this.nextOffset,
      maxTimestamp: this.maxTimestamp,
      entries: [this.offsetIndex.entries, this.timeIndex.entries],
      since: this.bytesSinceIndexEntry,
    };
  }

  /** Undoes everything after `mark`: the file is cut back, so no byte of a failed append survives. */
  async rollback(mark: ReturnType<Segment['mark']>): Promise<void> {
    this.size = mark.size;
    this.verifiedSize = Math.min(this.verifiedSize, mark.size);
    this.nextOffset = mark.nextOffset;
    this.maxTimestamp = mark.maxTimestamp;
    this.offsetIndex.truncateEntries(mark.entries[0]);
    this.timeIndex.truncateEntries(mark.entries[1]);
    this.bytesSinceIndexEntry = mark.since;
    await this.file.truncate(mark.size);
  }

  /** Writes whole, offset-stamped batches at the end of the log (not yet synced). */
  async append(bytes: Buffer, headers: readonly BatchHeader[]): Promise<void> {
    let written = 0;
    while (written < bytes.length) {
      const { bytesWritten } = await this.file.write(bytes, written, bytes.length - written, this.size + written);
      written += bytesWritten;
    }
    let position = this.size;
    for (const header of headers) {
      this.indexBatch(header, position);
      position += header.size;
    }
    if (this.verifiedSize === this.size) this.verifiedSize = position;
    this.size = position;
  }

  async sync(): Promise<void> {
    await this.file.sync();
  }

  /**
   * Validates the log batch by batch from the start, rebuilding the indexes, and truncates a torn or corrupt tail.
   */
  async recover(visit?: (header: BatchHeader) => void): Promise<RecoveryResult> {
    this.offsetIndex = new SparseIndex('offset');
    this.timeIndex = new SparseIndex('time');
    this.bytesSinceIndexEntry = 0;
    this.maxTimestamp = -1;
    this.nextOffset = this.baseOffset;
    const fileSize = this.size;
    let reason = '';
    const validEnd = await this.scan(0, fileSize, true, (header, position) => {
      if (header.baseOffset !== this.nextOffset) {
        reason = `batch at byte ${position} has base offset ${header.baseOffset}, expected ${this.nextOffset}`;
        return false;
      }
      this.indexBatch(header, position);
      visit?.(header);
      return true;
    });
    this.verifiedSize = validEnd.end;
    if (validEnd.end < fileSize) {
      await this.file.truncate(validEnd.end);
      await this.file.sync();
    }
    this.size = validEnd.end;
    return { truncatedBytes: fileSize - validEnd.end, reason: reason || validEnd.reason };
  }

  /**
   * Visits the headers of a closed segment's last batches, at least its last `bytes` (from the index entry before
   * them), in log order.
   */
  async visitTail(bytes: number, visit: (header: BatchHeader) => void): Promise<void> {
    const start = this.offsetIndex.floorByValue(Math.max(0, this.size - bytes))?.value ?? 0;
    await this.scan(start, this.size, false, (header) => {
      visit(header);
      return true;
    });
  }

  /** Loads a closed segment's indexes, rebuilding them from the log when missing or invalid. */
  async loadIndexes(): Promise<boolean> {
    const offsets = await SparseIndex.load('offset', this.stem + INDEX_SUFFIX, Math.max(this.size, 1));
    const times = offsets && (await SparseIndex.load('time', this.stem + TIME_INDEX_SUFFIX, 2 ** 32));
    if (offsets && times && offsets.entries > 0) {
      // The last indexed batch and what follows it give the end offset and the max timestamp.
      this.offsetIndex = offsets;
      this.timeIndex = times;
      this.maxTimestamp = times.lastKey ?? -1;
      const start = offsets.lastValue!;
      const end = await this.scan(start, this.size, false, (header) => {
        this.nextOffset = header.lastOffset + 1;
        if (header.maxTimestamp > this.maxTimestamp) this.maxTimestamp = header.maxTimestamp;
        return true;
      });
      if (end.end === this.size) return false;
    }
    await this.recoverIndexesOnly();
    return true;
  }

  private async recoverIndexesOnly(): Promise<void> {
    this.offsetIndex = new SparseIndex('offset');
    this.timeIndex = new SparseIndex('time');
    this.bytesSinceIndexEntry = 0;
    this.maxTimestamp = -1;
    this.nextOffset = this.baseOffset;
    await this.scan(0, this.size, false, (header, position) => {
      this.indexBatch(header, position);
      return true;
    });
  }

  async saveIndexes(): Promise<void> {
    await this.offsetIndex.save(this.stem + INDEX_SUFFIX);
    await this.timeIndex.save(this.stem + TIME_INDEX_SUFFIX);
  }

  /**
   * Walks batch headers from `start` to `end` in large chunks; with `verify`, checks each CRC. Stops at the first
   * batch that is torn, corrupt or refused by `visit`, and returns where the valid part ends.
   */
  private async scan(
    start: number,
    end: number,
    verify: boolean,
    visit: (header: BatchHeader, position: number) => boolean,
  ): Promise<{ end: number; reason: string }> {
    let position = start;
    while (position < end) {
      const chunk = await this.readAt(position, Math.min(SCAN_CHUNK_BYTES, end - position));
      let pos = 0;
      let progressed = false;
      while (pos < chunk.length) {
        let header: BatchHeader;
        try {
          header = readBatchHeader(chunk, pos);
        } catch (error) {
          if (chunk.length - pos >= MAX_HEADER_SIZE || position + chunk.length >= end) {
            return { end: position + pos, reason: (error as Error).message };
          }
          break; // header cut by the chunk: read on from here
        }
        if (pos + header.size > chunk.length) {
          if (position + pos + header.size > end) return { end: position + pos, reason: 'torn batch at the end' };
          if (pos === 0) {
            // A batch larger than a chunk: read it whole.
            const whole = await this.readAt(position, header.size);
            if (verify && !isCrcValid(whole, 0, header)) return { end: position, reason: 'CRC mismatch' };
            if (!visit(header, position)) return { end: position, reason: '' };
            pos = header.size;
            progressed = true;
          }
          break;
        }
        if (verify && !isCrcValid(chunk, pos, header)) return { end: position + pos, reason: 'CRC mismatch' };
        if (!visit(header, position + pos)) return { end: position + pos, reason: '' };
        pos += header.size;
        progressed = true;
      }
      if (!progressed) return { end: position, reason: 'unreadable batch header' };
      position += pos;
    }
    return { end: position, reason: '' };
  }

  private async readAt(position: number, length: number, readInto?: (size: number) => Buffer): Promise<Buffer> {
    const buf = readInto ? readInto(length) : Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await this.file.read(buf, filled, length - filled, position + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled === length ? buf : buf.subarray(0, filled);
  }

  private corrupt(detail: string): CorruptDataError {
    return new CorruptDataError(`segment ${this.logPath}: ${detail}; the data there cannot be served`);
  }

  private async headerAt(position: number, limit: number): Promise<BatchHeader> {
    const bytes = await this.readAt(position, Math.min(MAX_HEADER_SIZE, limit - position));
    try {
      const header = readBatchHeader(bytes, 0);
      if (position + header.size > limit) throw new CorruptBatchError('batch runs past the end of the segment');
      return header;
    } catch (error) {
      throw this.corrupt(`bad batch header at byte ${position} (${(error as Error).message})`);
    }
  }

  /** Byte position and header of the batch holding `offset`, looking no further than `limit` bytes. */
  private async locate(offset: Offset, limit: number): Promise<{ position: number; size: number } | undefined> {
    let position = this.offsetIndex.floor(offset - this.baseOffset)?.value ?? 0;
    while (position < limit) {
      const header = await this.headerAt(position, limit);
      if (header.lastOffset >= offset) return { position, size: header.size };
      position += header.size;
    }
    return undefined;
  }

  /**
   * Whole batches from the one holding `offset`, up to `maxBytes` (at least one), within the first `limit` bytes.
   * Each batch's CRC is checked: stored corruption raises CorruptDataError. `readInto` supplies the buffer to fill.
   */
  async read(offset: Offset, maxBytes: number, limit: number, readInto?: (size: number) => Buffer): Promise<Buffer> {
    return this.withReader(async () => {
      const first = await this.locate(offset, limit);
      if (first === undefined) return Buffer.alloc(0);
      const start = first.position;
      // At least the first batch whole, whatever maxBytes is (its size is known from locating it).
      const chunk = await this.readAt(start, Math.min(Math.max(maxBytes, first.size), limit - start), readInto);
      let pos = 0;
      while (pos < chunk.length) {
        let header: BatchHeader;
        try {
          header = readBatchHeader(chunk, pos);
        } catch (error) {
          if (chunk.length - pos < MAX_HEADER_SIZE && pos > 0) break;
          throw this.corrupt(`bad batch header at byte ${start + pos} (${(error as Error).message})`);
        }
        if (pos + header.size > chunk.length) {
          if (pos > 0) break;
          // The first batch was read whole (its size came from locating it): it can only be cut by the segment end.
          throw this.corrupt(`batch at byte ${start} runs past the segment end`);
        }
        const end = start + pos + header.size;
        if (end > this.verifiedSize) {
          if (!isCrcValid(chunk, pos, header)) {
            throw this.corrupt(`batch at byte ${start + pos} (offset ${header.baseOffset}) fails its CRC check`);
          }
          if (start + pos === this.verifiedSize) this.verifiedSize = end;
        }
        pos += header.size;
      }
      return chunk.subarray(0, pos);
    });
  }

  /** The first offset of the first batch whose max timestamp is >= `timestamp`, within `limit` bytes. */
  async offsetForTimestamp(timestamp: TimestampMs, limit: number): Promise<Offset | undefined> {
    if (this.maxTimestamp < timestamp) return undefined;
    return this.withReader(async () => {
      const entry = this.timeIndex.floor(timestamp - 1);
      let position = entry ? (this.offsetIndex.floor(entry.value)?.value ?? 0) : 0;
      while (position < limit) {
        const header = await this.headerAt(position, limit);
        if (header.maxTimestamp >= timestamp) return header.baseOffset;
        position += header.size;
      }
      return undefined;
    });
  }

  private async withReader<T>(work: () => Promise<T>): Promise<T> {
    this.readers++;
    try {
      return await work();
    } finally {
      this.readers--;
      if (this.readers === 0) this.closeWhenIdle?.();
    }
  }

  /** Closes the file once reads in progress finish. */
  async close(): Promise<void> {
    if (this.readers > 0) await new Promise<void>((resolve) => (this.closeWhenIdle = resolve));
    await this.file.close();
  }

  /** Deletes the segment's files (retention, topic deletion). */
  async delete(): Promise<void> {
    await this.close();
    await Promise.all(
      [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX].map((suffix) => rm(this.stem + suffix, { force: true })),
    );
  }
}
