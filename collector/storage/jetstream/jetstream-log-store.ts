/**
 * The JetStream storage backend: the LogStore contract on NATS JetStream, for more than one collector.
 *
 * Layout
 * - Each topic-partition is one stream `TRIB_<enc(topic)>_<partition>` with the single subject
 *   `tributary.log.<topic>.<partition>` (enc maps '_' to '_u' and '.' to '_d', so stream names are injective and
 *   legal; the partition is the subject's last token, so subjects are unambiguous). Retention: `max_age` =
 *   retentionMs, `max_bytes` = retentionBytes, discard old, file storage, `num_replicas` from the options.
 * - One message = the batches of one `append` call, concatenated as stored (offsets stamped). Never one record per
 *   message (per-message acks cap at ~15–20k msg/s; 100 KB messages reach ~120 MB/s). Keeping an append in one
 *   message makes it atomic: it is visible whole or not at all, as the contract demands.
 *   Headers: `Trib-Base-Offset`, `Trib-Next-Offset` (base + record count), `Trib-Max-Ts` (the running maximum of
 *   the partition's batch max timestamps, so it never decreases along the stream).
 * - Topic configs live in the KV bucket `tributary_topics` (key enc(topic)); committed offsets in
 *   `tributary_offsets` (key `enc(group).enc(topic).partition`) and group membership in `tributary_groups` (key
 *   enc(group)), both updated with revision checks. Buckets are read through the stream leader (no direct get)
 *   and listed from the stream's subjects (kv-entries.ts), so a read sees every acknowledged write.
 *
 * Invariants
 * - Stream sequence order equals offset order, and messages are only ever removed from the head (retention), so the
 *   held sequences [first_seq, last_seq] are contiguous: find-by-offset is a binary search over sequences with
 *   get-by-sequence on `Trib-Base-Offset`; find-by-time the same on `Trib-Max-Ts` (monotonic by construction).
 * - Offsets are contiguous: a message's base offset is the previous message's `Trib-Next-Offset`.
 *
 * Concurrency between collectors (why two cannot both claim an offset range)
 * - Each collector caches per partition (lastSeq, nextOffset) and publishes with `expect.lastSequence = lastSeq`.
 *   The stream leader applies publishes one at a time and rejects a publish whose expectation is stale ("wrong last
 *   sequence"). So of two collectors that both believe the next offset is N, exactly one lands at lastSeq+1 with
 *   base N; the other is rejected, reloads (lastSeq, nextOffset) from the stream's last message, re-stamps its
 *   batches and retries (bounded). Offsets are decided by the stream's total order, not by any collector's clock.
 * - A publish whose ack is lost (leader failover, timeout) is retried with the same `msgID` and the same expected
 *   sequence: the server's duplicate window (checked before the expected-sequence check) answers with the original
 *   sequence instead of storing it twice. Beyond the retry budget the append rejects; the agent then retries the
 *   request and the batch may be stored twice (at-least-once, as over HTTP).
 * - Fairness: a collector with appends queued publishes its next one the moment the previous is acknowledged, while
 *   a loser needs round trips to reload the tail, so under saturation the loser would lose every race (measured:
 *   an append failed after 50 lost races). A loser therefore announces it on core NATS
 *   (`tributary.contention.<topic>.<partition>`, best effort, no data); every other collector then waits a random
 *   few milliseconds before each publish to that partition for a short while, which opens windows for the loser.
 *   Only throughput under contention depends on it, never correctness.
 *
 * Durability: nats-server acknowledges a publish once the message is in the stream's replicas' memory and written
 * to their files, but fsyncs on an interval (sync_interval, 2 min by default). With replicas 1 an acknowledged
 * batch can be lost to a machine crash (not to a process crash); with replicas 3 an ack means a quorum (2 of 3
 * nodes) holds it, which is what makes an acknowledged batch durable here. The topic's flush policy is ignored.
 *
 * Empty streams: when retention has removed every message of a partition, the next offset cannot be read from the
 * stream; it is kept in memory by the collectors that saw it, and a fresh collector continues at the offset stored in
 * the topic's KV entry (`floorOffsets`). A collector records a topic's floors half a retention time after an append
 * to it (at most one pending record per topic), so they are written before that append's message can expire, and
 * enforceRetention records every topic's floors on its timer. Gap left: a collector that dies between an append and
 * that record, when no other collector's timer runs before the append expires (offsets could then be reused).
 */
