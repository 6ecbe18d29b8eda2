/**
 * A consumer group member for Node programs: joins the group, reads its assigned partitions, hands out records as
 * an async iterator, heartbeats, and commits offsets (automatically on an interval, or when told). docs/consumers.md
 * has the example and the guarantees.
 *
 * Delivery is at-least-once. A record counts as processed once the iterator is asked for the next one (or, with
 * explicit commits, once `commit()` is called after it). Auto-commit stores processed positions every
 * `autoCommitIntervalMs` and on `close()`. After a crash or a rebalance, a partition's next owner starts at the last
 * commit the collector accepted, so records processed after it are delivered again; none is skipped.
 *
 * Reading: one PartitionReader per assigned partition (partition-reader.ts) fetches ahead of the iterator, holding
 * at most two fetched chunks (so memory is bounded by partitions × 2 × maxBytes); the iterator takes records from
 * the partitions in turn so that one busy partition cannot starve the others. This file is the group member: joins,
 * heartbeats, positions and commits.
 *
 * Rebalances: a heartbeat answered `rebalance_in_progress` (or a commit answered `stale_generation`) stops the
 * fetches, drops records fetched but not handed out, and joins again with the same member id; `unknown_member`
 * joins as a new member. Partitions kept across the rebalance continue from this consumer's own position;
 * partitions gained start at the group's committed offset (or `from` when there is none).
 */
import { backoffDelay, sleep } from '../backoff.ts';
import {
  InvalidArgumentError,
  RebalanceInProgressError,
  StaleGenerationError,
  TributaryError,
  UnknownMemberError,
} from '../errors.ts';
import type { Offset, PartitionId, TimestampMs } from '../record.ts';
import {
  CollectorClient,
  type CollectorClientOptions,
  type JoinGroupRequest,
  type WireTopicPartition,
} from './collector-client.ts';
import { type ConsumedRecord, PartitionReader, RETRY_BACKOFF } from './partition-reader.ts';

export type { ConsumedRecord } from './partition-reader.ts';

/**
 * Where a partition starts. `earliest`/`latest` apply only to partitions the group has no committed offset for
 * (Kafka's auto.offset.reset); an offset or a time applies to every partition on its first assignment to this
 * consumer, committed offsets notwithstanding.
 */
export type StartPosition = 'earliest' | 'latest' | { readonly offset: Offset } | { readonly timestamp: TimestampMs };

export interface ConsumerOptions extends Omit<CollectorClientOptions, 'timeoutMs'> {
  readonly group: string;
  readonly topics: readonly string[];
  /** Default 'latest'. */
  readonly from?: StartPosition;
  /** Default true. With false, call commit() yourself. */
  readonly autoCommit?: boolean;
  /** Default 1000 ms. */
  readonly autoCommitIntervalMs?: number;
  /** How long the group waits for a silent member before moving its partitions; default: the collector's (10 s). */
  readonly sessionTimeoutMs?: number;
  /** Shown in `tributary groups describe`; default "consumer". [A-Za-z0-9._-]. */
  readonly clientId?: string;
  /** Bytes per fetch per partition; default 1 MiB. */
  readonly maxBytes?: number;
  /** How long one fetch waits for new records; default 1000 ms. */
  readonly maxWaitMs?: number;
  /** Called for errors the consumer handles itself (a failed auto-commit, a fetch retried); default: ignored. */
  readonly onError?: (error: Error) => void;
}

