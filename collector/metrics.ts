/**
 * The collector's Prometheus metrics: the only collector module that imports prom-client. Components report
 * through narrow functions (the HTTP layer) or the StorageEvents sink (the store); per-partition and per-group
 * gauges are read from the store when Prometheus scrapes, so they are never stale and cost nothing between scrapes.
 *
 * Each collector has its own registry, so a collector and an agent in one process (`tributary up`) never clash.
 * Dashboards and alert rules (deploy/) are written against the names below; renaming one is a breaking change.
 */
import { statfs } from 'node:fs/promises';
import client from 'prom-client';
import type { PartitionId } from '../shared/record.ts';
import type { LogStore, StorageEvents } from './storage/log-store.ts';

/** Every metric name the collector exports (besides the default `process_*` and `nodejs_*` ones). */
export const METRIC_NAMES = {
  recordsAppended: 'tributary_collector_records_appended_total', // counter {topic}
  bytesAppended: 'tributary_collector_bytes_appended_total', // counter {topic}
  produceDuration: 'tributary_collector_produce_duration_seconds', // histogram {encoding}: request in -> ack out
  fetchDuration: 'tributary_collector_fetch_duration_seconds', // histogram {encoding}: includes long-poll waits
  fsyncDuration: 'tributary_collector_fsync_duration_seconds', // histogram
  logStartOffset: 'tributary_collector_log_start_offset', // gauge {topic, partition}
  logEndOffset: 'tributary_collector_log_end_offset', // gauge {topic, partition}
  logSizeBytes: 'tributary_collector_log_size_bytes', // gauge {topic, partition}: bytes on disk
  logSegments: 'tributary_collector_log_segments', // gauge {topic, partition}
  topics: 'tributary_collector_topics', // gauge
  segmentsRolled: 'tributary_collector_segments_rolled_total', // counter {topic}
  retentionDeletedSegments: 'tributary_collector_retention_deleted_segments_total', // counter {topic, reason}
  retentionDeletedBytes: 'tributary_collector_retention_deleted_bytes_total', // counter {topic, reason}
  recoveryTruncations: 'tributary_collector_recovery_truncations_total', // counter {topic, partition}
  recoveryTruncatedBytes: 'tributary_collector_recovery_truncated_bytes_total', // counter {topic, partition}
  corruptionDetected: 'tributary_collector_corruption_detected_total', // counter {topic, partition}
  groupCommittedOffset: 'tributary_collector_group_committed_offset', // gauge {group, topic, partition}
  groupLag: 'tributary_collector_group_lag', // gauge {group, topic, partition}: end offset - committed, in records
  groupMembers: 'tributary_collector_group_members', // gauge {group}: live members (read from the membership store)
  groupRebalances: 'tributary_collector_group_rebalances_total', // counter {group, reason}: join|leave|expired|subscription
  httpResponses: 'tributary_collector_http_responses_total', // counter {route, method, status}
  rejectedRequests: 'tributary_collector_rejected_requests_total', // counter {route, code}
  // The file system holding data_dir, read at scrape time (statfs): the "disk near its limit" alert divides them.
  dataDirAvailableBytes: 'tributary_collector_data_dir_available_bytes', // gauge: free to this user
  dataDirCapacityBytes: 'tributary_collector_data_dir_capacity_bytes', // gauge: size of the file system
} as const;

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export type Encoding = 'binary' | 'json' | 'ndjson';
/** How produced records arrived: the body encodings of HTTP/NATS produce, and the other front ends. */
export type ProduceEncoding = 'binary' | 'ndjson' | 'kafka' | 'syslog' | 'otlp';

export class CollectorMetrics {
  readonly registry = new client.Registry();
  private readonly recordsAppended;
  private readonly bytesAppended;
  private readonly produceDuration;
  private readonly fetchDuration;
  private readonly fsyncDuration;
  private readonly segmentsRolled;
  private readonly retentionSegments;
  private readonly retentionBytes;
  private readonly recoveryTruncations;
  private readonly recoveryBytes;
  private readonly corruption;
  private readonly httpResponses;
  private readonly rejected;
  private readonly rebalances;
  private store: LogStore | undefined;
  private dataDir: string | undefined;

