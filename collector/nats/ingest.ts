/**
 * Produce over NATS: agents send a request on `tributary.ingest.<topic>` (body: the concatenated record batches,
 * exactly as the HTTP binary produce body; header `Authorization: Bearer <token>`); every collector subscribes in the
 * queue group `tributary-collectors`, so one of them answers each request. Same semantics as
 * `POST /v1/topics/{topic}/records`: the same body validation and limits, the same token and role check, topic
 * auto-creation, and the reply is sent only after every append is durable (LogStore.append resolved).
 *
 * Reply: header `Tributary-Status` carries the HTTP status the same request would have got (200, 400, 401, 413,
 * 503…), and the body is the same JSON as the HTTP answer (the produce result, or `{error: {code, message}}`).
 * No reply (collector died mid-request) shows as a timeout to the agent, which retries: at-least-once, as over HTTP.
 */
import { headers, type Msg, type NatsConnection, type Subscription } from 'nats';
import { InvalidArgumentError, LimitExceededError } from '../../shared/errors.ts';
import { assertValidName } from '../../shared/names.ts';
import { partitionForKey } from '../../shared/partitioner.ts';
import type { PartitionId } from '../../shared/record.ts';
import type { CollectorLimits } from '../config.ts';
import type { Authenticator } from '../http/auth.ts';
import { httpErrorFor } from '../http/error-status.ts';
import { decodeBinaryBody, type ProducedBatch } from '../http/produce-body.ts';
import type { TopicAccess } from '../http/topic-access.ts';
import type { LogStore } from '../storage/log-store.ts';

export const INGEST_SUBJECT_PREFIX = 'tributary.ingest';
export const INGEST_QUEUE_GROUP = 'tributary-collectors';
export const STATUS_HEADER = 'Tributary-Status';

export interface NatsIngestOptions {
  readonly connection: NatsConnection;
  readonly store: LogStore;
  readonly topics: Pick<TopicAccess, 'partitionsFor' | 'forget'>;
  readonly auth: Pick<Authenticator, 'authorize'>;
  readonly limits: Pick<CollectorLimits, 'maxBodyBytes' | 'maxRecordsPerRequest' | 'maxLineBytes'>;
  readonly subjectPrefix?: string;
  readonly queue?: string;
}

export class NatsIngest {
  private readonly sub: Subscription;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: NatsIngestOptions) {
    const prefix = options.subjectPrefix ?? INGEST_SUBJECT_PREFIX;
    this.sub = options.connection.subscribe(`${prefix}.>`, {
      queue: options.queue ?? INGEST_QUEUE_GROUP,
      callback: (error, msg) => {
        if (error) return;
        const p = this.handle(msg, msg.subject.slice(prefix.length + 1)).finally(() => this.pending.delete(p));
        this.pending.add(p);
      },
    });
  }

  private async handle(msg: Msg, topic: string): Promise<void> {
    let status = 200;
    let body: unknown;
    try {
      body = await this.produce(msg, topic);
    } catch (error) {
      const mapped = httpErrorFor(error);
      status = mapped.status;
      body = mapped.body;
    }
    const h = headers();
    h.set(STATUS_HEADER, String(status));
    try {
      msg.respond(Buffer.from(JSON.stringify(body)), { headers: h });
    } catch {
      // the connection closed: the agent times out and retries
    }
  }

  private async produce(msg: Msg, topic: string): Promise<unknown> {
    this.options.auth.authorize(msg.headers?.get('Authorization') || undefined, 'produce');
    assertValidName('topic', topic);
    if (msg.data.length > this.options.limits.maxBodyBytes) {
      throw new LimitExceededError(
        `the request body of ${msg.data.length} bytes is above the limit of ${this.options.limits.maxBodyBytes}`,
        'body',
      );
    }
    if (msg.data.length === 0) throw new InvalidArgumentError('the request has no batches');
    const batches = decodeBinaryBody(Buffer.from(msg.data), this.options.limits);
    const partitionCount = await this.options.topics.partitionsFor(topic);
    const byPartition = new Map<PartitionId, ProducedBatch[]>();
    for (const batch of batches) {
      const p = partitionForKey(batch.key, partitionCount);
      const list = byPartition.get(p);
      if (list) list.push(batch);
      else byPartition.set(p, [batch]);
    }
    const results = await Promise.all(
      [...byPartition].map(async ([partition, list]) => ({
        partition,
        ...(await this.options.store.append(
          topic,
          partition,
          list.map((b) => b.bytes),
        )),
      })),
    );
    results.sort((a, b) => a.partition - b.partition);
    return {
      record_count: results.reduce((n, r) => n + r.recordCount, 0),
      partitions: results.map((r) => ({
        partition: r.partition,
        base_offset: r.baseOffset,
        last_offset: r.lastOffset,
        record_count: r.recordCount,
      })),
    };
  }

  /** Stops taking requests and waits for the ones in progress to be answered. */
  async close(): Promise<void> {
    this.sub.unsubscribe();
    await Promise.allSettled([...this.pending]);
  }
}
