/**
 * A syslog listener: TCP (RFC 6587 framing), TLS (RFC 5425, same framing) or UDP (one message per datagram, RFC
 * 5426), feeding parsed messages through an IngestQueue into the produce path.
 *
 * Guarantees (docs/sources.md): syslog has no application-level acknowledgement, so TCP's own flow control is the
 * acknowledgement: a connection is read while its queue has room; when the store is slow the queue fills, the socket
 * pauses, and the sender blocks on its full TCP window (rsyslog then queues on its side). What a crash of the
 * collector can lose is what was read from the socket and not yet durable: at most max_pending_bytes per
 * connection, plus one append in flight. UDP cannot wait: datagrams arriving while the queue is full are dropped
 * and counted (`dropped`), never silently.
 *
 * Bad input never costs other messages: a malformed or oversized message is counted and skipped, the connection
 * stays open (framing.ts keeps the stream in sync). Connections above max_connections are refused and counted.
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../../shared/logger.ts';
import type { RecordLimits } from '../produce/record-batches.ts';
import type { ReceiverEvents } from '../receivers/receiver-events.ts';
import { type FrameVisitor, SyslogFrameSplitter } from './framing.ts';
import { type Deliver, IngestQueue } from './ingest-queue.ts';
import { HeaderCache, parseSyslog } from './parser.ts';
import { type RecordSource, SyslogRecordBuilder } from './records.ts';

export type SyslogProtocol = 'tcp' | 'udp' | 'tls';

export interface SyslogListenerOptions {
  readonly protocol: SyslogProtocol;
  readonly host: string;
  readonly port: number;
  readonly topic: string;
  /** Largest message accepted (bytes of one frame / datagram). */
  readonly maxMessageBytes: number;
  /** TCP/TLS: connections open at once; more are refused. */
  readonly maxConnections: number;
  /** Records read and waiting for the store, per connection (TCP) or per socket (UDP), before reads pause. */
  readonly maxPendingBytes: number;
  /** TLS only: certificate, key, and the CA that client certificates must chain to (required when set). */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly caFile?: string | undefined };
}

export interface SyslogReceiverOptions {
  readonly listener: SyslogListenerOptions;
  /** The produce path's limits (a message whose text is above max_line_bytes is counted `oversized`, skipped). */
  readonly limits: RecordLimits;
  readonly deliver: Deliver;
  readonly events: ReceiverEvents;
  readonly logger: Logger;
  readonly now?: () => number;
}

export class SyslogReceiver {
  private server: net.Server | undefined;
  private udp: dgram.Socket | undefined;
  private udpQueue: IngestQueue | undefined;
  private readonly connections = new Set<Connection>();
  private readonly now: () => number;
  private boundPort = 0;

  constructor(private readonly options: SyslogReceiverOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The port listened on (the real one when 0 was configured). */
  get port(): number {
    return this.boundPort;
  }

  get protocol(): SyslogProtocol {
    return this.options.listener.protocol;
  }

  async start(): Promise<void> {
    const l = this.options.listener;
    if (l.protocol === 'udp') return this.startUdp();
    const onConnection = (socket: net.Socket) => this.accept(socket);
    // allowHalfOpen: a sender's FIN is answered by ours only once what it sent is durable (Connection), not at once.
    const server =
      l.protocol === 'tls'
        ? tls.createServer(
            {
              allowHalfOpen: true,
              cert: readFileSync(l.tls!.certFile),
              key: readFileSync(l.tls!.keyFile),
              ...(l.tls!.caFile
                ? { ca: readFileSync(l.tls!.caFile), requestCert: true, rejectUnauthorized: true }
                : {}),
            },
            onConnection,
          )
        : net.createServer({ allowHalfOpen: true }, onConnection);
    server.maxConnections = l.maxConnections;
    server.on('drop', () => this.options.events.error('connection_rejected'));
    if (server instanceof tls.Server) {
      server.on('tlsClientError', (error) => {
        this.options.events.error('tls');
        this.options.logger.debug({ err: error, receiver: 'syslog' }, 'syslog TLS handshake failed');
      });
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: l.host, port: l.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => this.options.logger.error({ err: error }, 'syslog listener error'));
    this.server = server;
    const address = server.address();
    this.boundPort = typeof address === 'object' && address ? address.port : l.port;
  }

  private accept(socket: net.Socket): void {
    const conn = new Connection(socket, this.options, this.now, () => this.connections.delete(conn));
    this.connections.add(conn);
  }

  private async startUdp(): Promise<void> {
    const l = this.options.listener;
    const { events } = this.options;
    const socket = dgram.createSocket({ type: l.host.includes(':') ? 'udp6' : 'udp4' });
    const queue = new IngestQueue({
      deliver: this.options.deliver,
      limits: this.options.limits,
      maxPendingBytes: l.maxPendingBytes,
      onDrain: () => {},
      onError: (error) => {
        events.error('store');
        this.options.logger.warn({ err: error, receiver: 'syslog' }, 'syslog append failed; retrying');
      },
      onStored: (n) => events.stored(n),
    });
    const builders = new Map<string, SyslogRecordBuilder>();
    socket.on('message', (msg, rinfo) => {
      if (msg.length > l.maxMessageBytes) {
        events.error('oversized');
        return;
      }
      if (queue.full) {
        events.error('dropped');
        return;
      }
      const received = this.now();
      let end = msg.length;
      while (end > 0 && (msg[end - 1] === 0x0a || msg[end - 1] === 0x0d || msg[end - 1] === 0)) end--;
      const parsed = parseSyslog(msg.subarray(0, end), received);
      if (!parsed.ok) {
        events.error('malformed');
        return;
      }
      events.received(1, msg.length);
      let builder = builders.get(rinfo.address);
      if (!builder) {
        if (builders.size >= 1024) builders.clear();
        builder = new SyslogRecordBuilder(rinfo.address);
        builders.set(rinfo.address, builder);
      }
      if (!queue.add(builder.build(parsed.message, received))) {
        events.error('oversized');
        return;
      }
      queue.kick();
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: l.host, port: l.port }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (error) => this.options.logger.error({ err: error }, 'syslog UDP socket error'));
    this.udp = socket;
    this.udpQueue = queue;
    this.boundPort = socket.address().port;
  }

  /**
   * Stops listening, stops reading every connection, stores what was already read, then closes. Past `deadlineMs`
   * the remaining records are abandoned (counted and logged) so shutdown cannot hang on a dead store.
   */
  async close(deadlineMs: number): Promise<void> {
    const server = this.server;
    const closedServer = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    if (this.udp) {
      const udp = this.udp;
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    }
    const queues = [...this.connections].map((c) => c.stop());
    if (this.udpQueue) queues.push(this.udpQueue);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), deadlineMs);
    });
    const outcome = await Promise.race([Promise.all(queues.map((q) => q.flush())), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      const lost = queues.reduce((n, q) => n + q.abandon(), 0);
      this.options.logger.error(
        { lost, receiver: 'syslog' },
        'syslog shutdown deadline passed with records not yet stored: they are lost',
      );
    }
    for (const c of this.connections) c.destroy();
    await closedServer;
  }
}

