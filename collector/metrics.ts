/**
 * The collector's Prometheus metrics: the only collector module that imports prom-client (through
 * shared/metric-table.ts: the metrics are one table, collectorMetricTable, and the receivers' one). Components report
 * through narrow functions (the HTTP layer) or the StorageEvents sink (the store); per-partition and per-group
 * gauges are read from the store when Prometheus scrapes, so they are never stale and cost nothing between scrapes.
 *
 * Each collector has its own registry, so a collector and an agent in one process (`tributary up`) never clash.
 * Dashboards and alert rules (deploy/) are written against the names below; renaming one is a breaking change.
 */
import { statfs } from 'node:fs/promises';
import client from 'prom-client';
import { counter, gauge, histogram, type Registered, registerMetrics } from '../shared/metric-table.ts';
import type { PartitionId } from '../shared/record.ts';
import type { ReceiverEvents } from './receivers/receiver-events.ts';
import type { LogStore, StorageEvents } from './storage/log-store.ts';

/** What the Kafka listener reports (collector/kafka/); narrow so that module never imports prom-client. */
export interface KafkaListenerMetrics {
  request(api: string, version: number): void;
  error(api: string, code: string): void;
  connectionOpened(): void;
  connectionClosed(): void;
  /** The collector closed a connection because of bad input or a timeout. */
  closedFor(reason: string): void;
  bytes(direction: 'in' | 'out', count: number): void;
  /** Partitions read ahead for a consumer's next Fetch (kafka/fetch-ahead.ts), and whether that Fetch used them. */
  readAhead(result: 'used' | 'unused', partitions: number): void;
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const FSYNC_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const TOPIC = ['topic'] as const;
const TOPIC_PARTITION = ['topic', 'partition'] as const;
const GROUP_PARTITION = ['group', 'topic', 'partition'] as const;

/** What the scrape-time gauges read: snapshots of the store, its membership, and the data directory's file system. */
interface ScrapeSources {
  partitions(): Promise<PartitionSnapshot[]>;
  groups(): Promise<GroupSnapshot[]>;
  groupMembers(): Promise<[group: string, members: number][]>;
  dataDirStats(): Promise<{ bavail: number; blocks: number; bsize: number } | undefined>;
}

/**
 * Every collector metric (besides the default `process_*` and `nodejs_*` ones). Dashboards and alert rules
 * (deploy/) are written against these names; renaming one is a breaking change. Gauges with a reader are filled
 * when Prometheus scrapes.
 */
function collectorMetricTable(read: ScrapeSources) {
  const partitionGauge = (name: string, help: string, pick: (p: PartitionSnapshot) => number | undefined) =>
    gauge(name, help, TOPIC_PARTITION, async (set) => {
      for (const p of await read.partitions()) {
        const value = pick(p);
        // undefined: the backend has no such thing (segments on JetStream)
        if (value !== undefined) set(value, { topic: p.topic, partition: String(p.partition) });
      }
    });
  const groupGauge = (name: string, help: string, pick: (g: GroupSnapshot) => number) =>
    gauge(name, help, GROUP_PARTITION, async (set) => {
      for (const g of await read.groups())
        set(pick(g), { group: g.group, topic: g.topic, partition: String(g.partition) });
    });
  // No sample until a data directory is attached (a store without one, e.g. JetStream, has no local disk).
  const fileSystemGauge = (
    name: string,
    help: string,
    pick: (s: { bavail: number; blocks: number; bsize: number }) => number,
  ) =>
    gauge(name, help, [], async (set) => {
      const stats = await read.dataDirStats();
      if (stats) set(pick(stats));
    });
  return {
    recordsAppended: counter(
      'tributary_collector_records_appended_total',
      'Records appended (durable and acknowledged), by topic.',
      TOPIC,
    ),
    bytesAppended: counter(
      'tributary_collector_bytes_appended_total',
      'Bytes of record batches appended, by topic.',
      TOPIC,
    ),
    duplicateBatches: counter(
      'tributary_collector_produce_duplicate_batches_total',
      'Batches a producer sent again that the partition already held (idempotent produce): acknowledged, not stored twice.',
      TOPIC,
    ),
    produceDuration: histogram(
      'tributary_collector_produce_duration_seconds',
      'Produce request duration from arrival to acknowledgement (after durability), in seconds.',
      LATENCY_BUCKETS,
      ['encoding'],
    ),
    fetchDuration: histogram(
      'tributary_collector_fetch_duration_seconds',
      'Fetch request duration, long-poll waits included, in seconds.',
      LATENCY_BUCKETS,
      ['encoding'],
    ),
    fsyncDuration: histogram(
      'tributary_collector_fsync_duration_seconds',
      'Duration of each fsync of the storage engine, in seconds.',
      FSYNC_BUCKETS,
    ),
    segmentsRolled: counter(
      'tributary_collector_segments_rolled_total',
      'Segments rolled (a new active segment started), by topic.',
      TOPIC,
    ),
    retentionSegments: counter(
      'tributary_collector_retention_deleted_segments_total',
      'Segments deleted by retention, by topic and reason (time or size).',
      ['topic', 'reason'],
    ),
    retentionBytes: counter(
      'tributary_collector_retention_deleted_bytes_total',
      'Bytes deleted by retention, by topic and reason (time or size).',
      ['topic', 'reason'],
    ),
    recoveryTruncations: counter(
      'tributary_collector_recovery_truncations_total',
      'Torn or corrupt segment tails truncated during recovery.',
      TOPIC_PARTITION,
    ),
    recoveryBytes: counter(
      'tributary_collector_recovery_truncated_bytes_total',
      'Bytes cut from segment tails during recovery.',
      TOPIC_PARTITION,
    ),
    corruption: counter(
      'tributary_collector_corruption_detected_total',
      'Stored data that failed validation on read.',
      TOPIC_PARTITION,
    ),
    httpResponses: counter(
      'tributary_collector_http_responses_total',
      'HTTP responses, by route template, method and status code.',
      ['route', 'method', 'status'],
    ),
    rejected: counter(
      'tributary_collector_rejected_requests_total',
      'Requests answered with an error, by route and error code.',
      ['route', 'code'],
    ),
    rebalances: counter(
      'tributary_collector_group_rebalances_total',
      'Consumer group generations started, by group and by what changed the membership.',
      ['group', 'reason'],
    ),
    logStartOffset: partitionGauge(
      'tributary_collector_log_start_offset',
      'First offset still held, per partition.',
      (p) => p.startOffset,
    ),
    logEndOffset: partitionGauge(
      'tributary_collector_log_end_offset',
      'Offset the next record will get, per partition.',
      (p) => p.endOffset,
    ),
    logSizeBytes: partitionGauge(
      'tributary_collector_log_size_bytes',
      'Bytes on disk, per partition.',
      (p) => p.sizeBytes,
    ),
    logSegments: partitionGauge('tributary_collector_log_segments', 'Segments, per partition.', (p) => p.segmentCount),
    topics: gauge('tributary_collector_topics', 'Topics in the store.', [], async (set) =>
      set(new Set((await read.partitions()).map((p) => p.topic)).size),
    ),
    // The file system holding data_dir, read at scrape time (statfs): the "disk near its limit" alert divides them.
    dataDirAvailableBytes: fileSystemGauge(
      'tributary_collector_data_dir_available_bytes',
      'Bytes available to the collector on the file system of data_dir.',
      (s) => s.bavail * s.bsize,
    ),
    dataDirCapacityBytes: fileSystemGauge(
      'tributary_collector_data_dir_capacity_bytes',
      'Size in bytes of the file system of data_dir.',
      (s) => s.blocks * s.bsize,
    ),
    groupMembers: gauge(
      'tributary_collector_group_members',
      'Live members per consumer group.',
      ['group'],
      async (set) => {
        for (const [group, members] of await read.groupMembers()) set(members, { group });
      },
    ),
    groupCommittedOffset: groupGauge(
      'tributary_collector_group_committed_offset',
      'Committed offset (next to consume), per group and partition.',
      (g) => g.offset,
    ),
    groupLag: groupGauge(
      'tributary_collector_group_lag',
      'Records between the committed offset and the log end, per group and partition.',
      (g) => g.lag,
    ),
    // The Kafka protocol listener (collector/kafka/).
    kafkaRequests: counter('tributary_collector_kafka_requests_total', 'Kafka protocol requests, by API and version.', [
      'api',
      'version',
    ]),
    kafkaErrors: counter(
      'tributary_collector_kafka_errors_total',
      'Kafka error codes answered (once per partition or resource that carried one), by API and code name.',
      ['api', 'code'],
    ),
    kafkaConnections: gauge('tributary_collector_kafka_connections', 'Open Kafka protocol connections.'),
    kafkaBytes: counter(
      'tributary_collector_kafka_bytes_total',
      'Bytes received and sent on Kafka protocol connections, frames included.',
      ['direction'],
    ),
    kafkaClosed: counter(
      'tributary_collector_kafka_connections_closed_total',
      'Kafka connections closed by the collector because of bad input or a timeout, by reason.',
      ['reason'],
    ),
    kafkaReadAhead: counter(
      'tributary_collector_kafka_fetch_read_ahead_total',
      'Partitions read ahead for a consumer catching up, by whether its next Fetch used them.',
      ['result'],
    ),
  };
}

export type Encoding = 'binary' | 'json' | 'ndjson';
/** How produced records arrived: the body encodings of HTTP/NATS produce, and the other front ends. */
export type ProduceEncoding = 'binary' | 'ndjson' | 'kafka' | 'syslog' | 'otlp';

export class CollectorMetrics {
  readonly registry = new client.Registry();
  private readonly m = registerMetrics(
    collectorMetricTable({
      partitions: () => this.partitionSnapshot(),
      groups: () => this.groupSnapshot(),
      groupMembers: async () => {
        const membership = this.store?.membership;
        if (membership === undefined) return [];
        return [...(await membership.list())].map(([group, m]) => [group, m.members.length]);
      },
      dataDirStats: async () => {
        if (this.dataDir === undefined) return undefined;
        // the directory vanished or is unreadable: no sample rather than a wrong one
        return statfs(this.dataDir).catch(() => undefined);
      },
    }),
    this.registry,
  );
  readonly kafka: KafkaListenerMetrics = {
    request: (api, version) => this.m.kafkaRequests.inc({ api, version: String(version) }),
    error: (api, code) => this.m.kafkaErrors.inc({ api, code }),
    connectionOpened: () => this.m.kafkaConnections.inc(),
    connectionClosed: () => this.m.kafkaConnections.dec(),
    closedFor: (reason) => this.m.kafkaClosed.inc({ reason }),
    bytes: (direction, count) => this.m.kafkaBytes.inc({ direction }, count),
    readAhead: (result, partitions) => this.m.kafkaReadAhead.inc({ result }, partitions),
  };
  private store: LogStore | undefined;
  private receivers: Registered<ReturnType<typeof receiverMetricTable>> | undefined;
  private dataDir: string | undefined;

