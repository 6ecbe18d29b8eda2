/**
 * The JetStream storage backend: the LogStore contract on NATS JetStream, for more than one collector. This file
 * wires the parts; each concept has its own file:
 *
 * - names.ts: streams, subjects and buckets on the server (`TRIB_<enc(topic)>_<partition>`,
 *   `tributary.log.<topic>.<partition>`, buckets `tributary_topics`, `tributary_offsets`, `tributary_groups`).
 * - connection.ts: the NATS connection, JetStream and the buckets; errors that name NATS and its servers.
 * - cluster-checks.ts: replicas against the cluster and the existing buckets, before anything is created.
 * - topic-catalogue.ts: topic configs in `tributary_topics`, cached and watched.
 * - partition-stream.ts: a partition's stream, its message layout (one append = one message, offsets in headers)
 *   and its invariants; tails and bounds.
 * - fenced-append.ts: appends with an expected last sequence, so two collectors never claim the same offsets.
 * - stream-reader.ts: seek by offset or time, read, long-poll.
 * - floors.ts: next offsets recorded for streams that retention empties.
 * - jetstream-offset-store.ts, jetstream-membership-store.ts: committed offsets and group membership.
 *
 * Durability: nats-server acknowledges a publish once the message is in the stream's replicas' memory and written
 * to their files, but fsyncs on an interval (sync_interval, 2 min by default). With replicas 1 an acknowledged
 * batch can be lost to a machine crash (not to a process crash); with replicas 3 an ack means a quorum (2 of 3
 * nodes) holds it, which is what makes an acknowledged batch durable here. The topic's flush and segment settings
 * do not apply (describe does not show them).
 */
import { splitBatches, type ValidatedBatch } from '../../../shared/batch-codec.ts';
import { InvalidArgumentError, TopicExistsError, UnavailableError } from '../../../shared/errors.ts';
import { type Logger, silentLogger } from '../../../shared/logger.ts';
import type { NatsConnectionSettings } from '../../../shared/nats-connection.ts';
import { assertValidName } from '../../../shared/names.ts';
import { ThrottledLog } from '../../../shared/throttled-log.ts';
import type { Offset, PartitionId, TimestampMs } from '../../../shared/record.ts';
import type {
  AppendResult,
  BackendSummary,
  LogStore,
  PartitionInfo,
  ReadResult,
  RetentionResult,
  StorageEvents,
  StreamPlacement,
  TopicConfig,
  TopicInfo,
} from '../log-store.ts';
import { DEFAULT_TOPIC_CONFIG, resolveTopicConfig } from '../topic-config.ts';
import { type ClusterFacts, checkCluster } from './cluster-checks.ts';
import { asNatsUnavailable, type JetStreamSession, openSession } from './connection.ts';
import { FencedAppender } from './fenced-append.ts';
import { FloorRecorder } from './floors.ts';
import { JetStreamMembershipStore } from './jetstream-membership-store.ts';
import { JetStreamOffsetStore } from './jetstream-offset-store.ts';
import { purgeDeleteMarkers } from './kv-entries.ts';
import { BUCKETS, streamName, TOPICS_BUCKET } from './names.ts';
import { type PartitionBounds, PartitionStreams, streamConfig } from './partition-stream.ts';
import { StreamReader } from './stream-reader.ts';
import { TopicCatalogue } from './topic-catalogue.ts';

export interface JetStreamLogStoreOptions {
  /** Servers and authentication; credential and TLS files already read (shared/nats-connection.ts). */
  readonly connection: NatsConnectionSettings;
  readonly replicas?: number;
  readonly defaults?: Partial<TopicConfig>;
  readonly events?: StorageEvents;
  /** Connection events, stalls, background failures. Default: silent. */
  readonly logger?: Logger;
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

/** How long each step of close waits on NATS before it gives up (a shutdown while NATS is down must end). */
const CLOSE_DEADLINE_MS = 10_000;

/** Whether `operation` settled (either way) within `ms`. */
async function settlesWithin(operation: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      operation.then(
        () => true,
        () => true,
      ),
      expired,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && /not found|no message found/i.test(error.message);
}

export class JetStreamLogStore implements LogStore {
  readonly offsets: JetStreamOffsetStore;
  readonly membership: JetStreamMembershipStore;
  private readonly catalogue: TopicCatalogue;
  private readonly streams: PartitionStreams;
  private readonly appender: FencedAppender;
  private readonly reader: StreamReader;
  private readonly floors: FloorRecorder;
  private readonly defaults: TopicConfig;
  private readonly replicas: number;
  private readonly deleteMarkerAgeMs: number;
  private readonly background: ThrottledLog;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly logger: Logger;

