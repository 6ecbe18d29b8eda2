/**
 * The contract of a storage backend: what the collector's HTTP API, query engine, consumer groups and NATS bridge
 * may ask of the log. Two backends implement it: the embedded file store (`file/`, the default, modelled on
 * Kafka's log) and the JetStream store (`jetstream/`, for more than one machine). One contract test suite
 * (test/collector/storage/contract.ts) runs against both.
 *
 * Semantics every backend keeps:
 * - Offsets are contiguous per partition from the log start, assigned at append, never reused.
 * - `append` resolves only once the batches are durable under the topic's flush policy; if it rejects, none of
 *   its batches is visible to any reader, ever.
 * - Appends to one partition are applied in call order; appends to different partitions proceed in parallel.
 * - `read` returns whole batches, starting with the batch that holds the requested offset (so it may start before
 *   it), and always at least one batch when one exists, even if larger than maxBytes, so a consumer never stalls.
 * - Stored bytes that fail validation are reported as CorruptDataError, never returned as records.
 */
import type { ValidatedBatch } from '../../shared/batch-codec.ts';
import type { Offset, PartitionId, TimestampMs } from '../../shared/record.ts';

export type FlushPolicy =
  | { readonly mode: 'always' }
  | { readonly mode: 'interval'; readonly intervalMs: number; readonly intervalBytes: number };

export interface TopicConfig {
  readonly partitions: number;
  /** Delete closed segments whose newest record is older than this; null keeps data forever. */
  readonly retentionMs: number | null;
  /** Per partition: delete the oldest closed segments while the partition is larger than this; null: no limit. */
  readonly retentionBytes: number | null;
  /** Roll to a new segment once the active one reaches this size. */
  readonly segmentBytes: number;
  /** Roll to a new segment once the active one's first batch is older than this. */
  readonly segmentMs: number;
  readonly flush: FlushPolicy;
}

export interface PartitionInfo {
  readonly partition: PartitionId;
  /** The first offset still held (moves forward with retention). */
  readonly startOffset: Offset;
  /** The offset the next appended record will get (Kafka's log end offset / high watermark). */
  readonly endOffset: Offset;
  readonly sizeBytes: number;
  /** File backend only: the partition's segment files. */
  readonly segmentCount?: number;
  /** JetStream backend only: the partition's stream and where its copies are. */
  readonly stream?: StreamPlacement;
}

/** A partition's JetStream stream as its leader reports it. */
export interface StreamPlacement {
  readonly name: string;
  /** Copies configured (num_replicas). */
  readonly replicas: number;
  /** The server leading the stream now; undefined while it has none (an election). */
  readonly leader: string | undefined;
  /** The other copies: server name, whether caught up, and how many operations behind. */
  readonly followers: readonly { readonly server: string; readonly current: boolean; readonly lag: number }[];
  /** JetStream storage type of the stream. */
  readonly storage: 'file' | 'memory';
}

export type StorageBackendKind = 'file' | 'jetstream';

export interface TopicInfo {
  readonly name: string;
  /** Which backend holds it: the file backend uses every config key; JetStream ignores segments and flush. */
  readonly backend: StorageBackendKind;
  readonly config: TopicConfig;
  readonly partitions: readonly PartitionInfo[];
}

/** What a backend is, as the startup log and the health of an operator's checks need it. */
export type BackendSummary =
  | { readonly kind: 'file'; readonly dataDir: string }
  | {
      readonly kind: 'jetstream';
      readonly servers: readonly string[];
      /** The server this collector is connected to now. */
      readonly connectedTo: string;
      /** Undefined: a single server, no cluster. */
      readonly cluster: string | undefined;
      readonly clusterSize: number;
      readonly replicas: number;
      readonly storage: 'file';
      readonly maxPayload: number;
      readonly buckets: readonly string[];
    };

export interface AppendResult {
  readonly baseOffset: Offset;
  readonly lastOffset: Offset;
  readonly recordCount: number;
  /**
   * Batches of this append that the partition already held, sent again by their producer (BatchProducer) after
   * an answer it never got: acknowledged, not stored twice. Their offsets are in the range when still known.
   */
  readonly duplicateBatches?: number;
}

export interface ReadResult {
  /** Whole batches, concatenated, each with its base offset stamped. Empty when `offset` equals the end offset. */
  readonly batches: Buffer;
  /** The offset after the last record returned (equal to the requested offset when nothing was returned). */
  readonly nextOffset: Offset;
  readonly startOffset: Offset;
  readonly endOffset: Offset;
}

export interface CommitRequest {
  readonly topic: string;
  readonly partition: PartitionId;
  readonly offset: Offset;
  readonly metadata?: string;
}

export interface CommittedOffset {
  readonly topic: string;
  readonly partition: PartitionId;
  /** The next offset the group will consume (Kafka's convention: last processed + 1). */
  readonly offset: Offset;
  readonly metadata: string;
  readonly commitTimestamp: TimestampMs;
}

/** Committed consumer offsets per (group, topic, partition), durable and crash-safe. */
export interface OffsetStore {
  commit(group: string, offsets: readonly CommitRequest[]): Promise<void>;
  /** Every committed offset of the group; an unknown group gives an empty list. */
  fetch(group: string): Promise<CommittedOffset[]>;
  listGroups(): Promise<string[]>;
  deleteGroup(group: string): Promise<void>;
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: PartitionId;
}