export class Consumer implements AsyncIterable<ConsumedRecord> {
  private readonly client: CollectorClient;
  private readonly options: ConsumerOptions;
  private memberId: string | undefined;
  private generation = -1;
  private readers: PartitionReader[] = [];
  /** Per "topic/partition": the offset after the last record handed out. */
  private readonly handedOut = new Map<string, Offset>();
  /** Per "topic/partition": the offset after the last record known processed. */
  private readonly processed = new Map<string, Offset>();
  /** Per "topic/partition": the last offset the collector accepted from us. */
  private readonly committed = new Map<string, Offset>();
  /** Partitions that have been assigned to this consumer before (an explicit start position applies once). */
  private readonly seen = new Set<string>();
  private fetchAbort = new AbortController();
  private rebalanceNeeded = false;
  private wake: (() => void) | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private commitTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private iterating = false;
  private nextReader = 0;
  private lastHandedOut: string | undefined;

  constructor(options: ConsumerOptions) {
    this.options = options;
    this.client = new CollectorClient({ urls: options.urls, token: options.token });
    if (options.topics.length === 0) throw new InvalidArgumentError('a consumer needs at least one topic');
  }

  /** The partitions this consumer reads in the current generation. */
  get assignment(): readonly WireTopicPartition[] {
    return this.readers.map((r) => ({ topic: r.topic, partition: r.partition }));
  }

  get generationId(): number {
    return this.generation;
  }

  [Symbol.asyncIterator](): AsyncIterator<ConsumedRecord> {
    return this.records();
  }

  async *records(): AsyncGenerator<ConsumedRecord> {
    if (this.iterating) throw new InvalidArgumentError('a consumer can be iterated by one loop at a time');
    this.iterating = true;
    try {
      while (!this.closed) {
        if (this.memberId === undefined || this.rebalanceNeeded) await this.join();
        const record = this.take();
        if (record === undefined) {
          await new Promise<void>((resolve) => {
            this.wake = resolve;
          });
          continue;
        }
        yield record;
        // Asked for the next record: the previous one is processed.
        this.markProcessed();
      }
    } finally {
      this.iterating = false;
      // Leaving the loop (break, return, an exception) ends this member's part in the group.
      await this.close();
    }
  }

  /**
   * Commits every record handed out so far (call it after processing them). Throws StaleGenerationError or
   * UnknownMemberError if the group rebalanced meanwhile: the consumer then rejoins on its own, and the records
   * since the last accepted commit will be delivered again.
   */
  async commit(): Promise<void> {
    this.markProcessed();
    await this.commitPositions(this.handedOut);
  }

  /**
   * Commits processed records (with auto-commit), leaves the group (its partitions move to the other members at
   * once instead of after the session timeout), and ends the iteration. Idempotent; leaving a `for await` loop
   * calls it.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeatTimer);
    clearInterval(this.commitTimer);
    this.fetchAbort.abort();
    this.wake?.();
    if (this.memberId === undefined) return;
    if (this.options.autoCommit !== false) await this.commitBeforeLeaving();
    if (this.memberId !== undefined) await this.client.leaveGroup(this.options.group, this.memberId).catch(() => {});
  }

  /**
   * The last commit. When the group moved on meanwhile (when a whole group is stopped at once, the first member to
   * leave starts a new generation under the others), the commit is fenced: join again with this member id, which
   * only refreshes the membership, and commit the partitions this member still owns in the current generation.
   * What it cannot commit is read again by the partitions' next owners.
   */
  private async commitBeforeLeaving(): Promise<void> {
    if (!this.rebalanceNeeded) {
      try {
        await this.commitPositions(this.processed);
        return;
      } catch (error) {
        if (!(error instanceof StaleGenerationError || error instanceof RebalanceInProgressError)) return;
      }
    }
    const memberId = this.memberId;
    if (memberId === undefined) return;
    try {
      const joined = await this.client.joinGroup(this.options.group, this.joinRequest());
      if (joined.member_id !== memberId) {
        // This member had already been removed: the join made a new one, which must not linger.
        this.memberId = joined.member_id;
        return;
      }
      this.generation = joined.generation_id;
      const owned = new Set(joined.assignment.map((a) => key(a.topic, a.partition)));
      await this.commitPositions(new Map([...this.processed].filter(([k]) => owned.has(k))));
    } catch {
      // at-least-once: the partitions' next owners start at the last accepted commit
    }
  }

