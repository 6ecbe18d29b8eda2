/**
 * One topic-partition as a JetStream stream: the stream's settings, the layout of its messages, and where the
 * partition's offsets stand (its tail and its bounds).
 *
 * Message layout: one message = the batches of one append, concatenated as stored (offsets stamped). Never one
 * record per message (per-message acks cap at ~15–20k msg/s; 100 KB messages reach ~120 MB/s). Keeping an append
 * in one message makes it atomic: it is visible whole or not at all, as the contract demands. Headers:
 * `Trib-Base-Offset`, `Trib-Next-Offset` (base + record count), `Trib-Max-Ts` (the running maximum of the
 * partition's batch max timestamps, so it never decreases along the stream).
 *
 * Invariants
 * - Stream sequence order equals offset order, and messages are only ever removed from the head (retention), so the
 *   held sequences [first_seq, last_seq] are contiguous: find-by-offset is a binary search over sequences with
 *   get-by-sequence on `Trib-Base-Offset`; find-by-time the same on `Trib-Max-Ts` (monotonic by construction).
 * - Offsets are contiguous: a message's base offset is the previous message's `Trib-Next-Offset`.
 * - An empty stream (retention removed everything) has no tail message: its next offset is the largest of what this
 *   collector saw and the floor recorded in the topic's entry (floors.ts).
 */
import { DiscardPolicy, RetentionPolicy, type StoredMsg, type StreamConfig, type StreamInfo, StorageType } from 'nats';
import { CorruptDataError } from '../../../shared/errors.ts';
import type { Offset, PartitionId, TimestampMs } from '../../../shared/record.ts';
import type { TopicConfig } from '../log-store.ts';
import type { JetStreamSession } from './connection.ts';
import { logSubject, streamName } from './names.ts';
import type { TopicEntry } from './topic-catalogue.ts';

/** Retention racing a bounds read is rare (it removes messages once a second at most); a few rounds settle it. */
const MAX_BOUNDS_ATTEMPTS = 5;

function isNoMessage(error: unknown): boolean {
  return error instanceof Error && /no message found/i.test(error.message);
}

export const H_BASE = 'Trib-Base-Offset';
export const H_NEXT = 'Trib-Next-Offset';
export const H_MAXTS = 'Trib-Max-Ts';

/** Where appends to a partition continue: the stream's last sequence and the offset after its last record. */
export interface PartitionTail {
  readonly lastSeq: number;
  readonly nextOffset: Offset;
  readonly maxTs: TimestampMs;
}

export interface PartitionBounds {
  readonly startOffset: Offset;
  readonly endOffset: Offset;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly bytes: number;
  /** The stream's info as the leader answered it (placement, replicas, storage), for describe. */
  readonly info: StreamInfo;
}

/** The stream of a topic's partition: limits retention from the topic config, file storage, `replicas` copies. */
export function streamConfig(
  topic: string,
  partition: PartitionId,
  config: TopicConfig,
  replicas: number,
): Partial<StreamConfig> & { name: string } {
  return {
    name: streamName(topic, partition),
    subjects: [logSubject(topic, partition)],
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    storage: StorageType.File,
    num_replicas: replicas,
    max_age: config.retentionMs === null ? 0 : config.retentionMs * 1_000_000,
    max_bytes: config.retentionBytes ?? -1,
    // The server refuses a duplicate window longer than max_age.
    duplicate_window: Math.min(120_000, config.retentionMs ?? 120_000) * 1_000_000,
    allow_direct: true,
  };
}

/** A numeric Trib-* header of a stored message; CorruptDataError when it is missing or not a safe integer. */
export function headerNumber(msg: StoredMsg, name: string): number {
  const raw = msg.header?.get(name);
  const value = Number(raw);
  if (raw === undefined || raw === '' || !Number.isSafeInteger(value)) {
    throw new CorruptDataError(`JetStream message ${msg.seq} on ${msg.subject} has no valid ${name} header`);
  }
  return value;
}

/** The partitions' streams as this collector sees them: messages by sequence, and a cache of each tail. */
export class PartitionStreams {
  private readonly tails = new Map<string, PartitionTail>();

  constructor(private readonly session: JetStreamSession) {}

  async getMsg(topic: string, partition: PartitionId, seq: number): Promise<StoredMsg> {
    return await this.session.jsm.streams.getMessage(streamName(topic, partition), { seq });
  }

  /** The cached tail, if this collector has one. */
  cachedTail(topic: string, partition: PartitionId): PartitionTail | undefined {
    return this.tails.get(`${topic}/${partition}`);
  }

  setTail(topic: string, partition: PartitionId, tail: PartitionTail): void {
    this.tails.set(`${topic}/${partition}`, tail);
  }

  /** Forgets every cached tail of the topic (it was deleted). */
  forget(topic: string): void {
    for (const key of [...this.tails.keys()]) if (key.startsWith(`${topic}/`)) this.tails.delete(key);
  }

  /** Reads the partition's tail from the stream's last message (or the floor when the stream is empty). */
  async loadTail(topic: string, partition: PartitionId, entry: TopicEntry): Promise<PartitionTail> {
    const info = await this.session.jsm.streams.info(streamName(topic, partition));
    const lastSeq = info.state.last_seq;
    let tail: PartitionTail;
    if (info.state.messages === 0) {
      const known = this.cachedTail(topic, partition);
      const floor = entry.floorOffsets?.[partition] ?? 0;
      tail = { lastSeq, nextOffset: Math.max(known?.nextOffset ?? 0, floor), maxTs: 0 };
    } else {
      const last = await this.getMsg(topic, partition, lastSeq);
      tail = { lastSeq, nextOffset: headerNumber(last, H_NEXT), maxTs: headerNumber(last, H_MAXTS) };
    }
    this.setTail(topic, partition, tail);
    return tail;
  }

  /**
   * The offsets and sequences the stream holds now, from the stream leader. Retention may remove the first message
   * between the stream info and the get: the info is then read again (bounded).
   */
  async bounds(topic: string, partition: PartitionId, entry: TopicEntry): Promise<PartitionBounds> {
    for (let attempt = 1; ; attempt++) {
      const info = await this.session.jsm.streams.info(streamName(topic, partition));
      const { first_seq: firstSeq, last_seq: lastSeq, messages, bytes } = info.state;
      if (messages === 0) {
        const tail = await this.loadTail(topic, partition, entry);
        return { startOffset: tail.nextOffset, endOffset: tail.nextOffset, firstSeq, lastSeq, bytes, info };
      }
      try {
        const [first, last] = await Promise.all([
          this.getMsg(topic, partition, firstSeq),
          this.getMsg(topic, partition, lastSeq),
        ]);
        return {
          startOffset: headerNumber(first, H_BASE),
          endOffset: headerNumber(last, H_NEXT),
          firstSeq,
          lastSeq,
          bytes,
          info,
        };
      } catch (error) {
        if (attempt >= MAX_BOUNDS_ATTEMPTS || !isNoMessage(error)) throw error;
      }
    }
  }
}
