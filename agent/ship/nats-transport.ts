/**
 * Produce over NATS (`collector.url: nats://host:4222`): a request on `tributary.ingest.<topic>` answered by one
 * collector of the queue group `tributary-collectors` (collector/nats/ingest.ts), after the batches are durable.
 * The reply's `Tributary-Status` header is the HTTP status the same request would have got, so its outcome is the
 * same as over HTTP (outcomeOfAnswer, transport.ts). No responders, a timeout or a lost connection: retry (the nats
 * client reconnects to the other servers of the list by itself).
 */
import { connect, headers, type NatsConnection } from 'nats';
import { natsConnectionOptions, readNatsFiles } from '../../shared/nats-connection.ts';
import { INGEST_SUBJECT_PREFIX, STATUS_HEADER } from '../../shared/wire.ts';
import { outcomeOfAnswer, type SendOutcome, type Transport } from './transport.ts';
import type { AgentOptions } from '../config.ts';

export interface NatsTransportOptions {
  /** nats://host:port URLs (tls:// or nats:// with tls options). */
  readonly servers: readonly string[];
  /** The collector's produce token (sent in the Authorization header, never logged). */
  readonly token?: string | undefined;
  /** NATS-level authentication. */
  readonly natsToken?: string | undefined;
  readonly user?: string | undefined;
  readonly pass?: string | undefined;
  /** Contents of a .creds file. */
  readonly credentials?: string | undefined;
  /** TLS material (PEM contents), read when the configuration was loaded. */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string } | undefined;
  readonly timeoutMs: number;
  readonly subjectPrefix?: string;
}

export class NatsTransport implements Transport {
  private connection: Promise<NatsConnection> | undefined;
  private readonly prefix: string;

  constructor(private readonly options: NatsTransportOptions) {
    if (options.servers.length === 0) throw new RangeError('at least one NATS server URL is needed');
    this.prefix = options.subjectPrefix ?? INGEST_SUBJECT_PREFIX;
  }

  get target(): string {
    return `${this.options.servers.join(',')} (${this.prefix}.<topic>)`;
  }

  private connect(): Promise<NatsConnection> {
    if (this.connection === undefined) {
      const o = this.options;
      this.connection = connect(
        natsConnectionOptions(
          {
            servers: o.servers,
            token: o.natsToken,
            user: o.user,
            pass: o.pass,
            credentials: o.credentials,
            tls: o.tls,
          },
          { name: 'tributary-agent', reconnectTimeWait: 500, waitOnFirstConnect: true },
        ),
      );
      this.connection.catch(() => {
        this.connection = undefined;
      });
    }
    return this.connection;
  }

  async send(topic: string, body: Buffer): Promise<SendOutcome> {
    let nc: NatsConnection;
    try {
      nc = await this.connect();
    } catch (error) {
      return { kind: 'retry', reason: `NATS unreachable: ${(error as Error).message}` };
    }
    // A message above the servers' max_payload can never be published: the shipper splits the request (413).
    const maxPayload = nc.info?.max_payload;
    if (maxPayload !== undefined && body.length > maxPayload) {
      return {
        kind: 'reject',
        reason: `a request of ${body.length} bytes is above the NATS servers' max_payload of ${maxPayload} bytes`,
        tooLarge: true,
      };
    }
    const h = headers();
    if (this.options.token) h.set('Authorization', `Bearer ${this.options.token}`);
    let status: number;
    let text: string;
    try {
      const reply = await nc.request(`${this.prefix}.${topic}`, body, { timeout: this.options.timeoutMs, headers: h });
      status = Number(reply.headers?.get(STATUS_HEADER) ?? '500');
      text = Buffer.from(reply.data).toString('utf8');
    } catch (error) {
      return { kind: 'retry', reason: `no answer from a collector over NATS: ${(error as Error).message}` };
    }
    return outcomeOfAnswer(status, 'collector over NATS', text);
  }

  async close(): Promise<void> {
    const pending = this.connection;
    this.connection = undefined;
    if (pending) await (await pending.catch(() => undefined))?.close();
  }
}

export function isNatsUrl(url: string): boolean {
  return /^(nats|tls):\/\//i.test(url);
}

/** The transport for `collector.urls: [nats://…]` with the `collector.nats` settings (credential and TLS files read here). */
export function natsTransportFor(
  collector: Pick<AgentOptions['collector'], 'urls' | 'token' | 'timeoutMs' | 'nats'>,
): NatsTransport {
  const n = collector.nats;
  // Read now, as the agent starts: a missing file is a config error naming its key, not a failure at reconnect.
  const files = n === undefined ? {} : readNatsFiles(n, 'collector.nats');
  return new NatsTransport({
    servers: collector.urls,
    token: collector.token,
    natsToken: n?.token,
    user: n?.user,
    pass: n?.password,
    ...files,
    timeoutMs: collector.timeoutMs,
  });
}
