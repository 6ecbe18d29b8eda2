/**
 * Sends records to a topic for Node programs. The collector assigns partitions (by key: fmix32(crc32(key)) mod N, so one
 * key keeps its order; records without a key spread across partitions) and answers once the records are durable
 * under the topic's flush policy, so a resolved `send` means stored.
 *
 * A send that fails because the collector cannot be reached, is shutting down or is overloaded is retried with
 * backoff up to `retries` times. If an answer is lost after the collector stored the records, the retry stores
 * them again: delivery is at-least-once, as for the agent.
 */
import { type BackoffOptions, backoffDelay, sleep } from '../backoff.ts';
import { LimitExceededError, TributaryError } from '../errors.ts';
import type { Fields, Labels, TimestampMs } from '../record.ts';
import { CollectorClient, type CollectorClientOptions, type ProduceResponse } from './collector-client.ts';

export interface ProducerRecord {
  readonly value: string | Buffer;
  readonly key?: string;
  readonly labels?: Labels;
  readonly fields?: Fields;
  /** Default: the collector's clock when it receives the record. */
  readonly timestamp?: TimestampMs | Date;
}

export interface ProducerOptions extends CollectorClientOptions {
  /** Attempts after the first one for failures that may pass (unreachable, 503, 429). Default 5. */
  readonly retries?: number;
}

const RETRY_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 5_000 };

export class Producer {
  private readonly client: CollectorClient;
  private readonly retries: number;

  constructor(options: ProducerOptions) {
    this.client = new CollectorClient(options);
    this.retries = options.retries ?? 5;
  }

  /** Stores the records (one request); resolves with the offsets they got, per partition. */
  async send(topic: string, records: ProducerRecord | readonly ProducerRecord[]): Promise<ProduceResponse> {
    const list = (Array.isArray(records) ? records : [records]) as readonly ProducerRecord[];
    const wire = list.map((r) => ({
      ...(r.key !== undefined ? { key: r.key } : {}),
      ...(typeof r.value === 'string' ? { value: r.value } : { value_base64: r.value.toString('base64') }),
      ...(r.labels !== undefined ? { labels: r.labels } : {}),
      ...(r.fields !== undefined ? { fields: r.fields } : {}),
      ...(r.timestamp !== undefined
        ? { timestamp: r.timestamp instanceof Date ? r.timestamp.getTime() : r.timestamp }
        : {}),
    }));
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.client.produce(topic, wire);
      } catch (error) {
        if (attempt >= this.retries || !mayPass(error)) throw error;
        await sleep(backoffDelay(attempt, RETRY_BACKOFF));
      }
    }
  }
}

function mayPass(error: unknown): boolean {
  if (error instanceof LimitExceededError) return error.limit === 'rate';
  return error instanceof TributaryError && (error.code === 'unavailable' || error.code === 'closed');
}