import {
  type ConnectionOptions,
  connect,
  credsAuthenticator,
  DiscardPolicy,
  headers,
  type JetStreamClient,
  type JetStreamManager,
  type KV,
  KvWatchInclude,
  type NatsConnection,
  RetentionPolicy,
  StorageType,
  type StoredMsg,
  type Subscription,
} from 'nats';
import {
  isCrcValid,
  readBatchHeader,
  splitBatches,
  stampBaseOffset,
  type ValidatedBatch,
} from '../../../shared/batch-codec.ts';
import {
  CorruptDataError,
  InvalidArgumentError,
  OffsetOutOfRangeError,
  PartitionNotFoundError,
  TopicExistsError,
  TopicNotFoundError,
  UnavailableError,
} from '../../../shared/errors.ts';
import { assertValidName } from '../../../shared/names.ts';
import type { Offset, PartitionId, TimestampMs } from '../../../shared/record.ts';
import { DEFAULT_TOPIC_CONFIG, resolveTopicConfig } from '../file/file-log-store.ts';
import type {
  AppendResult,
  LogStore,
  PartitionInfo,
  ReadResult,
  RetentionResult,
  StorageEvents,
  TopicConfig,
  TopicInfo,
} from '../log-store.ts';
import { GROUPS_BUCKET, JetStreamMembershipStore } from './jetstream-membership-store.ts';
import { JetStreamOffsetStore, OFFSETS_BUCKET } from './jetstream-offset-store.ts';
import { liveEntries, purgeDeleteMarkers } from './kv-entries.ts';

export const LOG_SUBJECT_PREFIX = 'tributary.log';
export const CONTENTION_SUBJECT_PREFIX = 'tributary.contention';
/** How long a contention notice slows this collector's publishes to that partition, and by how much at most. */
const CONTENTION_WINDOW_MS = 250;
const CONTENTION_YIELD_MS = 20;
export const TOPICS_BUCKET = 'tributary_topics';
const H_BASE = 'Trib-Base-Offset';
const H_NEXT = 'Trib-Next-Offset';
const H_MAXTS = 'Trib-Max-Ts';
/** Lost races against other collectors are retried with jitter; beyond this the append rejects (the agent retries). */
const MAX_PUBLISH_ATTEMPTS = 50;

export interface JetStreamLogStoreOptions {
  readonly servers: string | string[];
  readonly token?: string;
  readonly user?: string;
  readonly pass?: string;
  /** Contents of a .creds file (JWT + nkey seed). */
  readonly credentials?: string;
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
  readonly replicas?: number;
  readonly defaults?: Partial<TopicConfig>;
  readonly events?: StorageEvents;
  /** Per JetStream request; a cluster electing a leader needs several seconds. */
  readonly timeoutMs?: number;
  /**
   * How long one publish of an append waits for its ack before it is sent again (same msg-id, so never stored
   * twice). A publish that reached a stream leader that then died, or a stream electing a leader, gets no answer:
   * short attempts resume appending soon after the new leader is up instead of after a whole timeoutMs.
   * Default 2000.
   */
  readonly publishTimeoutMs?: number;
  /** Connection name shown by the server; also the prefix of this collector's publish msg-ids. */
  readonly name?: string;
  /** How often to record partition floors (enforceRetention); 0 turns the timer off. Default 5 minutes. */
  readonly retentionCheckIntervalMs?: number;
  /**
   * Delete markers of topics, offsets and groups older than this are purged by enforceRetention. Default 30 min:
   * long enough that every collector has seen a deletion through its KV watch before the marker goes.
   */
  readonly deleteMarkerAgeMs?: number;
}

