/**
 * Produce over NATS: agents send a request on `tributary.ingest.<topic>` (body: the concatenated record batches,
 * exactly as the HTTP binary produce body; header `Authorization: Bearer <token>`); every collector subscribes in the
 * queue group `tributary-collectors`, so one of them answers each request. Same semantics as
 * `POST /v1/topics/{topic}/records`, by construction: the body is decoded as the HTTP binary body is, and the rest
 * (role check, limits, topic auto-creation, partitions, appends, metrics) is the same produce path
 * (collector/produce/produce.ts); the reply is sent only after every append is durable.
 *
 * Reply: header `Tributary-Status` carries the HTTP status the same request would have got (200, 400, 401, 413,
 * 503…), and the body is the same JSON as the HTTP answer (the produce result, or `{error: {code, message}}`).
 * No reply (collector died mid-request) shows as a timeout to the agent, which retries: at-least-once, as over HTTP.
 */
import { performance } from 'node:perf_hooks';
import { headers, type Msg, type NatsConnection, type Subscription } from 'nats';
import { LimitExceededError } from '../../shared/errors.ts';
import { assertValidName } from '../../shared/names.ts';
import { INGEST_QUEUE_GROUP, INGEST_SUBJECT_PREFIX, STATUS_HEADER } from '../../shared/wire.ts';
import type { CollectorLimits } from '../config.ts';
import type { Authenticator } from '../http/auth.ts';
import { httpErrorFor } from '../http/error-status.ts';
import { decodeBinaryBody } from '../produce/produce-body.ts';
import { type ProducePath, produceResponseBody } from '../produce/produce.ts';

export interface NatsIngestOptions {
  readonly connection: NatsConnection;
  /** The collector's produce path (collector/produce), shared with HTTP produce. */
  readonly produce: Pick<ProducePath, 'produce'>;
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
    const startedAt = performance.now();
    const principal = this.options.auth.authorize(msg.headers?.get('Authorization') || undefined, 'produce');
    assertValidName('topic', topic);
    if (msg.data.length > this.options.limits.maxBodyBytes) {
      throw new LimitExceededError(
        `the request body of ${msg.data.length} bytes is above the limit of ${this.options.limits.maxBodyBytes}`,
        'body',
      );
    }
    const batches = decodeBinaryBody(Buffer.from(msg.data), this.options.limits);
    const result = await this.options.produce.produce(principal, topic, batches, { encoding: 'binary', startedAt });
    return produceResponseBody(result);
  }

  /** Stops taking requests and waits for the ones in progress to be answered. */
  async close(): Promise<void> {
    this.sub.unsubscribe();
    await Promise.allSettled([...this.pending]);
  }
}