  private joinRequest(): JoinGroupRequest {
    return {
      topics: [...this.options.topics],
      ...(this.memberId !== undefined ? { member_id: this.memberId } : {}),
      ...(this.options.clientId !== undefined ? { client_id: this.options.clientId } : {}),
      ...(this.options.sessionTimeoutMs !== undefined ? { session_timeout_ms: this.options.sessionTimeoutMs } : {}),
    };
  }

  private markProcessed(): void {
    if (this.lastHandedOut === undefined) return;
    const position = this.handedOut.get(this.lastHandedOut);
    if (position !== undefined) this.processed.set(this.lastHandedOut, position);
  }

  private async join(): Promise<void> {
    this.stopReading();
    this.rebalanceNeeded = false;
    const previous = new Set(this.readers.map((r) => key(r.topic, r.partition)));
    let joined: Awaited<ReturnType<CollectorClient['joinGroup']>> | undefined;
    for (let attempt = 0; joined === undefined; attempt++) {
      try {
        joined = await this.client.joinGroup(this.options.group, this.joinRequest());
      } catch (error) {
        if (!isRetryable(error) || this.closed) throw error;
        this.options.onError?.(error as Error);
        await sleep(backoffDelay(attempt, RETRY_BACKOFF));
      }
    }
    this.memberId = joined.member_id;
    this.generation = joined.generation_id;
    // Closed while joining: close() found no member to take out of the group, so leave here.
    if (this.closed) {
      await this.client.leaveGroup(this.options.group, joined.member_id).catch(() => {});
      return;
    }
    const committed = new Map(
      (await this.client.groupOffsets(this.options.group)).map((c) => [key(c.topic, c.partition), c.offset]),
    );
    const readers: PartitionReader[] = [];
    // One offsets lookup per topic and join, however many of its partitions need one.
    const lookups = new Map<string, Promise<{ partition: PartitionId; offset: Offset }[]>>();
    const offsetAt = async (topic: string, partition: PartitionId, at: 'earliest' | 'latest' | TimestampMs) => {
      const lookup = lookups.get(topic) ?? this.client.offsets(topic, at);
      lookups.set(topic, lookup);
      return (await lookup).find((o) => o.partition === partition)?.offset ?? 0;
    };
    for (const { topic, partition } of joined.assignment) {
      const k = key(topic, partition);
      const own = previous.has(k) ? this.handedOut.get(k) : undefined;
      // Kept partitions continue where this consumer is (unless another member, in a generation this one missed,
      // committed beyond it); gained ones start at the group's commit.
      const start =
        own !== undefined
          ? Math.max(own, committed.get(k) ?? 0)
          : await this.startOffset(k, committed.get(k), (at) => offsetAt(topic, partition, at));
      this.seen.add(k);
      this.handedOut.set(k, start);
      if (own === undefined) this.processed.set(k, start);
      readers.push(
        new PartitionReader(topic, partition, start, {
          client: this.client,
          maxBytes: this.options.maxBytes ?? 1024 * 1024,
          maxWaitMs: this.options.maxWaitMs ?? 1000,
          fetched: () => this.wake?.(),
          skipped: (position) => this.handedOut.set(k, position),
          onError: this.options.onError,
        }),
      );
    }
    const assigned = new Set(readers.map((r) => key(r.topic, r.partition)));
    for (const positions of [this.handedOut, this.processed, this.committed]) {
      for (const k of [...positions.keys()]) if (!assigned.has(k)) positions.delete(k);
    }
    this.readers = readers;
    if (this.closed) return;
    this.fetchAbort = new AbortController();
    for (const reader of readers) reader.start(this.fetchAbort.signal);
    this.startTimers(joined.heartbeat_interval_ms);
  }