  private constructor(
    private readonly session: JetStreamSession,
    private readonly facts: ClusterFacts,
    private readonly options: JetStreamLogStoreOptions,
    logger: Logger,
  ) {
    const events = options.events ?? {};
    this.defaults = resolveTopicConfig(options.defaults ?? {}, DEFAULT_TOPIC_CONFIG);
    this.replicas = options.replicas ?? 1;
    this.deleteMarkerAgeMs = options.deleteMarkerAgeMs ?? 30 * 60_000;
    this.logger = logger;
    this.background = new ThrottledLog({ logger });
    const kv = { jsm: session.jsm, servers: session.servers };
    this.offsets = new JetStreamOffsetStore({ ...kv, kv: session.offsetsKv });
    this.membership = new JetStreamMembershipStore({ ...kv, kv: session.groupsKv });
    this.streams = new PartitionStreams(session);
    this.catalogue = new TopicCatalogue(session, (topic) => this.streams.forget(topic));
    this.floors = new FloorRecorder(this.catalogue, this.streams, (topic, error) =>
      this.background.warn(
        `floors ${TOPICS_BUCKET}`,
        { topic, bucket: TOPICS_BUCKET, nats: session.servers, err: error },
        'recording partition floors failed; retried on the next append or retention check',
      ),
    );
    this.reader = new StreamReader(session.nc, this.streams, events);
    this.appender = new FencedAppender({
      session,
      streams: this.streams,
      events,
      logger,
      idPrefix: `${options.name ?? 'collector'}-${process.pid}-${Date.now().toString(36)}`,
      publishTimeoutMs: options.publishTimeoutMs ?? 2_000,
      onAppended: (topic, entry) => this.floors.recordSoon(topic, entry.config),
    });
  }

  static async open(options: JetStreamLogStoreOptions): Promise<JetStreamLogStore> {
    const replicas = options.replicas ?? 1;
    if (!Number.isSafeInteger(replicas) || replicas < 1 || replicas > 5) {
      throw new InvalidArgumentError(`jetstream replicas must be 1 to 5, got ${replicas}`);
    }
    const logger = options.logger ?? silentLogger();
    let facts: ClusterFacts | undefined;
    const session = await openSession({
      connection: options.connection,
      name: options.name ?? 'tributary-collector',
      replicas,
      timeoutMs: options.timeoutMs ?? 10_000,
      logger,
      beforeBuckets: async (nc, jsm) => {
        facts = await checkCluster(nc, jsm, replicas, `NATS at ${options.connection.servers.join(', ')}`, logger);
      },
    });
    if (facts === undefined) throw new Error('unreachable: the cluster checks did not run');
    const store = new JetStreamLogStore(session, facts, options, logger);
    try {
      await store.catalogue.start();
    } catch (error) {
      await session.nc.close();
      throw new UnavailableError(`${session.servers}: cannot read the topics (bucket ${TOPICS_BUCKET}): ${error}`, {
        cause: error,
      });
    }
    const interval = options.retentionCheckIntervalMs ?? 300_000;
    if (interval > 0) {
      store.timer = setInterval(() => {
        store.enforceRetention().then(
          () => store.background.recovered('retention', {}, 'retention check succeeds again'),
          (error: unknown) =>
            store.background.warn(
              'retention',
              { buckets: BUCKETS, nats: session.servers, err: error },
              'retention check (partition floors, delete markers) failed; retried on the next check',
            ),
        );
      }, interval);
      store.timer.unref();
    }
    return store;
  }

  /** Runs a store operation, reporting a NATS failure as NATS's, with the servers (503, retry). */
  private async nats<T>(doing: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw asNatsUnavailable(error, this.session.servers, doing);
    }
  }

  backendSummary(): BackendSummary {
    return {
      kind: 'jetstream',
      servers: this.options.connection.servers,
      connectedTo: this.session.nc.info?.server_name ?? this.facts.connectedTo,
      cluster: this.facts.cluster,
      clusterSize: this.facts.clusterSize,
      replicas: this.replicas,
      storage: 'file',
      maxPayload: this.facts.maxPayload,
      buckets: BUCKETS,
    };
  }

  hasTopic(name: string): boolean {
    return this.catalogue.has(name);
  }

  async createTopic(name: string, config: Partial<TopicConfig> = {}): Promise<TopicInfo> {
    return await this.nats(`creating topic ${name}`, async () => {
      assertValidName('topic', name);
      const resolved = resolveTopicConfig(config, this.defaults);
      if ((await this.catalogue.refresh(name)) !== undefined) throw new TopicExistsError(name);
      for (let p = 0; p < resolved.partitions; p++) {
        await this.session.jsm.streams.add(streamConfig(name, p, resolved, this.replicas));
      }
      await this.catalogue.add(name, resolved);
      return await this.describeTopic(name);
    });
  }