/** One TCP/TLS connection: frames → parser → queue; paused while the queue is full. */
class Connection {
  private readonly splitter: SyslogFrameSplitter;
  private readonly queue: IngestQueue;
  private readonly peer: string;
  private readonly records: SyslogRecordBuilder;
  /** Recent headers, each with what its records share attached (key, labels, the procid field). */
  private readonly headers = new HeaderCache<RecordSource>();

  constructor(
    private readonly socket: net.Socket,
    private readonly options: SyslogReceiverOptions,
    private readonly now: () => number,
    onClosed: () => void,
  ) {
    const { events, listener } = options;
    this.peer = socket.remoteAddress ?? 'unknown';
    this.records = new SyslogRecordBuilder(this.peer);
    this.splitter = new SyslogFrameSplitter(listener.maxMessageBytes);
    this.queue = new IngestQueue({
      deliver: options.deliver,
      limits: options.limits,
      maxPendingBytes: listener.maxPendingBytes,
      onDrain: () => {
        if (!socket.destroyed) socket.resume();
      },
      onError: (error) => {
        events.error('store');
        options.logger.warn(
          { err: error, receiver: 'syslog' },
          'syslog append failed; retrying with the socket paused',
        );
      },
      onStored: (n) => events.stored(n),
    });
    events.connectionOpened();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      this.take((visitor) => {
        for (const frame of this.splitter.end()) {
          if (frame.kind === 'message') visitor.message(frame.bytes, 0, frame.bytes.length);
          else visitor.problem(frame);
        }
      });
      this.queue.kick();
      // Half-close from the sender: answer with our FIN once what it sent is durable.
      void this.queue.flush().then(() => socket.end());
    });
    socket.on('error', (error) => options.logger.debug({ err: error, peer: this.peer }, 'syslog connection error'));
    socket.on('close', () => {
      events.connectionClosed();
      onClosed();
    });
  }

  private onData(chunk: Buffer): void {
    this.take((visitor) => this.splitter.each(chunk, visitor));
    this.queue.kick();
    if (this.queue.full) this.socket.pause();
  }

  /** Frames (from `frames`) → messages → the queue, counting what was received and what was not a message. */
  private take(frames: (visitor: FrameVisitor) => void): void {
    const { events } = this.options;
    const received = this.now();
    let count = 0;
    let bytes = 0;
    frames({
      message: (buf, start, end) => {
        // A run of one sender's lines: the header is the last one's, its record source too (HeaderCache).
        const body = this.headers.matchAt(buf, start, end, received);
        if (body !== -1) {
          const fields = this.headers.fields!;
          const { key, labels, fields: recordFields } = this.headers.attachment ?? this.records.source(fields);
          if (!this.queue.addRange(key, labels, fields.timestamp ?? received, buf, body, end, recordFields)) {
            events.error('oversized');
            return;
          }
        } else {
          const parsed = parseSyslog(buf.subarray(start, end), received, this.headers);
          if (!parsed.ok) {
            events.error('malformed');
            return;
          }
          // What the next lines with this header share (not the record: it holds the socket's chunk).
          const source = this.records.source(parsed.message);
          this.headers.attach(source);
          if (!this.queue.add(this.records.build(parsed.message, received, source))) {
            events.error('oversized');
            return;
          }
        }
        count++;
        bytes += end - start;
      },
      problem: (frame) => events.error(frame.kind),
    });
    if (count > 0) events.received(count, bytes);
  }

  /** Stops reading; returns the queue so the receiver can flush it. */
  stop(): IngestQueue {
    this.socket.pause();
    this.socket.removeAllListeners('data');
    return this.queue;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