/** '_' -> '_u', '.' -> '_d': injective, and the result is a legal stream name and KV key token. */
export function encodeName(name: string): string {
  return name.replace(/_/g, '_u').replace(/\./g, '_d');
}
export function decodeName(encoded: string): string {
  return encoded.replace(/_d|_u/g, (m) => (m === '_d' ? '.' : '_'));
}
export function streamName(topic: string, partition: PartitionId): string {
  return `TRIB_${encodeName(topic)}_${partition}`;
}
export function logSubject(topic: string, partition: PartitionId): string {
  return `${LOG_SUBJECT_PREFIX}.${topic}.${partition}`;
}

interface TopicEntry {
  config: TopicConfig;
  floorOffsets?: number[];
}

interface PartitionTail {
  lastSeq: number;
  nextOffset: Offset;
  maxTs: TimestampMs;
}

function isWrongLastSequence(error: unknown): boolean {
  return error instanceof Error && /wrong last sequence/i.test(error.message);
}
function isNotFound(error: unknown): boolean {
  return error instanceof Error && /not found|no message found/i.test(error.message);
}

export class JetStreamLogStore implements LogStore {
  readonly offsets: JetStreamOffsetStore;
  readonly membership: JetStreamMembershipStore;
  private readonly topics = new Map<string, TopicEntry>();
  private readonly tails = new Map<string, PartitionTail>();
  /** Appends to one partition from this collector are serialized (call order), as the contract requires. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly defaults: TopicConfig;
  private readonly events: StorageEvents;
  private readonly replicas: number;
  private readonly deleteMarkerAgeMs: number;
  private readonly idPrefix: string;
  private readonly publishTimeoutMs: number;
  private msgCounter = 0;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private stopWatch: (() => void) | undefined;
  /** Per topic: the pending floor record after an append (recordFloorsSoon). */
  private readonly floorTimers = new Map<string, NodeJS.Timeout>();
  /** Per `topic/partition`: until when another collector's lost races ask this one to leave gaps. */
  private readonly yieldUntil = new Map<string, number>();
  private contentionSub: Subscription | undefined;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    private readonly topicsKv: KV,
    offsetsKv: KV,
    groupsKv: KV,
    options: JetStreamLogStoreOptions,
  ) {
    this.defaults = resolveTopicConfig(options.defaults ?? {}, DEFAULT_TOPIC_CONFIG);
    this.events = options.events ?? {};
    this.replicas = options.replicas ?? 1;
    this.deleteMarkerAgeMs = options.deleteMarkerAgeMs ?? 30 * 60_000;
    this.idPrefix = `${options.name ?? 'collector'}-${process.pid}-${Date.now().toString(36)}`;
    this.publishTimeoutMs = options.publishTimeoutMs ?? 2_000;
    this.offsets = new JetStreamOffsetStore({ kv: offsetsKv, jsm });
    this.membership = new JetStreamMembershipStore({ kv: groupsKv, jsm });
  }

  static async open(options: JetStreamLogStoreOptions): Promise<JetStreamLogStore> {
    const replicas = options.replicas ?? 1;
    if (!Number.isSafeInteger(replicas) || replicas < 1 || replicas > 5) {
      throw new InvalidArgumentError(`jetstream replicas must be 1 to 5, got ${replicas}`);
    }
    const connectOptions: ConnectionOptions = {
      servers: options.servers,
      name: options.name ?? 'tributary-collector',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      timeout: options.timeoutMs ?? 10_000,
    };
    if (options.token !== undefined) connectOptions.token = options.token;
    if (options.user !== undefined) connectOptions.user = options.user;
    if (options.pass !== undefined) connectOptions.pass = options.pass;
    if (options.credentials !== undefined) {
      connectOptions.authenticator = credsAuthenticator(new TextEncoder().encode(options.credentials));
    }
    if (options.tls !== undefined) {
      connectOptions.tls = {
        ...(options.tls.caFile ? { caFile: options.tls.caFile } : {}),
        ...(options.tls.certFile ? { certFile: options.tls.certFile } : {}),
        ...(options.tls.keyFile ? { keyFile: options.tls.keyFile } : {}),
      };
    }
    const nc = await connect(connectOptions);
    try {
      const timeout = options.timeoutMs ?? 10_000;
      const js = nc.jetstream({ timeout });
      // A fresh cluster has no meta leader for a few seconds: retry the first JetStream calls (bounded).
      const jsm = await retryUntilReady(() => nc.jetstreamManager({ timeout }));
      // allow_direct off: a direct get may be answered by a follower that has not applied the latest write yet;
      // reads through the stream leader see every acknowledged write (read-your-writes for offsets and groups,
      // and revision checks that do not spin on a stale value).
      const bucket = { replicas, history: 1, allow_direct: false };
      const [topicsKv, offsetsKv, groupsKv] = await retryUntilReady(async () => [
        await js.views.kv(TOPICS_BUCKET, bucket),
        await js.views.kv(OFFSETS_BUCKET, bucket),
        await js.views.kv(GROUPS_BUCKET, bucket),
      ]);
      const store = new JetStreamLogStore(nc, jsm, js, topicsKv, offsetsKv, groupsKv, options);
      await store.loadTopics();
      await store.watchTopics();
      store.listenForContention();
      const interval = options.retentionCheckIntervalMs ?? 300_000;
      if (interval > 0) {
        store.timer = setInterval(() => void store.enforceRetention().catch(() => undefined), interval);
        store.timer.unref();
      }
      return store;
    } catch (error) {
      await nc.close();
      throw new UnavailableError(
        `cannot open the JetStream store at ${String(options.servers)}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  private async loadTopics(): Promise<void> {
    const entries = await liveEntries(this.jsm, this.topicsKv, TOPICS_BUCKET);
    this.topics.clear();
    for (const entry of entries) this.topics.set(decodeName(entry.key), entry.json<TopicEntry>());
  }

  /**
   * Keeps the topic cache (and so the synchronous hasTopic) current with topics other collectors create or delete:
   * a KV watch delivers every later change of the bucket.
   */
  private async watchTopics(): Promise<void> {
    const watch = await this.topicsKv.watch({ include: KvWatchInclude.UpdatesOnly });
    this.stopWatch = () => watch.stop();
    void (async () => {
      for await (const e of watch) {
        const name = decodeName(e.key);
        if (e.operation === 'PUT') this.topics.set(name, e.json<TopicEntry>());
        else {
          this.topics.delete(name);
          for (const key of [...this.tails.keys()]) if (key.startsWith(`${name}/`)) this.tails.delete(key);
        }
      }
    })().catch(() => undefined);
  }

  private listenForContention(): void {
    const prefix = `${CONTENTION_SUBJECT_PREFIX}.`;
    this.contentionSub = this.nc.subscribe(`${prefix}>`, {
      callback: (error, msg) => {
        if (error || Buffer.from(msg.data).toString() === this.idPrefix) return;
        // The partition is the last token; the topic, which may contain dots, is the rest.
        const rest = msg.subject.slice(prefix.length);
        const dot = rest.lastIndexOf('.');
        this.yieldUntil.set(`${rest.slice(0, dot)}/${rest.slice(dot + 1)}`, Date.now() + CONTENTION_WINDOW_MS);
      },
    });
  }

  /** Another collector may have created or deleted a topic: reread it from the KV bucket. */
  private async refreshTopic(name: string): Promise<TopicEntry | undefined> {
    const entry = await this.topicsKv.get(encodeName(name));
    if (entry?.operation !== 'PUT') {
      this.topics.delete(name);
      return undefined;
    }
    const value = entry.json<TopicEntry>();
    this.topics.set(name, value);
    return value;
  }

  private async topic(name: string): Promise<TopicEntry> {
    const entry = this.topics.get(name) ?? (await this.refreshTopic(name));
    if (entry === undefined) throw new TopicNotFoundError(name);
    return entry;
  }

  private async partitionOf(name: string, partition: PartitionId): Promise<TopicEntry> {
    const entry = await this.topic(name);
    if (!Number.isSafeInteger(partition) || partition < 0 || partition >= entry.config.partitions) {
      throw new PartitionNotFoundError(name, partition, entry.config.partitions);
    }
    return entry;
  }

  hasTopic(name: string): boolean {
    return this.topics.has(name);
  }

  async createTopic(name: string, config: Partial<TopicConfig> = {}): Promise<TopicInfo> {
    assertValidName('topic', name);
    const resolved = resolveTopicConfig(config, this.defaults);
    if ((await this.refreshTopic(name)) !== undefined) throw new TopicExistsError(name);
    for (let p = 0; p < resolved.partitions; p++) {
      await this.jsm.streams.add({
        name: streamName(name, p),
        subjects: [logSubject(name, p)],
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
        storage: StorageType.File,
        num_replicas: this.replicas,
        max_age: resolved.retentionMs === null ? 0 : resolved.retentionMs * 1_000_000,
        max_bytes: resolved.retentionBytes ?? -1,
        // The server refuses a duplicate window longer than max_age.
        duplicate_window: Math.min(120_000, resolved.retentionMs ?? 120_000) * 1_000_000,
        allow_direct: true,
      });
    }
    try {
      await this.topicsKv.create(encodeName(name), JSON.stringify({ config: resolved } satisfies TopicEntry));
    } catch (error) {
      if (/wrong last sequence|exists/i.test((error as Error).message)) throw new TopicExistsError(name);
      throw error;
    }
    this.topics.set(name, { config: resolved });
    return await this.describeTopic(name);
  }

  async deleteTopic(name: string): Promise<void> {
    const entry = await this.topic(name);
    await this.topicsKv.delete(encodeName(name));
    for (let p = 0; p < entry.config.partitions; p++) {
      try {
        await this.jsm.streams.delete(streamName(name, p));
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      this.tails.delete(`${name}/${p}`);
    }
    this.topics.delete(name);
  }

  async listTopics(): Promise<TopicInfo[]> {
    await this.loadTopics();
    const out: TopicInfo[] = [];
    for (const name of [...this.topics.keys()].sort()) out.push(await this.describeTopic(name));
    return out;
  }

  async describeTopic(name: string): Promise<TopicInfo> {
    const entry = await this.topic(name);
    const partitions: PartitionInfo[] = [];
    for (let p = 0; p < entry.config.partitions; p++) {
      const { startOffset, endOffset, bytes } = await this.bounds(name, p, entry);
      partitions.push({ partition: p, startOffset, endOffset, sizeBytes: bytes, segmentCount: 1 });
    }
    return { name, config: entry.config, partitions };
  }

  private async getMsg(name: string, partition: PartitionId, seq: number): Promise<StoredMsg> {
    return await this.jsm.streams.getMessage(streamName(name, partition), { seq });
  }

  private floor(entry: TopicEntry, partition: PartitionId): Offset {
    return entry.floorOffsets?.[partition] ?? 0;
  }

  /** Reads the partition's tail from the stream's last message (or the floor when the stream is empty). */
  private async loadTail(name: string, partition: PartitionId, entry: TopicEntry): Promise<PartitionTail> {
    const info = await this.jsm.streams.info(streamName(name, partition));
    const lastSeq = info.state.last_seq;
    let tail: PartitionTail;
    if (info.state.messages === 0) {
      const known = this.tails.get(`${name}/${partition}`);
      tail = { lastSeq, nextOffset: Math.max(known?.nextOffset ?? 0, this.floor(entry, partition)), maxTs: 0 };
    } else {
      const last = await this.getMsg(name, partition, lastSeq);
      tail = { lastSeq, nextOffset: headerNumber(last, H_NEXT), maxTs: headerNumber(last, H_MAXTS) };
    }
    this.tails.set(`${name}/${partition}`, tail);
    return tail;
  }

  private async bounds(
    name: string,
    partition: PartitionId,
    entry: TopicEntry,
  ): Promise<{ startOffset: Offset; endOffset: Offset; firstSeq: number; lastSeq: number; bytes: number }> {
    const info = await this.jsm.streams.info(streamName(name, partition));
    const { first_seq: firstSeq, last_seq: lastSeq, messages, bytes } = info.state;
    if (messages === 0) {
      const tail = await this.loadTail(name, partition, entry);
      return { startOffset: tail.nextOffset, endOffset: tail.nextOffset, firstSeq, lastSeq, bytes };
    }
    const [first, last] = await Promise.all([
      this.getMsg(name, partition, firstSeq),
      this.getMsg(name, partition, lastSeq),
    ]);
    return {
      startOffset: headerNumber(first, H_BASE),
      endOffset: headerNumber(last, H_NEXT),
      firstSeq,
      lastSeq,
      bytes,
    };
  }

  async appendChecked(topic: string, partition: PartitionId, buffers: readonly Buffer[]): Promise<AppendResult> {
    return this.append(topic, partition, buffers.flatMap(splitBatches));
  }

  append(topic: string, partition: PartitionId, batches: readonly ValidatedBatch[]): Promise<AppendResult> {
    const key = `${topic}/${partition}`;
    const previous = this.queues.get(key) ?? Promise.resolve();
    const next = previous.then(
      () => this.appendNow(topic, partition, batches),
      () => this.appendNow(topic, partition, batches),
    );
    const settled = next.catch(() => undefined);
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    return next;
  }

  private async appendNow(
    topic: string,
    partition: PartitionId,
    batches: readonly ValidatedBatch[],
  ): Promise<AppendResult> {
    if (this.closed) throw new UnavailableError('the JetStream store is closed');
    const entry = await this.partitionOf(topic, partition);
    if (batches.length === 0) throw new InvalidArgumentError('an append needs at least one batch');
    let recordCount = 0;
    let batchMaxTs = 0;
    let bytes = 0;
    for (const { header } of batches) {
      recordCount += header.recordCount;
      batchMaxTs = Math.max(batchMaxTs, header.maxTimestamp);
      bytes += header.size;
    }
    const buffers = batches.map((b) => b.bytes);
    const payloadLimit = this.nc.info?.max_payload ?? 1024 * 1024;
    if (bytes > payloadLimit) {
      throw new InvalidArgumentError(
        `an append of ${bytes} bytes exceeds the NATS server's max_payload of ${payloadLimit}: ` +
          'send smaller requests or raise max_payload on the servers',
      );
    }
    const msgID = `${this.idPrefix}-${++this.msgCounter}`;
    let tail = this.tails.get(`${topic}/${partition}`) ?? (await this.loadTail(topic, partition, entry));
    for (let attempt = 1; ; attempt++) {
      let offset = tail.nextOffset;
      for (const { header, bytes: batch } of batches) {
        stampBaseOffset(batch, 0, offset);
        offset += header.recordCount;
      }
      const maxTs = Math.max(tail.maxTs, batchMaxTs);
      const h = headers();
      h.set(H_BASE, String(tail.nextOffset));
      h.set(H_NEXT, String(offset));
      h.set(H_MAXTS, String(maxTs));
      const payload = buffers.length === 1 ? (buffers[0] as Buffer) : Buffer.concat(buffers);
      if ((this.yieldUntil.get(`${topic}/${partition}`) ?? 0) > Date.now()) {
        await new Promise((r) => setTimeout(r, Math.random() * CONTENTION_YIELD_MS));
      }
      try {
        const ack = await this.js.publish(logSubject(topic, partition), payload, {
          msgID,
          timeout: this.publishTimeoutMs,
          expect: { lastSequence: tail.lastSeq },
          headers: h,
        });
        const baseOffset = tail.nextOffset;
        if (ack.duplicate) {
          // Our earlier attempt was stored: its offsets are in the stored message, not necessarily in `tail`.
          const stored = await this.getMsg(topic, partition, ack.seq);
          tail = await this.loadTail(topic, partition, entry);
          const base = headerNumber(stored, H_BASE);
          return { baseOffset: base, lastOffset: headerNumber(stored, H_NEXT) - 1, recordCount };
        }
        this.tails.set(`${topic}/${partition}`, { lastSeq: ack.seq, nextOffset: offset, maxTs });
        this.recordFloorsSoon(topic, entry.config);
        this.events.appended?.({
          topic,
          partition,
          baseOffset,
          lastOffset: offset - 1,
          recordCount,
          bytes,
          batches: buffers,
        });
        return { baseOffset, lastOffset: offset - 1, recordCount };
      } catch (error) {
        if (attempt >= MAX_PUBLISH_ATTEMPTS) {
          throw new UnavailableError(
            `append to ${topic}/${partition} failed after ${attempt} attempts: ${(error as Error).message}; retry`,
            { cause: error },
          );
        }
        // Another collector appended first (wrong last sequence): reload the tail, re-stamp and retry; jitter breaks
        // the lockstep of collectors that keep losing the same race to each other. Anything else (no answer: the
        // leader died; 503 no responders: the stream is electing one): send the same publish again, as it is; if
        // the first one was stored, the duplicate window answers with its sequence, and if the expectation has
        // gone stale meanwhile the retry says "wrong last sequence". Reloading the tail there would only wait on
        // the same election (a stream info request hangs until its timeout while the stream has no leader).
        if (isWrongLastSequence(error)) {
          try {
            this.nc.publish(`${CONTENTION_SUBJECT_PREFIX}.${topic}.${partition}`, this.idPrefix);
          } catch {
            // a hint only: a closed or reconnecting connection must not fail the append
          }
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(10, attempt)));
          try {
            tail = await this.loadTail(topic, partition, entry);
          } catch {
            // the cluster may be electing a leader; the next attempt tells
          }
        } else {
          await new Promise((r) => setTimeout(r, Math.min(100 * attempt, 1000)));
        }
      }
    }
  }

  /** The largest held sequence whose message's base offset is <= offset (binary search, O(log n) gets). */
  private async seqForOffset(name: string, partition: PartitionId, offset: Offset, lo: number, hi: number) {
    while (lo < hi) {
      const mid = Math.floor((lo + hi + 1) / 2);
      const base = headerNumber(await this.getMsg(name, partition, mid), H_BASE);
      if (base <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  async read(topic: string, partition: PartitionId, offset: Offset, maxBytes: number): Promise<ReadResult> {
    const entry = await this.partitionOf(topic, partition);
    const b = await this.bounds(topic, partition, entry);
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
      const msg = await this.getMsg(topic, partition, seq);
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

  async offsetForTimestamp(topic: string, partition: PartitionId, timestamp: TimestampMs): Promise<Offset> {
    const entry = await this.partitionOf(topic, partition);
    const b = await this.bounds(topic, partition, entry);
    if (b.startOffset === b.endOffset) return b.endOffset;
    // First sequence whose running max timestamp >= timestamp: it is the first batch whose own max is >= it.
    let lo = b.firstSeq;
    let hi = b.lastSeq + 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (headerNumber(await this.getMsg(topic, partition, mid), H_MAXTS) >= timestamp) hi = mid;
      else lo = mid + 1;
    }
    if (lo > b.lastSeq) return b.endOffset;
    // A message holds several batches: return the first of them whose own max timestamp reaches it.
    const msg = await this.getMsg(topic, partition, lo);
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
    offset: Offset,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    const entry = await this.partitionOf(topic, partition);
    // Subscribe before checking, so an append between the check and the subscription is not missed.
    const sub = this.nc.subscribe(logSubject(topic, partition), { max: 1 });
    try {
      const b = await this.bounds(topic, partition, entry);
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

  /**
   * JetStream enforces max_age and max_bytes itself. What this does: record each partition's next offset as its
   * floor in the topic's KV entry, so that when retention later empties a stream, a collector that never saw its
   * last message still continues the offsets instead of restarting at 0 (see "Empty streams" above).
   */
  async enforceRetention(): Promise<RetentionResult> {
    for (const name of [...this.topics.keys()]) await this.recordFloors(name);
    // Deleted topics and groups leave markers that every listing would read again, forever.
    await purgeDeleteMarkers(this.topicsKv, this.deleteMarkerAgeMs);
    await this.offsets.purgeDeleteMarkers(this.deleteMarkerAgeMs);
    await this.membership.purgeDeleteMarkers(this.deleteMarkerAgeMs);
    return { segmentsDeleted: 0, bytesDeleted: 0 };
  }

  /** Schedules recordFloors for the topic half a retention time from now, unless one is pending. */
  private recordFloorsSoon(topic: string, config: TopicConfig): void {
    if (config.retentionMs === null || this.floorTimers.has(topic) || this.closed) return;
    const timer = setTimeout(
      () => {
        // Deleted first: an append while the record runs schedules the next one, so none is missed.
        this.floorTimers.delete(topic);
        void this.recordFloors(topic).catch(() => undefined);
      },
      Math.max(1, Math.floor(config.retentionMs / 2)),
    );
    timer.unref();
    this.floorTimers.set(topic, timer);
  }

  /** Raises the topic's recorded floors to its partitions' current next offsets (never lowers them). */
  private async recordFloors(name: string): Promise<void> {
    for (let attempt = 1; attempt <= 5; attempt++) {
      const kvEntry = await this.topicsKv.get(encodeName(name));
      if (kvEntry?.operation !== 'PUT') return;
      const entry = kvEntry.json<TopicEntry>();
      const floors: number[] = [];
      for (let p = 0; p < entry.config.partitions; p++) {
        const next = (await this.loadTail(name, p, entry)).nextOffset;
        floors.push(Math.max(next, entry.floorOffsets?.[p] ?? 0));
      }
      if (floors.every((f, p) => f === (entry.floorOffsets?.[p] ?? 0))) return;
      try {
        // Revision-checked: a concurrent delete, or another collector's floors; then read again and raise.
        await this.topicsKv.update(
          encodeName(name),
          JSON.stringify({ ...entry, floorOffsets: floors }),
          kvEntry.revision,
        );
        this.topics.set(name, { ...entry, floorOffsets: floors });
        return;
      } catch {
        // read again
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    this.stopWatch?.();
    this.contentionSub?.unsubscribe();
    await Promise.allSettled([...this.queues.values()]);
    this.closed = true;
    // Pending floor records run now: a clean shutdown leaves no gap for a collector that starts after the streams
    // have emptied.
    const pending = [...this.floorTimers.keys()];
    for (const timer of this.floorTimers.values()) clearTimeout(timer);
    this.floorTimers.clear();
    await Promise.allSettled(pending.map((topic) => this.recordFloors(topic)));
    await this.nc.drain();
  }
}

function headerNumber(msg: StoredMsg, name: string): number {
  const raw = msg.header?.get(name);
  const value = Number(raw);
  if (raw === undefined || raw === '' || !Number.isSafeInteger(value)) {
    throw new CorruptDataError(`JetStream message ${msg.seq} on ${msg.subject} has no valid ${name} header`);
  }
  return value;
}

async function retryUntilReady<T>(fn: () => Promise<T>, deadlineMs = 60_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
