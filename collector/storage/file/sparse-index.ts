/**
 * The sparse indexes of a segment (Kafka's AbstractIndex): a list of (key, value) entries with keys increasing
 * strictly, searched for the greatest key <= a target. Two kinds share this code:
 *
 *   OffsetIndex  key = offset relative to the segment's base offset, value = byte position of that batch
 *                file layout: entries of 8 bytes, uint32 BE relative offset, uint32 BE position
 *   TimeIndex    key = the greatest batch max-timestamp seen so far in the segment, value = relative offset of the
 *                batch that raised it; file layout: entries of 12 bytes, int64 BE timestamp, uint32 BE relative offset
 *
 * Entries are added at most once every INDEX_INTERVAL_BYTES of log (4096, as Kafka's index.interval.bytes), at a
 * batch boundary, so an index stays about 1/500 of its segment and a lookup scans at most ~4 KiB of headers. The
 * entries live in memory (typed arrays, no mmap in Node); the files are written when a segment is closed (rolled or
 * the store shut down). Crash policy: the active segment's indexes are always rebuilt from its log on open; a
 * closed segment's index file that is missing or fails validation (size, order, positions past the log) is rebuilt
 * by scanning that segment, with the same interval rule as append.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-file.ts';

export const INDEX_INTERVAL_BYTES = 4096;

export class SparseIndex {
  private keys: Float64Array;
  private values: Float64Array;
  private count = 0;

  constructor(readonly kind: 'offset' | 'time') {
    this.keys = new Float64Array(64);
    this.values = new Float64Array(64);
  }

  get entries(): number {
    return this.count;
  }

  get lastKey(): number | undefined {
    return this.count === 0 ? undefined : this.keys[this.count - 1];
  }

  get lastValue(): number | undefined {
    return this.count === 0 ? undefined : this.values[this.count - 1];
  }

  /** Adds an entry; keys must increase strictly (callers only add when they do). */
  add(key: number, value: number): void {
    if (this.count === this.keys.length) {
      const keys = new Float64Array(this.count * 2);
      const values = new Float64Array(this.count * 2);
      keys.set(this.keys);
      values.set(this.values);
      this.keys = keys;
      this.values = values;
    }
    this.keys[this.count] = key;
    this.values[this.count] = value;
    this.count++;
  }

  /** The entry with the greatest key <= target, or undefined when every key is greater. */
  floor(target: number): { key: number; value: number } | undefined {
    return this.entryAt(lastAtOrBelow(this.keys, this.count, target));
  }

  /** The entry with the greatest value <= target (values increase with keys in an offset index), or undefined. */
  floorByValue(target: number): { key: number; value: number } | undefined {
    return this.entryAt(lastAtOrBelow(this.values, this.count, target));
  }

  private entryAt(i: number): { key: number; value: number } | undefined {
    return i < 0 ? undefined : { key: this.keys[i]!, value: this.values[i]! };
  }

  /** The entry with the smallest key >= target, or undefined. */
  ceiling(target: number): { key: number; value: number } | undefined {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid]! >= target) {
        found = mid;
        hi = mid - 1;
      } else {
        lo = mid + 1;
      }
    }
    return found < 0 ? undefined : { key: this.keys[found]!, value: this.values[found]! };
  }

  /** Drops entries from `count` on (an append that failed after its entries were added). */
  truncateEntries(count: number): void {
    this.count = Math.min(this.count, count);
  }

  private get entrySize(): number {
    return this.kind === 'offset' ? 8 : 12;
  }

  async save(path: string): Promise<void> {
    const size = this.entrySize;
    const out = Buffer.allocUnsafe(this.count * size);
    for (let i = 0; i < this.count; i++) {
      if (this.kind === 'offset') {
        out.writeUInt32BE(this.keys[i]!, i * size);
        out.writeUInt32BE(this.values[i]!, i * size + 4);
      } else {
        out.writeBigInt64BE(BigInt(this.keys[i]!), i * size);
        out.writeUInt32BE(this.values[i]!, i * size + 8);
      }
    }
    await writeFileAtomic(path, out);
  }

  /**
   * Loads an index file, or returns undefined when it is missing or invalid: its size is not a whole number of
   * entries, its keys do not increase, or a value points past `limit` (the log size, or the relative end offset).
   */
  static async load(kind: 'offset' | 'time', path: string, limit: number): Promise<SparseIndex | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch {
      return undefined;
    }
    const index = new SparseIndex(kind);
    const size = index.entrySize;
    if (bytes.length % size !== 0) return undefined;
    for (let pos = 0; pos < bytes.length; pos += size) {
      const key = kind === 'offset' ? bytes.readUInt32BE(pos) : Number(bytes.readBigInt64BE(pos));
      const value = bytes.readUInt32BE(pos + (kind === 'offset' ? 4 : 8));
      const last = index.lastKey;
      if ((last !== undefined && key <= last) || value >= limit) return undefined;
      index.add(key, value);
    }
    return index;
  }
}

/** Index of the last of the first `count` (increasing) numbers that is <= target; -1 when none is. */
function lastAtOrBelow(sorted: Float64Array, count: number, target: number): number {
  let lo = 0;
  let hi = count - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= target) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}