  constructor() {
    client.collectDefaultMetrics({ register: this.registry });
  }

  /** Partition and group gauges are read from the store at scrape time; call once the store is open. */
  attachStore(store: LogStore, dataDir?: string): void {
    this.store = store;
    this.dataDir = dataDir;
  }

  /** The sink the store reports into. Built before the store opens, so recovery is counted too. */
  storageEvents(): StorageEvents {
    return {
      appended: (e) => {
        this.m.recordsAppended.inc({ topic: e.topic }, e.recordCount);
        this.m.bytesAppended.inc({ topic: e.topic }, e.bytes);
      },
      duplicatesSkipped: (topic, _partition, batches) => this.m.duplicateBatches.inc({ topic }, batches),
      fsynced: (seconds) => this.m.fsyncDuration.observe(seconds),
      segmentRolled: (topic) => this.m.segmentsRolled.inc({ topic }),
      segmentsDeleted: (topic, _partition, segments, bytes, reason) => {
        this.m.retentionSegments.inc({ topic, reason }, segments);
        this.m.retentionBytes.inc({ topic, reason }, bytes);
      },
      recoveryTruncated: (topic, partition, bytes) => {
        this.m.recoveryTruncations.inc({ topic, partition: String(partition) });
        this.m.recoveryBytes.inc({ topic, partition: String(partition) }, bytes);
      },
      corruptionDetected: (topic, partition) => this.m.corruption.inc({ topic, partition: String(partition) }),
    };
  }