  async deleteTopic(name: string): Promise<void> {
    return await this.nats(`deleting topic ${name}`, async () => {
      const entry = await this.catalogue.get(name);
      await this.catalogue.remove(name);
      for (let p = 0; p < entry.config.partitions; p++) {
        try {
          await this.session.jsm.streams.delete(streamName(name, p));
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
      }
      this.streams.forget(name);
    });
  }

  async listTopics(): Promise<TopicInfo[]> {
    return await this.nats('listing topics', async () => {
      await this.catalogue.reload();
      const out: TopicInfo[] = [];
      for (const name of this.catalogue.names()) out.push(await this.describeTopic(name));
      return out;
    });
  }

  async describeTopic(name: string): Promise<TopicInfo> {
    return await this.nats(`describing topic ${name}`, async () => {
      const entry = await this.catalogue.get(name);
      const partitions: PartitionInfo[] = [];
      for (let p = 0; p < entry.config.partitions; p++) {
        const b = await this.streams.bounds(name, p, entry);
        partitions.push({
          partition: p,
          startOffset: b.startOffset,
          endOffset: b.endOffset,
          sizeBytes: b.bytes,
          stream: placement(b),
        });
      }
      return { name, backend: 'jetstream', config: entry.config, partitions };
    });
  }

  async append(topic: string, partition: PartitionId, batches: readonly ValidatedBatch[]): Promise<AppendResult> {
    return await this.nats(`appending to ${topic}/${partition}`, async () => {
      if (this.closed) throw new UnavailableError('the JetStream store is closed');
      if (batches.length === 0) throw new InvalidArgumentError('an append needs at least one batch');
      const entry = await this.catalogue.partitionOf(topic, partition);
      return await this.appender.append(topic, partition, entry, batches);
    });
  }

  async appendChecked(topic: string, partition: PartitionId, buffers: readonly Buffer[]): Promise<AppendResult> {
    return this.append(topic, partition, buffers.flatMap(splitBatches));
  }

  async read(topic: string, partition: PartitionId, offset: Offset, maxBytes: number): Promise<ReadResult> {
    return await this.nats(`reading ${topic}/${partition}`, async () => {
      const entry = await this.catalogue.partitionOf(topic, partition);
      return await this.reader.read(topic, partition, entry, offset, maxBytes);
    });
  }

  async offsetForTimestamp(topic: string, partition: PartitionId, timestamp: TimestampMs): Promise<Offset> {
    return await this.nats(`finding a time in ${topic}/${partition}`, async () => {
      const entry = await this.catalogue.partitionOf(topic, partition);
      return await this.reader.offsetForTimestamp(topic, partition, entry, timestamp);
    });
  }

  async waitForAppend(
    topic: string,
    partition: PartitionId,
    offset: Offset,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    return await this.nats(`waiting for appends to ${topic}/${partition}`, async () => {
      const entry = await this.catalogue.partitionOf(topic, partition);
      return await this.reader.waitForAppend(topic, partition, entry, offset, timeoutMs, signal);
    });
  }

  /**
   * JetStream enforces max_age and max_bytes itself. What this does: record each partition's next offset as its
   * floor in the topic's KV entry (floors.ts), and purge old delete markers of the buckets.
   */
  async enforceRetention(): Promise<RetentionResult> {
    for (const name of this.catalogue.names()) await this.floors.record(name);
    // Deleted topics and groups leave markers that every listing would read again, forever.
    await purgeDeleteMarkers(this.session.topicsKv, this.deleteMarkerAgeMs);
    await this.offsets.purgeDeleteMarkers(this.deleteMarkerAgeMs);
    await this.membership.purgeDeleteMarkers(this.deleteMarkerAgeMs);
    return { segmentsDeleted: 0, bytesDeleted: 0 };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    this.catalogue.stop();
    // Appends in flight finish first (each is bounded by its publish attempts); past the deadline they fail with the
    // connection, unacknowledged, and their senders retry.
    await settlesWithin(this.appender.close(), 3 * CLOSE_DEADLINE_MS);
    this.closed = true;
    // Pending floor records run now: a clean shutdown leaves no gap for a collector that starts after the streams
    // have emptied. With NATS unreachable they cannot, and a shutdown must not wait for it forever.
    if (!(await settlesWithin(this.floors.close(), CLOSE_DEADLINE_MS))) {
      this.logger.warn(
        { nats: this.session.servers, bucket: TOPICS_BUCKET },
        'shutdown: NATS did not answer, partition floors were not recorded (the next retention check records them)',
      );
    }
    // A drain refused (no connection) or unfinished leaves the client reconnecting forever: close it then.
    await settlesWithin(this.session.nc.drain(), CLOSE_DEADLINE_MS);
    if (!this.session.nc.isClosed()) await this.session.nc.close();
  }
}

/** Where a partition's copies are, from the stream info of its bounds. */
function placement(b: PartitionBounds): StreamPlacement {
  const cluster = b.info.cluster;
  return {
    name: b.info.config.name,
    replicas: b.info.config.num_replicas,
    leader: cluster?.leader,
    followers: (cluster?.replicas ?? []).map((r) => ({ server: r.name, current: r.current, lag: r.lag ?? 0 })),
    storage: b.info.config.storage === 'memory' ? 'memory' : 'file',
  };
}