/** One member of a consumer group, as the group coordinator (collector/groups) keeps it. */
export interface GroupMember {
  readonly memberId: string;
  /** Chosen by the client (host, program name): for people reading `groups describe`. */
  readonly clientId: string;
  readonly topics: readonly string[];
  readonly sessionTimeoutMs: number;
  readonly lastHeartbeatMs: TimestampMs;
  readonly assignment: readonly TopicPartition[];
}

/** A consumer group's membership in one generation. Every membership change makes a new generation. */
export interface GroupMembership {
  readonly generation: number;
  readonly members: readonly GroupMember[];
}

/**
 * What a membership change decides: the membership to store (`undefined` deletes the group's entry, `'unchanged'`
 * writes nothing) and the answer for the caller.
 */
export interface MembershipChange<T> {
  readonly next: GroupMembership | undefined | 'unchanged';
  readonly result: T;
}

/**
 * Where group membership lives. The file backend keeps it in memory (members rejoin after a collector restart, as
 * they would after a session timeout); the JetStream backend keeps it in a KV bucket so that every collector
 * serving the topics sees one membership.
 */
export interface MembershipStore {
  get(group: string): Promise<GroupMembership | undefined>;
  /**
   * Applies `change` to the current membership atomically: if another writer changed the group in between, the
   * change is computed again on the new value. `change` must therefore be a pure function of its argument.
   */
  update<T>(group: string, change: (current: GroupMembership | undefined) => MembershipChange<T>): Promise<T>;
  /** Groups that have a membership entry, sorted. */
  listGroups(): Promise<string[]>;
  /** Every group's membership, in one read (the coordinator's expiry sweep and the members gauge scan them all). */
  list(): Promise<ReadonlyMap<string, GroupMembership>>;
}

/** Emitted after an append has become durable and visible. */
export interface AppendEvent {
  readonly topic: string;
  readonly partition: PartitionId;
  readonly baseOffset: Offset;
  readonly lastOffset: Offset;
  readonly recordCount: number;
  readonly bytes: number;
  /** The stored batches, offsets stamped. Listeners must not modify them. */
  readonly batches: readonly Buffer[];
}

/**
 * What a backend reports as it works. The collector composes one sink from its metrics and its NATS forwarder;
 * storage code never imports either.
 */
export interface StorageEvents {
  appended?(event: AppendEvent): void;
  /** Batches of an append that were a producer's resend of batches already stored, so not written again. */
  duplicatesSkipped?(topic: string, partition: PartitionId, batches: number): void;
  fsynced?(durationSeconds: number): void;
  segmentRolled?(topic: string, partition: PartitionId): void;
  segmentsDeleted?(
    topic: string,
    partition: PartitionId,
    segments: number,
    bytes: number,
    reason: 'time' | 'size',
  ): void;
  recoveryTruncated?(topic: string, partition: PartitionId, bytes: number, reason: string): void;
  corruptionDetected?(topic: string, partition: PartitionId, detail: string): void;
}

export interface RetentionResult {
  readonly segmentsDeleted: number;
  readonly bytesDeleted: number;
}

export interface LogStore {
  /** Which backend this is and where it keeps its data. */
  backendSummary(): BackendSummary;
  /** Creates a topic; unspecified config keys take the store's defaults. Throws TopicExistsError. */
  createTopic(name: string, config?: Partial<TopicConfig>): Promise<TopicInfo>;
  /** Deletes a topic and all its data. Throws TopicNotFoundError. */
  deleteTopic(name: string): Promise<void>;
  listTopics(): Promise<TopicInfo[]>;
  describeTopic(name: string): Promise<TopicInfo>;
  hasTopic(name: string): boolean;

  /**
   * Appends batches already validated by the caller (header read, CRC checked: splitBatches, or encoded in this
   * process) to one partition and stamps their base offsets in place. The CRC is not checked again: produce
   * (collector/produce) validates every batch once, before anything is appended.
   */
  append(topic: string, partition: PartitionId, batches: readonly ValidatedBatch[]): Promise<AppendResult>;
  /**
   * The checking variant of `append`, for callers that have not validated: each buffer holds one or more whole
   * encoded batches (as from BatchBuilder.finish); each header and CRC is checked first, and a bad batch rejects
   * the whole call with CorruptBatchError and nothing is written.
   */
  appendChecked(topic: string, partition: PartitionId, buffers: readonly Buffer[]): Promise<AppendResult>;
  /**
   * Throws OffsetOutOfRangeError unless startOffset <= offset <= endOffset. `readInto`, when given, supplies the
   * buffer of exactly `size` bytes that file reads fill (a caller that reuses its memory: Kafka Fetch); the
   * batches returned may then lie in it. A backend that does not read files ignores it.
   */
  read(
    topic: string,
    partition: PartitionId,
    offset: Offset,
    maxBytes: number,
    readInto?: (size: number) => Buffer,
  ): Promise<ReadResult>;
  /** The first offset whose batch's max timestamp is >= timestamp; the end offset if there is none. */
  offsetForTimestamp(topic: string, partition: PartitionId, timestamp: TimestampMs): Promise<Offset>;
  /**
   * Resolves true as soon as the partition's end offset is greater than `offset`, false after `timeoutMs` or when
   * `signal` aborts. The long-poll of fetch and the live tail are built on it.
   */
  waitForAppend(
    topic: string,
    partition: PartitionId,
    offset: Offset,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean>;

  readonly offsets: OffsetStore;
  readonly membership: MembershipStore;

  /** Applies retention to every partition now (the store also runs it on a timer). */
  enforceRetention(): Promise<RetentionResult>;
  /** Flushes what the flush policy has not yet made durable, and releases files. Pending appends complete first. */
  close(): Promise<void>;
}