  countRebalance(group: string, reason: string): void {
    this.m.rebalances.inc({ group, reason });
  }

  observeProduce(encoding: ProduceEncoding, seconds: number): void {
    this.m.produceDuration.observe({ encoding }, seconds);
  }

  observeFetch(encoding: Encoding, seconds: number): void {
    this.m.fetchDuration.observe({ encoding }, seconds);
  }

  countResponse(route: string, method: string, status: number): void {
    this.m.httpResponses.inc({ route, method, status: String(status) });
  }

  countRejected(route: string, code: string): void {
    this.m.rejected.inc({ route, code });
  }

  /**
   * What a receiver (syslog, otlp) reports; its metrics (receiverMetricTable) are registered on first use, so a
   * collector without receivers does not list them.
   */
  receiverEvents(receiver: string, transport: string): ReceiverEvents {
    this.receivers ??= registerMetrics(receiverMetricTable(), this.registry);
    const m = this.receivers;
    const l = { receiver, transport };
    // Series exist from the start, so a rate() over them is defined before the first message.
    m.messages.inc(l, 0);
    m.stored.inc(l, 0);
    return {
      received: (messages, bytes) => {
        m.messages.inc(l, messages);
        m.bytes.inc(l, bytes);
      },
      stored: (messages) => m.stored.inc(l, messages),
      error: (kind, count = 1) => m.errors.inc({ ...l, kind }, count),
      connectionOpened: () => {
        m.connections.inc(l);
        m.opened.inc(l);
      },
      connectionClosed: () => m.connections.dec(l),
    };
  }

