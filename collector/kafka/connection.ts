/**
 * One Kafka client connection: reads size-prefixed request frames, runs them one at a time and writes each answer
 * in request order, as a Kafka broker does (clients match answers by correlation id but librdkafka and the Java
 * client also expect the order). Request header v1 (api key, version, correlation id, client id) for every
 * version we serve; header v2 (plus tagged fields) for ApiVersions v3. Response header v0 (correlation id).
 *
 * Bad input closes the connection, counted in tributary_collector_kafka_connections_closed_total{reason}: a frame
 * length over kafka.max_request_bytes or too short for a header (`frame_size`), an unknown API key
 * (`unknown_api`), an unsupported version of a known API (`unsupported_version`; ApiVersions is answered instead,
 * in v0 with UNSUPPORTED_VERSION and our version table, as Kafka does, so the client retries with v0), a body that
 * does not parse (`malformed`), a request other than ApiVersions/SASL before SASL authentication when the collector
 * has tokens (`unauthenticated`), a frame begun but not finished within kafka.request_timeout (`slow_client`), no
 * request for kafka.idle_timeout (`idle`). Nothing a client sends can make the collector crash.
 *
 * Memory: at most one request runs; frames that arrive meanwhile are kept until they add up to
 * kafka.max_request_bytes, then the socket is paused (TCP pushes back on the client). An answer the client does
 * not read is waited on (socket 'drain') before the next request runs.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../../shared/logger.ts';
import { authenticatePlain } from './apis/36-sasl-authenticate.ts';
import { KafkaProtocolError, KafkaReader, KafkaWriter } from './codec/primitives.ts';
import type { KafkaApi, KafkaContext, KafkaRequestHeader, KafkaSession } from './context.ts';
import { FetchAhead } from './fetch-ahead.ts';
import { ApiKey, ERROR_NAMES, ErrorCode } from './protocol.ts';

/** apiKey(2) + apiVersion(2) + correlationId(4) + clientId length(2). */
const MIN_FRAME = 10;

export type CloseReason =
  | 'frame_size'
  | 'unknown_api'
  | 'unsupported_version'
  | 'malformed'
  | 'unauthenticated'
  | 'slow_client'
  | 'idle'
  | 'internal'
  | 'too_many_connections';

/** A response ready to write: the frame's pieces, and what to run once they are written (memory reuse). */
interface Answer {
  readonly pieces: readonly Buffer[];
  readonly written: () => void;
}

export class KafkaConnection {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private readonly frames: Buffer[] = [];
  private queuedBytes = 0;
  private running = false;
  private closed = false;
  private partialTimer: NodeJS.Timeout | undefined;
  private readonly session: KafkaSession;
  private readonly logger: Logger;
  /** Resolves once the connection has ended and its last request has finished. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    private readonly socket: Socket,
    private readonly ctx: KafkaContext,
    private readonly apis: ReadonlyMap<number, KafkaApi>,
  ) {
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    this.session = {
      principal: undefined,
      saslMechanism: undefined,
      bareSaslToken: false,
      remoteAddress: socket.remoteAddress ?? '',
      fetchAhead: new FetchAhead(ctx.fetchMemory, (result, partitions) => ctx.metrics.readAhead(result, partitions)),
    };
    this.logger = ctx.logger;
    ctx.metrics.connectionOpened();
    socket.setNoDelay(true);
    socket.setTimeout(ctx.listener.idleTimeoutMs, () => this.close('idle'));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {}); // a reset by the client: 'close' follows
    socket.on('close', () => this.onClose());
  }

  /** Ends the connection after the request in flight (if any) has been answered. */
  closeWhenIdle(): void {
    if (!this.running) this.socket.end();
    this.frames.length = 0;
    this.closing = true;
  }

  private closing = false;

  /** Closes at once: requests received but not yet run are dropped (bad input, timeouts, forced shutdown). */
  close(reason: CloseReason | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.frames.length = 0;
    this.session.fetchAhead.close();
    if (reason !== undefined) this.ctx.metrics.closedFor(reason);
    this.socket.destroy();
  }

