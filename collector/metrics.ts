/**
 * The collector's Prometheus metrics: the only collector module that imports prom-client (through
 * shared/metric-table.ts), every metric defined in one table (collectorMetricTable). Components report
 * through narrow functions (the HTTP layer) or the StorageEvents sink (the store); per-partition and per-group
 * gauges are read from the store when Prometheus scrapes, so they are never stale and cost nothing between scrapes.
 *
 * Each collector has its own registry, so a collector and an agent in one process (`tributary up`) never clash.
 * Dashboards and alert rules (deploy/) are written against the names in the table; renaming one is a breaking change.
 */
import { statfs } from 'node:fs/promises';
import client from 'prom-client';
import type { PartitionId } from '../shared/record.ts';
import { counter, gauge, histogram, registerMetrics } from '../shared/metric-table.ts';
import type { LogStore, StorageEvents } from './storage/log-store.ts';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const FSYNC_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const PARTITION = ['topic', 'partition'] as const;
const GROUP_PARTITION = ['group', 'topic', 'partition'] as const;

export type Encoding = 'binary' | 'json' | 'ndjson';
/** How produced records arrived: the body encodings of HTTP/NATS produce, and the other front ends. */
export type ProduceEncoding = 'binary' | 'ndjson' | 'kafka' | 'syslog' | 'otlp';

/** What the scrape-time gauges read: one snapshot of the store per scrape (see CollectorMetrics). */
interface ScrapeSources {
  partitions(): Promise<PartitionSnapshot[]>;
  groups(): Promise<GroupSnapshot[]>;
  store(): LogStore | undefined;
  dataDir(): string | undefined;
}

/** Every collector metric (besides the default `process_*` and `nodejs_*` ones). */
function collectorMetricTable(read: ScrapeSources) {
  const perPartition = (pick: (p: PartitionSnapshot) => number) => async (set: SetGauge<'topic' | 'partition'>) => {
    for (const p of await read.partitions()) set(pick(p), { topic: p.topic, partition: String(p.partition) });
  };
  const perGroupPartition =
    (pick: (g: GroupSnapshot) => number) => async (set: SetGauge<'group' | 'topic' | 'partition'>) => {
      for (const g of await read.groups()) {
        set(pick(g), { group: g.group, topic: g.topic, partition: String(g.partition) });
      }
    };
  // No series until a data directory is attached (a store without one, e.g. JetStream, has no local disk).
  const dataDirFs =
    (pick: (s: { bavail: number; blocks: number; bsize: number }) => number) => async (set: SetGauge) => {
      const dir = read.dataDir();
      if (dir === undefined) return;
      try {
        set(pick(await statfs(dir)));
      } catch {
        // the directory vanished or is unreadable: no sample rather than a wrong one
      }
    };
  return {
    recordsAppended: counter(
      'tributary_collector_records_appended_total',
      'Records appended (durable and acknowledged), by topic.',
      ['topic'],
    ),
    bytesAppended: counter('tributary_collector_bytes_appended_total', 'Bytes of record batches appended, by topic.', [
      'topic',
    ]),
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
    logStartOffset: gauge(
      'tributary_collector_log_start_offset',
      'First offset still held, per partition.',
      PARTITION,
      perPartition((p) => p.startOffset),
    ),
    logEndOffset: gauge(
      'tributary_collector_log_end_offset',
      'Offset the next record will get, per partition.',
      PARTITION,
      perPartition((p) => p.endOffset),
    ),
    logSizeBytes: gauge(
      'tributary_collector_log_size_bytes',
      'Bytes on disk, per partition.',
      PARTITION,
      perPartition((p) => p.sizeBytes),
    ),
    logSegments: gauge(
      'tributary_collector_log_segments',
      'Segments, per partition.',
      PARTITION,
      perPartition((p) => p.segmentCount),
    ),
    topics: gauge('tributary_collector_topics', 'Topics in the store.', [], async (set) =>
      set(new Set((await read.partitions()).map((p) => p.topic)).size),
    ),
    segmentsRolled: counter(
      'tributary_collector_segments_rolled_total',
      'Segments rolled (a new active segment started), by topic.',
      ['topic'],
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
      PARTITION,
    ),
    recoveryBytes: counter(
      'tributary_collector_recovery_truncated_bytes_total',
      'Bytes cut from segment tails during recovery.',
      PARTITION,
    ),
    corruption: counter(
      'tributary_collector_corruption_detected_total',
      'Stored data that failed validation on read.',
      PARTITION,
    ),
    groupCommittedOffset: gauge(
      'tributary_collector_group_committed_offset',
      'Committed offset (next to consume), per group and partition.',
      GROUP_PARTITION,
      perGroupPartition((g) => g.offset),
    ),
    groupLag: gauge(
      'tributary_collector_group_lag',
      'Records between the committed offset and the log end, per group and partition.',
      GROUP_PARTITION,
      perGroupPartition((g) => g.lag),
    ),
    // Read from the membership store at scrape time.
    groupMembers: gauge(
      'tributary_collector_group_members',
      'Live members per consumer group.',
      ['group'],
      async (set) => {
        const membership = read.store()?.membership;
        if (membership === undefined) return;
        for (const [group, m] of await membership.list()) set(m.members.length, { group });
      },
    ),
    // reason: join | leave | expired | subscription
    rebalances: counter(
      'tributary_collector_group_rebalances_total',
      'Consumer group generations started, by group and by what changed the membership.',
      ['group', 'reason'],
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
    // The file system holding data_dir, read at scrape time (statfs): the "disk near its limit" alert divides them.
    dataDirAvailableBytes: gauge(
      'tributary_collector_data_dir_available_bytes',
      'Bytes available to the collector on the file system of data_dir.',
      [],
      dataDirFs((s) => s.bavail * s.bsize),
    ),
    dataDirCapacityBytes: gauge(
      'tributary_collector_data_dir_capacity_bytes',
      'Size in bytes of the file system of data_dir.',
      [],
      dataDirFs((s) => s.blocks * s.bsize),
    ),
  };
}

type SetGauge<L extends string = never> = (value: number, labels?: Partial<Record<L, string>>) => void;

export class CollectorMetrics {
  readonly registry = new client.Registry();
  private store: LogStore | undefined;
  private dataDir: string | undefined;
  private readonly m = registerMetrics(
    collectorMetricTable({
      partitions: () => this.partitionSnapshot(),
      groups: () => this.groupSnapshot(),
      store: () => this.store,
      dataDir: () => this.dataDir,
    }),
    this.registry,
  );

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
    const m = this.m;
    return {
      appended: (e) => {
        m.recordsAppended.inc({ topic: e.topic }, e.recordCount);
        m.bytesAppended.inc({ topic: e.topic }, e.bytes);
      },
      fsynced: (seconds) => m.fsyncDuration.observe(seconds),
      segmentRolled: (topic) => m.segmentsRolled.inc({ topic }),
      segmentsDeleted: (topic, _partition, segments, bytes, reason) => {
        m.retentionSegments.inc({ topic, reason }, segments);
        m.retentionBytes.inc({ topic, reason }, bytes);
      },
      recoveryTruncated: (topic, partition, bytes) => {
        m.recoveryTruncations.inc({ topic, partition: String(partition) });
        m.recoveryBytes.inc({ topic, partition: String(partition) }, bytes);
      },
      corruptionDetected: (topic, partition) => m.corruption.inc({ topic, partition: String(partition) }),
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
  readonly segmentCount: number;
}

interface GroupSnapshot {
  readonly group: string;
  readonly topic: string;
  readonly partition: PartitionId;
  readonly offset: number;
  readonly lag: number;
}
