/**
 * Reading ahead for a consumer that is catching up: once a Fetch is answered with data, the partitions that had
 * data are read and translated again from where that answer ends, while the client receives and parses it. Its
 * next Fetch asks for exactly those offsets (a Kafka client fetches from the offset after the last record it got),
 * and is answered from what was prepared.
 *
 * Why: librdkafka keeps one Fetch in flight per broker, so the collector's read and translation (~4 ms for a 4 MB
 * answer) and the client's parsing (~1-2 ms) took turns. Overlapping them made kcat read a 1.1 GB topic ~17 %
 * faster on 2 cores (docs/benchmarks.md, Kafka).
 *
 * Bounds: one connection holds at most one prepared read (a set of partitions); what is prepared is used only by
 * the same connection, only for the same partition, offset and limit, and only within `maxAgeMs` of its start: a
 * consumer that paused gets the partition as it is then, and the high watermark an answer reports is at most that
 * old. (So a topic deleted and created again within that time could have records of the old one served once, as a
 * read in flight during the deletion could.) All connections together hold at most the pool's `maxPreparedBytes`;
 * anything not used is given back to the pool, at the latest when it is too old to be served.
 */
import type { AnswerMemory, FetchMemoryPool } from '../storage/fetch-memory.ts';

/** One partition's part of a Fetch answer, its batches translated. */
export interface PartitionRead {
  readonly errorCode: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  /** Translated batches in offset order. */
  readonly batches: readonly Buffer[];
  /** The stored size of each batch: Fetch's byte limits count stored bytes. */
  readonly storedSizes: readonly number[];
}

/** A partition to read ahead: from `offset`, at most `limit` stored bytes (at least one batch). */
export interface AheadRequest {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly limit: number;
}

interface Prepared {
  readonly request: AheadRequest;
  readonly read: PartitionRead;
}

interface PreparedSet {
  readonly startedAt: number;
  readonly reserved: number;
  readonly memory: AnswerMemory;
  readonly ready: Promise<Prepared[]>;
}

/** The key FetchAhead.take's map uses for a partition. */
export const aheadKey = (topic: string, partition: number) => `${partition}\u0000${topic}`;

/** The read prepared for one connection's next Fetch. */
export class FetchAhead {
  private prepared: PreparedSet | undefined;
  private closed = false;

  constructor(
    private readonly pool: FetchMemoryPool,
    /** Counts partitions read ahead, used by the next Fetch or not. */
    private readonly counted: (result: 'used' | 'unused', partitions: number) => void,
    private readonly maxAgeMs = 200,
  ) {}

  /**
   * Starts reading `requests` with `read` (which translates into the memory given), replacing anything prepared.
   * Does nothing when the connection is closed or the pool's prepared bytes are at their cap.
   */
  prepare(
    requests: readonly AheadRequest[],
    read: (request: AheadRequest, memory: AnswerMemory) => Promise<PartitionRead>,
  ): void {
    this.discard();
    if (this.closed || requests.length === 0) return;
    const reserved = requests.reduce((n, r) => n + r.limit, 0);
    if (!this.pool.reservePrepared(reserved)) return;
    const memory = this.pool.forAnswer();
    // After the answer in hand is written: its client parses while this reads.
    const ready = new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
      Promise.all(requests.map(async (request) => ({ request, read: await read(request, memory) }))),
    );
    const prepared: PreparedSet = { startedAt: Date.now(), reserved, memory, ready: ready.catch(() => []) };
    this.prepared = prepared;
    // Unused when it is too old to be served: given back then, so an idle connection holds nothing.
    setTimeout(() => {
      if (this.prepared === prepared) this.discard();
    }, this.maxAgeMs).unref();
  }

  /**
   * What was prepared for these partitions, by `topic, partition`, for each whose offset and limit match exactly;
   * the prepared memory then belongs to the caller, who gives it back with `release` once the answer is written.
   * Resolves to nothing (and gives the memory back) when nothing matches or it is too old.
   */
  async take(
    requests: readonly AheadRequest[],
  ): Promise<{ reads: Map<string, PartitionRead>; release: () => void } | undefined> {
    const prepared = this.prepared;
    this.prepared = undefined;
    if (prepared === undefined) return undefined;
    const all = await prepared.ready;
    const reads = new Map<string, PartitionRead>();
    if (Date.now() - prepared.startedAt <= this.maxAgeMs) {
      const wanted = new Map(requests.map((r) => [aheadKey(r.topic, r.partition), r]));
      for (const { request, read } of all) {
        const asked = wanted.get(aheadKey(request.topic, request.partition));
        if (asked && asked.offset === request.offset && asked.limit === request.limit && read.errorCode === 0) {
          reads.set(aheadKey(request.topic, request.partition), read);
        }
      }
    }
    this.counted('used', reads.size);
    this.counted('unused', all.length - reads.size);
    const release = () => this.giveBack(prepared);
    if (reads.size === 0) {
      release();
      return undefined;
    }
    return { reads, release };
  }

  /** Gives back whatever is prepared (once its reads finish). */
  discard(): void {
    const prepared = this.prepared;
    this.prepared = undefined;
    if (prepared === undefined) return;
    void prepared.ready.then((all) => {
      this.counted('unused', all.length);
      this.giveBack(prepared);
    });
  }

  /** Its reserved bytes and its memory back to the pool. */
  private giveBack(prepared: PreparedSet): void {
    this.pool.releasePrepared(prepared.reserved);
    prepared.memory.release();
  }

  /** The connection closed: nothing more is prepared. */
  close(): void {
    this.closed = true;
    this.discard();
  }
}