  /**
   * The socket closed. When the client closed it, the whole requests it sent before are still run (a producer
   * with acks=0 may write its request and leave at once: that request is stored, as Kafka does); their answers
   * go nowhere.
   */
  private onClose(): void {
    this.closed = true;
    clearTimeout(this.partialTimer);
    this.chunks.length = 0;
    this.session.fetchAhead.close();
    this.ctx.metrics.connectionClosed();
    if (this.frames.length > 0) void this.run();
    else if (!this.running) this.resolveDone();
  }

  private onData(chunk: Buffer): void {
    if (this.closed || this.closing) return;
    this.ctx.metrics.bytes('in', chunk.length);
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.extractFrames();
    if (this.closed) return;
    if (this.buffered > 0 && this.partialTimer === undefined) {
      // A frame has begun: it must be complete within the request timeout.
      this.partialTimer = setTimeout(() => this.close('slow_client'), this.ctx.listener.requestTimeoutMs);
    } else if (this.buffered === 0 && this.partialTimer !== undefined) {
      clearTimeout(this.partialTimer);
      this.partialTimer = undefined;
    }
    if (this.queuedBytes + this.buffered > this.ctx.listener.maxRequestBytes) this.socket.pause();
    void this.run();
  }

  private extractFrames(): void {
    for (;;) {
      if (this.buffered < 4) return;
      const head = this.peek(4);
      const size = head.readInt32BE(0);
      // A bare SASL token (after a v0 handshake) may be shorter than a request header.
      const minimum = this.session.bareSaslToken ? 1 : MIN_FRAME;
      if (size < minimum || size > this.ctx.listener.maxRequestBytes) {
        this.logger.debug({ size, remote: this.session.remoteAddress }, 'kafka: frame size out of range');
        this.close('frame_size');
        return;
      }
      if (this.buffered < 4 + size) return;
      const frame = this.take(4 + size).subarray(4);
      this.frames.push(frame);
      this.queuedBytes += frame.length;
      if (this.partialTimer !== undefined) {
        clearTimeout(this.partialTimer);
        this.partialTimer = undefined;
      }
    }
  }