  contentType(): string {
    return this.registry.contentType;
  }

  async render(): Promise<string> {
    return await this.registry.metrics();
  }

  // One snapshot per scrape: the gauges' collect() calls run within one registry.metrics() call, so a snapshot
  // younger than a second is reused instead of asking the store six times.
  private partitionCache: { at: number; value: Promise<PartitionSnapshot[]> } | undefined;
  private groupCache: { at: number; value: Promise<GroupSnapshot[]> } | undefined;

  private partitionSnapshot(): Promise<PartitionSnapshot[]> {
    const now = Date.now();
    if (this.partitionCache && now - this.partitionCache.at < 1000) return this.partitionCache.value;
    const store = this.store;
    const value = store
      ? store.listTopics().then((topics) => topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, ...p }))))
      : Promise.resolve([]);
    this.partitionCache = { at: now, value: value.catch(() => []) };
    return this.partitionCache.value;
  }

  private groupSnapshot(): Promise<GroupSnapshot[]> {
    const now = Date.now();
    if (this.groupCache && now - this.groupCache.at < 1000) return this.groupCache.value;
    const store = this.store;
    const value = store ? this.readGroups(store) : Promise.resolve([]);
    this.groupCache = { at: now, value: value.catch(() => []) };
    return this.groupCache.value;
  }

  private async readGroups(store: LogStore): Promise<GroupSnapshot[]> {
    const ends = new Map<string, number>();
    for (const p of await this.partitionSnapshot()) ends.set(`${p.topic}\u0000${p.partition}`, p.endOffset);
    const out: GroupSnapshot[] = [];
    for (const group of await store.offsets.listGroups()) {
      for (const c of await store.offsets.fetch(group)) {
        const end = ends.get(`${c.topic}\u0000${c.partition}`);
        if (end === undefined) continue; // the topic was deleted: its committed offsets are history
        out.push({ group, topic: c.topic, partition: c.partition, offset: c.offset, lag: Math.max(0, end - c.offset) });
      }
    }
    return out;
  }
}

interface PartitionSnapshot {
  readonly topic: string;
  readonly partition: PartitionId;
  readonly startOffset: number;
  readonly endOffset: number;
  readonly sizeBytes: number;
  readonly segmentCount?: number | undefined;
}

interface GroupSnapshot {
  readonly group: string;
  readonly topic: string;
  readonly partition: PartitionId;
  readonly offset: number;
  readonly lag: number;
}

// --- Receivers (syslog, OTLP): docs/sources.md -------------------------------------------------------------------

const RECEIVER = ['receiver', 'transport'] as const;

function receiverMetricTable() {
  return {
    messages: counter(
      'tributary_collector_receiver_messages_total',
      'Messages received and parsed by a receiver (before they are durable).',
      RECEIVER,
    ),
    bytes: counter(
      'tributary_collector_receiver_bytes_total',
      'Wire bytes of the messages a receiver parsed.',
      RECEIVER,
    ),
    stored: counter('tributary_collector_receiver_stored_total', 'Messages a receiver appended durably.', RECEIVER),
    errors: counter(
      'tributary_collector_receiver_errors_total',
      'Messages or connections a receiver refused or lost, by kind (malformed, oversized, dropped, …).',
      ['receiver', 'transport', 'kind'],
    ),
    connections: gauge('tributary_collector_receiver_connections', 'Connections open to a receiver.', RECEIVER),
    opened: counter(
      'tributary_collector_receiver_connections_opened_total',
      'Connections accepted by a receiver.',
      RECEIVER,
    ),
  };
}
