/**
 * Reading a partition's stream: find the message holding an offset or a time (binary search over the held
 * sequences, partition-stream.ts says why that is sound), read whole messages from there, and wait for the next
 * append (the long-poll). Every read goes through the stream leader (`getMessage`), so it sees every acknowledged
 * append; stored batches are CRC-checked before they are returned.
 */
import type { NatsConnection } from 'nats';
import { isCrcValid, readBatchHeader } from '../../../shared/batch-codec.ts';
import { CorruptDataError, OffsetOutOfRangeError } from '../../../shared/errors.ts';
import type { Offset, PartitionId, TimestampMs } from '../../../shared/record.ts';
import type { ReadResult, StorageEvents } from '../log-store.ts';
import { logSubject } from './names.ts';
import { H_BASE, H_MAXTS, H_NEXT, headerNumber, type PartitionStreams } from './partition-stream.ts';
import type { TopicEntry } from './topic-catalogue.ts';

export class StreamReader {
  constructor(
    private readonly nc: NatsConnection,
    private readonly streams: PartitionStreams,
    private readonly events: StorageEvents,
  ) {}

  /** The largest held sequence whose message's base offset is <= offset (binary search, O(log n) gets). */
  private async seqForOffset(topic: string, partition: PartitionId, offset: Offset, lo: number, hi: number) {
    while (lo < hi) {
      const mid = Math.floor((lo + hi + 1) / 2);
      const base = headerNumber(await this.streams.getMsg(topic, partition, mid), H_BASE);
      if (base <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  async read(
    topic: string,
    partition: PartitionId,
    entry: TopicEntry,
    offset: Offset,
    maxBytes: number,
  ): Promise<ReadResult> {
    const b = await this.streams.bounds(topic, partition, entry);
    if (!Number.isSafeInteger(offset) || offset < b.startOffset || offset > b.endOffset) {
      throw new OffsetOutOfRangeError(offset, b.startOffset, b.endOffset);
    }
    if (offset === b.endOffset) {
      return { batches: Buffer.alloc(0), nextOffset: offset, startOffset: b.startOffset, endOffset: b.endOffset };
    }
    let seq = await this.seqForOffset(topic, partition, offset, b.firstSeq, b.lastSeq);
    const parts: Buffer[] = [];
    let size = 0;
    let nextOffset = offset;
    while (seq <= b.lastSeq) {
      const msg = await this.streams.getMsg(topic, partition, seq);
      const data = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
      if (parts.length > 0 && size + data.length > maxBytes) break;
      let pos = 0;
      while (pos < data.length) {
        const header = readBatchHeader(data, pos);
        if (!isCrcValid(data, pos, header)) {
          this.events.corruptionDetected?.(topic, partition, `sequence ${seq}: batch CRC mismatch`);
          throw new CorruptDataError(`stored batch at offset ${header.baseOffset} of ${topic}/${partition} is corrupt`);
        }
        pos += header.size;
      }
      parts.push(data);
      size += data.length;
      nextOffset = headerNumber(msg, H_NEXT);
      seq++;
      if (size >= maxBytes) break;
    }
    return { batches: Buffer.concat(parts), nextOffset, startOffset: b.startOffset, endOffset: b.endOffset };
  }

  async offsetForTimestamp(
    topic: string,
    partition: PartitionId,
    entry: TopicEntry,
    timestamp: TimestampMs,
  ): Promise<Offset> {
    const b = await this.streams.bounds(topic, partition, entry);
    if (b.startOffset === b.endOffset) return b.endOffset;
    // First sequence whose running max timestamp >= timestamp: it is the first batch whose own max is >= it.
    let lo = b.firstSeq;
    let hi = b.lastSeq + 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (headerNumber(await this.streams.getMsg(topic, partition, mid), H_MAXTS) >= timestamp) hi = mid;
      else lo = mid + 1;
    }
    if (lo > b.lastSeq) return b.endOffset;
    // A message holds several batches: return the first of them whose own max timestamp reaches it.
    const msg = await this.streams.getMsg(topic, partition, lo);
    const data = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
    for (let pos = 0; pos < data.length; ) {
      const header = readBatchHeader(data, pos);
      if (header.maxTimestamp >= timestamp) return header.baseOffset;
      pos += header.size;
    }
    return headerNumber(msg, H_BASE);
  }

  async waitForAppend(
    topic: string,
    partition: PartitionId,
    entry: TopicEntry,
    offset: Offset,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    // Subscribe before checking, so an append between the check and the subscription is not missed.
    const sub = this.nc.subscribe(logSubject(topic, partition), { max: 1 });
    try {
      const b = await this.streams.bounds(topic, partition, entry);
      if (b.endOffset > offset) return true;
      if (signal?.aborted) return false;
      return await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => finish(false), timeoutMs);
        const onAbort = () => finish(false);
        signal?.addEventListener('abort', onAbort, { once: true });
        function finish(value: boolean) {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(value);
        }
        void (async () => {
          for await (const m of sub) {
            finish(m.headers !== undefined && Number(m.headers.get(H_NEXT)) > offset);
            return;
          }
        })();
      });
    } finally {
      sub.unsubscribe();
    }
  }
}