  /** Where a partition newly assigned to this consumer starts (StartPosition explains the rules). */
  private async startOffset(
    k: string,
    committed: Offset | undefined,
    offsetAt: (at: 'earliest' | 'latest' | TimestampMs) => Promise<Offset>,
  ): Promise<Offset> {
    const from = this.options.from ?? 'latest';
    const explicit = typeof from === 'object' && !this.seen.has(k);
    if (committed !== undefined && !explicit) return committed;
    if (typeof from === 'string') return await offsetAt(from);
    return 'offset' in from ? from.offset : await offsetAt(from.timestamp);
  }

  private startTimers(heartbeatIntervalMs: number): void {
    clearInterval(this.heartbeatTimer);
    clearInterval(this.commitTimer);
    const generation = this.generation;
    this.heartbeatTimer = setInterval(() => {
      if (this.closed || this.rebalanceNeeded || this.memberId === undefined) return;
      this.client.heartbeat(this.options.group, this.memberId, generation).catch((error: unknown) => {
        if (this.generation !== generation) return;
        this.handleGroupError(error);
      });
    }, heartbeatIntervalMs);
    this.heartbeatTimer.unref();
    if (this.options.autoCommit !== false) {
      this.commitTimer = setInterval(() => {
        if (this.closed || this.rebalanceNeeded) return;
        this.commitPositions(this.processed).catch((error: unknown) => this.options.onError?.(error as Error));
      }, this.options.autoCommitIntervalMs ?? 1000);
      this.commitTimer.unref();
    }
  }

  /** Sends positions that moved since the last accepted commit. */
  private async commitPositions(positions: ReadonlyMap<string, Offset>): Promise<void> {
    if (this.memberId === undefined) return;
    const offsets = [...positions]
      .filter(([k, offset]) => this.committed.get(k) !== offset)
      .map(([k, offset]) => ({ ...parseKey(k), offset }));
    if (offsets.length === 0) return;
    try {
      await this.client.commitOffsets(this.options.group, {
        offsets,
        member_id: this.memberId,
        generation_id: this.generation,
      });
    } catch (error) {
      this.handleGroupError(error);
      throw error;
    }
    for (const o of offsets) this.committed.set(key(o.topic, o.partition), o.offset);
  }

  /** A group answer that means "join again": stop reading and let the iterator rejoin. */
  private handleGroupError(error: unknown): void {
    if (error instanceof UnknownMemberError) this.memberId = undefined;
    if (
      error instanceof RebalanceInProgressError ||
      error instanceof StaleGenerationError ||
      error instanceof UnknownMemberError
    ) {
      this.rebalanceNeeded = true;
      this.fetchAbort.abort();
      this.wake?.();
      if (this.memberId === undefined) this.readers = [];
      return;
    }
    this.options.onError?.(error as Error);
  }

  private stopReading(): void {
    this.fetchAbort.abort();
    for (const r of this.readers) r.release();
  }

  /** The next record from the partitions in turn, or undefined when nothing is buffered. */
  private take(): ConsumedRecord | undefined {
    for (let i = 0; i < this.readers.length; i++) {
      const reader = this.readers[(this.nextReader + i) % this.readers.length]!;
      const record = reader.take();
      if (record === undefined) continue;
      this.nextReader = (this.nextReader + i + 1) % this.readers.length;
      const k = key(reader.topic, reader.partition);
      this.handedOut.set(k, record.offset + 1);
      this.lastHandedOut = k;
      return record;
    }
    return undefined;
  }
}

function key(topic: string, partition: PartitionId): string {
  return `${topic}/${partition}`;
}

function parseKey(k: string): { topic: string; partition: PartitionId } {
  const slash = k.lastIndexOf('/');
  return { topic: k.slice(0, slash), partition: Number(k.slice(slash + 1)) };
}

function isRetryable(error: unknown): boolean {
  return !(error instanceof TributaryError) || error.code === 'unavailable' || error.code === 'closed';
}