  constructor() {
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry });
    this.recordsAppended = new client.Counter({
      name: METRIC_NAMES.recordsAppended,
      help: 'Records appended (durable and acknowledged), by topic.',
      labelNames: ['topic'] as const,
      registers,
    });
    this.bytesAppended = new client.Counter({
      name: METRIC_NAMES.bytesAppended,
      help: 'Bytes of record batches appended, by topic.',
      labelNames: ['topic'] as const,
      registers,
    });
    this.produceDuration = new client.Histogram({
      name: METRIC_NAMES.produceDuration,
      help: 'Produce request duration from arrival to acknowledgement (after durability), in seconds.',
      labelNames: ['encoding'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.fetchDuration = new client.Histogram({
      name: METRIC_NAMES.fetchDuration,
      help: 'Fetch request duration, long-poll waits included, in seconds.',
      labelNames: ['encoding'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.fsyncDuration = new client.Histogram({
      name: METRIC_NAMES.fsyncDuration,
      help: 'Duration of each fsync of the storage engine, in seconds.',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    });
    this.segmentsRolled = new client.Counter({
      name: METRIC_NAMES.segmentsRolled,
      help: 'Segments rolled (a new active segment started), by topic.',
      labelNames: ['topic'] as const,
      registers,
    });
    this.retentionSegments = new client.Counter({
      name: METRIC_NAMES.retentionDeletedSegments,
      help: 'Segments deleted by retention, by topic and reason (time or size).',
      labelNames: ['topic', 'reason'] as const,
      registers,
    });
    this.retentionBytes = new client.Counter({
      name: METRIC_NAMES.retentionDeletedBytes,
      help: 'Bytes deleted by retention, by topic and reason (time or size).',
      labelNames: ['topic', 'reason'] as const,
      registers,
    });
    this.recoveryTruncations = new client.Counter({
      name: METRIC_NAMES.recoveryTruncations,
      help: 'Torn or corrupt segment tails truncated during recovery.',
      labelNames: ['topic', 'partition'] as const,
      registers,
    });
    this.recoveryBytes = new client.Counter({
      name: METRIC_NAMES.recoveryTruncatedBytes,
      help: 'Bytes cut from segment tails during recovery.',
      labelNames: ['topic', 'partition'] as const,
      registers,
    });
    this.corruption = new client.Counter({
      name: METRIC_NAMES.corruptionDetected,
      help: 'Stored data that failed validation on read.',
      labelNames: ['topic', 'partition'] as const,
      registers,
    });
    this.httpResponses = new client.Counter({
      name: METRIC_NAMES.httpResponses,
      help: 'HTTP responses, by route template, method and status code.',
      labelNames: ['route', 'method', 'status'] as const,
      registers,
    });
    this.rejected = new client.Counter({
      name: METRIC_NAMES.rejectedRequests,
      help: 'Requests answered with an error, by route and error code.',
      labelNames: ['route', 'code'] as const,
      registers,
    });
    this.rebalances = new client.Counter({
      name: METRIC_NAMES.groupRebalances,
      help: 'Consumer group generations started, by group and by what changed the membership.',
      labelNames: ['group', 'reason'] as const,
      registers,
    });
    this.registerStoreGauges(registers);
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
        this.recordsAppended.inc({ topic: e.topic }, e.recordCount);
        this.bytesAppended.inc({ topic: e.topic }, e.bytes);
      },
      fsynced: (seconds) => this.fsyncDuration.observe(seconds),
      segmentRolled: (topic) => this.segmentsRolled.inc({ topic }),
      segmentsDeleted: (topic, _partition, segments, bytes, reason) => {
        this.retentionSegments.inc({ topic, reason }, segments);
        this.retentionBytes.inc({ topic, reason }, bytes);
      },
      recoveryTruncated: (topic, partition, bytes) => {
        this.recoveryTruncations.inc({ topic, partition: String(partition) });
        this.recoveryBytes.inc({ topic, partition: String(partition) }, bytes);
      },
      corruptionDetected: (topic, partition) => this.corruption.inc({ topic, partition: String(partition) }),
    };
  }

  countRebalance(group: string, reason: string): void {
    this.rebalances.inc({ group, reason });
  }

  observeProduce(encoding: ProduceEncoding, seconds: number): void {
    this.produceDuration.observe({ encoding }, seconds);
  }

  observeFetch(encoding: Encoding, seconds: number): void {
    this.fetchDuration.observe({ encoding }, seconds);
  }

  countResponse(route: string, method: string, status: number): void {
    this.httpResponses.inc({ route, method, status: String(status) });
  }

  countRejected(route: string, code: string): void {
    this.rejected.inc({ route, code });
  }

  contentType(): string {
    return this.registry.contentType;
  }

  async render(): Promise<string> {
    return await this.registry.metrics();
  }

  private registerStoreGauges(registers: client.Registry[]): void {
    // Reads every topic once per scrape and fills the four partition gauges from that one snapshot.
    const metrics = this;
    const partitionGauge = (name: string, help: string, pick: (p: PartitionSnapshot) => number) =>
      new client.Gauge({
        name,
        help,
        labelNames: ['topic', 'partition'] as const,
        registers,
        async collect() {
          this.reset();
          for (const p of await metrics.partitionSnapshot()) {
            this.set({ topic: p.topic, partition: String(p.partition) }, pick(p));
          }
        },
      });
    partitionGauge(METRIC_NAMES.logStartOffset, 'First offset still held, per partition.', (p) => p.startOffset);
    partitionGauge(METRIC_NAMES.logEndOffset, 'Offset the next record will get, per partition.', (p) => p.endOffset);
    partitionGauge(METRIC_NAMES.logSizeBytes, 'Bytes on disk, per partition.', (p) => p.sizeBytes);
    partitionGauge(METRIC_NAMES.logSegments, 'Segments, per partition.', (p) => p.segmentCount);
    new client.Gauge({
      name: METRIC_NAMES.topics,
      help: 'Topics in the store.',
      registers,
      async collect() {
        this.set(new Set((await metrics.partitionSnapshot()).map((p) => p.topic)).size);
      },
    });
    // No series until a data directory is attached (a store without one, e.g. JetStream, has no local disk).
    const fsGauge = (
      name: string,
      help: string,
      pick: (s: { bavail: number; blocks: number; bsize: number }) => number,
    ) =>
      new client.Gauge({
        name,
        help,
        registers,
        async collect() {
          this.reset();
          if (metrics.dataDir === undefined) return;
          try {
            this.set(pick(await statfs(metrics.dataDir)));
          } catch {
            // the directory vanished or is unreadable: no sample rather than a wrong one
          }
        },
      });
    fsGauge(
      METRIC_NAMES.dataDirAvailableBytes,
      'Bytes available to the collector on the file system of data_dir.',
      (s) => s.bavail * s.bsize,
    );
    fsGauge(
      METRIC_NAMES.dataDirCapacityBytes,
      'Size in bytes of the file system of data_dir.',
      (s) => s.blocks * s.bsize,
    );
    const groupGauge = (name: string, help: string, pick: (g: GroupSnapshot) => number) =>
      new client.Gauge({
        name,
        help,
        labelNames: ['group', 'topic', 'partition'] as const,
        registers,
        async collect() {
          this.reset();
          for (const g of await metrics.groupSnapshot()) {
            this.set({ group: g.group, topic: g.topic, partition: String(g.partition) }, pick(g));
          }
        },
      });
    new client.Gauge({
      name: METRIC_NAMES.groupMembers,
      help: 'Live members per consumer group.',
      labelNames: ['group'] as const,
      registers,
      async collect() {
        this.reset();
        const membership = metrics.store?.membership;
        if (membership === undefined) return;
        for (const [group, m] of await membership.list()) this.set({ group }, m.members.length);
      },
    });
    groupGauge(
      METRIC_NAMES.groupCommittedOffset,
      'Committed offset (next to consume), per group and partition.',
      (g) => g.offset,
    );
    groupGauge(
      METRIC_NAMES.groupLag,
      'Records between the committed offset and the log end, per group and partition.',
      (g) => g.lag,
    );
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
  readonly segmentCount: number;
}

interface GroupSnapshot {
  readonly group: string;
  readonly topic: string;
  readonly partition: PartitionId;
  readonly offset: number;
  readonly lag: number;
}