  /** The first `n` buffered bytes (n <= buffered), joined if they span chunks. */
  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    const joined = Buffer.concat(this.chunks);
    this.chunks.length = 0;
    this.chunks.push(joined);
    return joined;
  }

  private take(n: number): Buffer {
    const first = this.peek(n);
    const out = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return out;
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.frames.length > 0) {
        const frame = this.frames.shift()!;
        this.queuedBytes -= frame.length;
        if (this.socket.isPaused() && this.queuedBytes + this.buffered <= this.ctx.listener.maxRequestBytes) {
          this.socket.resume();
        }
        const answer = await this.handle(frame);
        if (answer === undefined) continue;
        if (this.closed) {
          answer.written();
          continue;
        }
        const { pieces } = answer;
        this.ctx.metrics.bytes(
          'out',
          pieces.reduce((n, b) => n + b.length, 0),
        );
        // The frame header and the body's pieces written one after the other (corked): a large fetch answer is
        // never copied into one buffer. The last write's callback runs once all are written, or the socket is gone.
        this.socket.cork();
        let flushed = true;
        for (const [i, piece] of pieces.entries()) {
          flushed = this.socket.write(piece, i === pieces.length - 1 ? () => answer.written() : undefined);
        }
        this.socket.uncork();
        if (!flushed) {
          await new Promise<void>((resolve) => {
            const done = () => {
              this.socket.off('drain', done);
              this.socket.off('close', done);
              resolve();
            };
            this.socket.on('drain', done);
            this.socket.on('close', done);
          });
        }
      }
    } finally {
      this.running = false;
      if (this.closing && !this.closed) this.socket.end();
      if (this.closed) this.resolveDone();
    }
  }

  /** Runs one request; returns the answer's frame header and body pieces, or undefined (no answer, or closed). */
  private async handle(frame: Buffer): Promise<Answer | undefined> {
    if (this.session.bareSaslToken) {
      // SASL after a v0 handshake: the token, unframed; success is answered with an empty token, failure closes.
      const { errorCode } = authenticatePlain(this.ctx, this.session, frame);
      if (errorCode !== 0) {
        this.ctx.metrics.error('SaslHandshake', ERROR_NAMES.get(errorCode) ?? String(errorCode));
        this.close('unauthenticated');
        return undefined;
      }
      return { pieces: [Buffer.from([0, 0, 0, 0])], written: () => {} };
    }
    const reader = new KafkaReader(frame);
    let header: KafkaRequestHeader;
    try {
      header = {
        apiKey: reader.int16(),
        apiVersion: reader.int16(),
        correlationId: reader.int32(),
        clientId: reader.nullableString(),
      };
    } catch {
      this.close('malformed');
      return undefined;
    }
    const api = this.apis.get(header.apiKey);
    const name = api?.name ?? `unknown_${header.apiKey}`;
    this.ctx.metrics.request(name, header.apiVersion);
    if (api === undefined) {
      this.logger.debug({ apiKey: header.apiKey, client: header.clientId }, 'kafka: unknown API key');
      this.close('unknown_api');
      return undefined;
    }
    const countError = (code: number) => {
      if (code !== 0) this.ctx.metrics.error(name, ERROR_NAMES.get(code) ?? String(code));
    };
    if (header.apiVersion < api.minVersion || header.apiVersion > api.maxVersion) {
      if (api.key === ApiKey.ApiVersions) return this.frame(header.correlationId, this.apiVersionsError(countError));
      this.logger.debug({ api: name, version: header.apiVersion }, 'kafka: unsupported API version');
      this.close('unsupported_version');
      return undefined;
    }
    if (this.ctx.auth.enabled && this.session.principal === undefined && !api.beforeAuthentication) {
      this.close('unauthenticated');
      return undefined;
    }
    try {
      // Request header v2 (flexible versions) adds tagged fields; of our APIs only ApiVersions v3 is flexible.
      if (api.key === ApiKey.ApiVersions && header.apiVersion >= 3) reader.skipTaggedFields();
      const body = await api.handle({ header, body: reader, session: this.session, countError }, this.ctx);
      return body === undefined ? undefined : this.frame(header.correlationId, body);
    } catch (error) {
      if (error instanceof KafkaProtocolError) {
        // A v3 ApiVersions we cannot parse is answered in v0 with UNSUPPORTED_VERSION: the client retries in v0.
        if (api.key === ApiKey.ApiVersions) return this.frame(header.correlationId, this.apiVersionsError(countError));
        this.logger.debug({ api: name, version: header.apiVersion, err: error.message }, 'kafka: malformed request');
        this.close('malformed');
        return undefined;
      }
      this.logger.error({ err: error, api: name, version: header.apiVersion }, 'kafka: request failed');
      this.close('internal');
      return undefined;
    }
  }

  private apiVersionsError(countError: (code: number) => void): KafkaWriter {
    countError(ErrorCode.UNSUPPORTED_VERSION);
    return apiVersionsBody(this.apis, 0, ErrorCode.UNSUPPORTED_VERSION);
  }

  private frame(correlationId: number, body: KafkaWriter): Answer {
    const head = Buffer.allocUnsafe(8);
    head.writeInt32BE(4 + body.length, 0);
    head.writeInt32BE(correlationId, 4);
    return { pieces: [head, ...body.chunks()], written: () => body.written() };
  }
}

/** The ApiVersions response body in `version` (0-3): our version table. */
export function apiVersionsBody(apis: ReadonlyMap<number, KafkaApi>, version: number, errorCode: number): KafkaWriter {
  const w = new KafkaWriter(512);
  const table = [...apis.values()].sort((a, b) => a.key - b.key);
  w.int16(errorCode);
  if (version >= 3) {
    w.compactArray(table, (w, api) => w.int16(api.key).int16(api.minVersion).int16(api.maxVersion).emptyTaggedFields());
  } else {
    w.array(table, (w, api) => w.int16(api.key).int16(api.minVersion).int16(api.maxVersion));
  }
  if (version >= 1) w.int32(0); // throttle_time_ms
  if (version >= 3) w.emptyTaggedFields();
  return w;
}
