/**
 * Produce over NATS (`collector.url: nats://host:4222`): a request on `tributary.ingest.<topic>` answered by one
 * collector of the queue group `tributary-collectors` (collector/nats/ingest.ts), after the batches are durable.
 * The reply's `Tributary-Status` header is the HTTP status the same request would have got, so its outcome is the
 * same as over HTTP (outcomeOfAnswer, transport.ts). No responders, a timeout or a lost connection: retry (the nats
 * client reconnects to the other servers of the list by itself).
 */
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, headers, type NatsConnection } from 'nats';
import { ConfigError } from '../../shared/errors.ts';
import { INGEST_SUBJECT_PREFIX, STATUS_HEADER } from '../../shared/wire.ts';
import { outcomeOfAnswer, type SendOutcome, type Transport } from './transport.ts';

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
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string } | undefined;
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
      this.connection = connect({
        servers: [...o.servers],
        name: 'tributary-agent',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        waitOnFirstConnect: true,
        ...(o.natsToken ? { token: o.natsToken } : {}),
        ...(o.user ? { user: o.user, pass: o.pass ?? '' } : {}),
        ...(o.credentials ? { authenticator: credsAuthenticator(new TextEncoder().encode(o.credentials)) } : {}),
        ...(o.tls ? { tls: { ...o.tls } } : {}),
      });
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

/** The transport for `collector.urls: [nats://…]` with the `collector.nats` settings (credentials read here). */
export function natsTransportFor(collector: {
  readonly urls: readonly string[];
  readonly token: string | undefined;
  readonly timeoutMs: number;
  readonly nats?: {
    readonly credentialsFile?: string | undefined;
    readonly token?: string | undefined;
    readonly user?: string | undefined;
    readonly password?: string | undefined;
    readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string } | undefined;
  };
}): NatsTransport {
  const n = collector.nats;
  let credentials: string | undefined;
  if (n?.credentialsFile !== undefined) {
    try {
      credentials = readFileSync(n.credentialsFile, 'utf8');
    } catch (error) {
      throw new ConfigError(
        `collector.nats.credentials_file: cannot read ${n.credentialsFile}: ${(error as Error).message}`,
      );
    }
  }
  return new NatsTransport({
    servers: collector.urls,
    token: collector.token,
    natsToken: n?.token,
    user: n?.user,
    pass: n?.password,
    credentials,
    tls: n?.tls,
    timeoutMs: collector.timeoutMs,
  });
}
