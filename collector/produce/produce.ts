/**
 * The one produce path. Every front end (HTTP `POST /v1/topics/{topic}/records`, NATS ingest, and the Kafka,
 * syslog and OTLP receivers) authenticates its caller and builds validated batches from its wire format
 * (produce-body.ts, or batchesFromRecords for plain records), then calls `produce`, which does the rest the same way
 * for all of them: the role check, the topic name, the records-per-request limit, topic lookup and auto-creation
 * (topic-access.ts), the partition of each batch (partitionForKey of its key, unless the caller names one), the
 * appends, and the produce-duration metric. It resolves once every append is durable (LogStore.append resolves only
 * then): resolved means acknowledged means stored.
 *
 * Appends to different partitions run in parallel and are independent: if one fails after another succeeded, the
 * error is thrown and the records of the partitions that succeeded stay stored (each partition's append is
 * all-or-nothing), so the caller retries and gets at-least-once. A caller that needs per-partition outcomes (Kafka)
 * calls once per partition with `partition` set.
 */
import { performance } from 'node:perf_hooks';
import { InvalidArgumentError, PartitionNotFoundError, TopicNotFoundError } from '../../shared/errors.ts';
import { assertValidName } from '../../shared/names.ts';
import { partitionForKey } from '../../shared/partitioner.ts';
import type { Offset, PartitionId } from '../../shared/record.ts';
import type { CollectorLimits } from '../config.ts';
import { assertRole, type Principal } from '../http/auth.ts';
import type { CollectorMetrics, ProduceEncoding } from '../metrics.ts';
import type { LogStore } from '../storage/log-store.ts';
import { batchesFromRecords, type PlainRecord, type ProducedBatch, tooManyRecords } from './record-batches.ts';
import type { TopicAccess } from './topic-access.ts';

export interface ProduceOptions {
  /** How the records arrived: the `encoding` label of tributary_collector_produce_duration_seconds. */
  readonly encoding: ProduceEncoding;
  /** performance.now() when the request arrived (the metric measures request in → ack out); default: now. */
  readonly startedAt?: number;
  /** Append every batch to this partition instead of choosing by key (Kafka producers choose their own). */
  readonly partition?: PartitionId;
}

export interface PartitionProduced {
  readonly partition: PartitionId;
  readonly baseOffset: Offset;
  readonly lastOffset: Offset;
  readonly recordCount: number;
  /** Batches that were a producer's resend of batches this partition held already (LogStore AppendResult). */
  readonly duplicateBatches?: number;
}

export interface ProduceResult {
  readonly recordCount: number;
  /** One entry per partition appended to, by partition. */
  readonly partitions: readonly PartitionProduced[];
}

/** The JSON answer of a produce, over HTTP and NATS alike (docs/api.md). */
export interface ProduceResponseBody {
  readonly record_count: number;
  readonly partitions: readonly {
    readonly partition: PartitionId;
    readonly base_offset: Offset;
    readonly last_offset: Offset;
    readonly record_count: number;
    readonly duplicate_batches?: number;
  }[];
}

export interface ProducePathOptions {
  readonly store: LogStore;
  readonly topics: TopicAccess;
  readonly metrics: Pick<CollectorMetrics, 'observeProduce'>;
  readonly limits: Pick<CollectorLimits, 'maxRecordsPerRequest' | 'maxLineBytes'>;
}

export class ProducePath {
  constructor(private readonly options: ProducePathOptions) {}

  /** Appends validated batches for an authenticated caller; see the module comment. */
  async produce(
    principal: Principal,
    topic: string,
    batches: readonly ProducedBatch[],
    options: ProduceOptions,
  ): Promise<ProduceResult> {
    const started = options.startedAt ?? performance.now();
    assertRole(principal, 'produce');
    assertValidName('topic', topic);
    if (batches.length === 0) throw new InvalidArgumentError('the request holds no records');
    let total = 0;
    for (const { header } of batches) total += header.recordCount;
    if (total > this.options.limits.maxRecordsPerRequest) throw tooManyRecords(this.options.limits);

    const { store, topics } = this.options;
    const partitionCount = await topics.partitionsFor(topic);
    const byPartition = new Map<PartitionId, ProducedBatch[]>();
    if (options.partition !== undefined) {
      const p = options.partition;
      if (!Number.isInteger(p) || p < 0 || p >= partitionCount) {
        throw new PartitionNotFoundError(topic, p, partitionCount);
      }
      byPartition.set(p, [...batches]);
    } else {
      for (const batch of batches) {
        const p = partitionForKey(batch.key, partitionCount);
        const list = byPartition.get(p);
        if (list) list.push(batch);
        else byPartition.set(p, [batch]);
      }
    }
    let partitions: PartitionProduced[];
    try {
      partitions = await Promise.all(
        [...byPartition].map(async ([partition, list]) => ({
          partition,
          ...(await store.append(topic, partition, list)),
        })),
      );
    } catch (error) {
      // Deleted elsewhere (another collector sharing a JetStream backend): the next produce looks it up again.
      if (error instanceof TopicNotFoundError) topics.forget(topic);
      throw error;
    }
    partitions.sort((a, b) => a.partition - b.partition);
    this.options.metrics.observeProduce(options.encoding, (performance.now() - started) / 1000);
    return { recordCount: partitions.reduce((n, r) => n + r.recordCount, 0), partitions };
  }

  /**
   * For front ends that receive plain records (syslog, OTLP, Kafka): encodes them (batchesFromRecords, with the
   * request limits) and produces them.
   */
  async produceRecords(
    principal: Principal,
    topic: string,
    records: Iterable<PlainRecord>,
    options: ProduceOptions,
  ): Promise<ProduceResult> {
    const started = options.startedAt ?? performance.now();
    assertRole(principal, 'produce');
    return this.produce(principal, topic, batchesFromRecords(records, this.options.limits), {
      ...options,
      startedAt: started,
    });
  }
}

export function produceResponseBody(result: ProduceResult): ProduceResponseBody {
  return {
    record_count: result.recordCount,
    partitions: result.partitions.map((r) => ({
      partition: r.partition,
      base_offset: r.baseOffset,
      last_offset: r.lastOffset,
      record_count: r.recordCount,
      ...(r.duplicateBatches ? { duplicate_batches: r.duplicateBatches } : {}),
    })),
  };
}
