/**
 * The context of one record: the records just before and after it from the same source (the same key, which the
 * partitioner keeps in one partition, in order). What `grep -C` gives, for a line found by a query.
 *
 * Lines before are found by reading windows of offsets backwards from the record (each window read forwards,
 * doubling up to a cap); lines after by reading forwards. Other sources interleaved in the partition are skipped,
 * so the bytes read are capped (`maxScanBytes`): past it the answer has fewer lines and says `partial`.
 */
import { forEachRecord, readBatchHeader, readBatchSource, toStoredRecord } from '../../shared/batch-codec.ts';
import { OffsetOutOfRangeError, PartitionNotFoundError } from '../../shared/errors.ts';
import type { Offset, PartitionId, StoredRecord } from '../../shared/record.ts';
import type { LogStore } from '../storage/log-store.ts';

export interface ContextRequest {
  readonly topic: string;
  readonly partition: PartitionId;
  readonly offset: Offset;
  readonly before: number;
  readonly after: number;
  readonly maxScanBytes: number;
}

export interface RecordContext {
  /** Oldest first. */
  readonly before: readonly StoredRecord[];
  readonly record: StoredRecord;
  /** Oldest first. */
  readonly after: readonly StoredRecord[];
  readonly partial: boolean;
}

const READ_CHUNK_BYTES = 1024 * 1024;
const FIRST_WINDOW = 256;
const MAX_WINDOW = 65_536;

class RangeReader {
  scannedBytes = 0;
  constructor(
    private readonly store: LogStore,
    private readonly request: ContextRequest,
  ) {}

  get exhausted(): boolean {
    return this.scannedBytes >= this.request.maxScanBytes;
  }

  /**
   * Records of `key` with offsets in [from, to), oldest first, read forwards; stops after `stopAfter` of them or
   * when the budget runs out. Returns where it got to.
   */
  async read(key: string | undefined, from: Offset, to: Offset, out: StoredRecord[], stopAfter = Infinity) {
    const { topic, partition } = this.request;
    let at = from;
    while (at < to && out.length < stopAfter && !this.exhausted) {
      const result = await this.store.read(topic, partition, at, READ_CHUNK_BYTES);
      if (result.batches.length === 0) return to;
      this.scannedBytes += result.batches.length;
      let pos = 0;
      while (pos < result.batches.length && out.length < stopAfter) {
        const header = readBatchHeader(result.batches, pos);
        const batch = result.batches.subarray(pos, pos + header.size);
        pos += header.size;
        if (header.lastOffset < from || header.baseOffset >= to) continue;
        const source = readBatchSource(batch);
        if (key !== undefined && source.key !== key) continue;
        forEachRecord(
          batch,
          (r) => {
            if (r.offset < from || r.offset >= to) return true;
            out.push(toStoredRecord(r, source));
            return out.length < stopAfter;
          },
          header,
          source,
        );
      }
      at = result.nextOffset;
    }
    return Math.min(at, to);
  }
}

export async function recordContext(store: LogStore, request: ContextRequest): Promise<RecordContext> {
  const { topic, partition, offset } = request;
  const { partitions } = await store.describeTopic(topic);
  const info = partitions[partition];
  if (!info) throw new PartitionNotFoundError(topic, partition, partitions.length);
  if (offset < info.startOffset || offset >= info.endOffset) {
    throw new OffsetOutOfRangeError(offset, info.startOffset, info.endOffset);
  }
  const reader = new RangeReader(store, request);
  const found: StoredRecord[] = [];
  await reader.read(undefined, offset, offset + 1, found, 1);
  const record = found[0];
  if (!record) throw new OffsetOutOfRangeError(offset, info.startOffset, info.endOffset);

  let before: StoredRecord[] = [];
  let end = offset;
  let window = FIRST_WINDOW;
  while (before.length < request.before && end > info.startOffset && !reader.exhausted) {
    const from = Math.max(info.startOffset, end - window);
    const chunk: StoredRecord[] = [];
    await reader.read(record.key, from, end, chunk);
    before = [...chunk, ...before];
    end = from;
    window = Math.min(MAX_WINDOW, window * 2);
  }
  before = before.slice(Math.max(0, before.length - request.before));

  const after: StoredRecord[] = [];
  if (request.after > 0) await reader.read(record.key, offset + 1, info.endOffset, after, request.after);
  const partial = reader.exhausted && (before.length < request.before || after.length < request.after);
  return { before, record, after, partial };
}
