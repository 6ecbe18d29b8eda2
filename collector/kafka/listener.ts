/**
 * The Kafka protocol listener: a TCP (or TLS) server on kafka.listen whose connections (connection.ts) run the
 * APIs of apis/ against the collector's store, with the same topic access, tokens and limits as the HTTP API.
 * Started and closed by collector.ts. docs/kafka.md is the user's guide.
 *
 * Shutdown: stop accepting; every connection finishes the request it is running (a waiting fetch is answered at
 * once through the shutdown signal) and is closed; past the timeout the rest are cut.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../../shared/logger.ts';
import type { CollectorOptions, KafkaListenerOptions } from '../config.ts';
import type { Authenticator } from '../http/auth.ts';
import type { TopicAccess } from '../produce/topic-access.ts';
import type { KafkaListenerMetrics } from '../metrics.ts';
import type { ProducePath } from '../produce/produce.ts';
import type { FetchMemoryPool } from '../storage/fetch-memory.ts';
import type { LogStore } from '../storage/log-store.ts';
import { kafkaApis } from './apis/index.ts';
import { nodeIdFor, SharedCluster, singleCollector } from './cluster.ts';
import { KafkaConnection } from './connection.ts';
import type { Broker, ClusterView, KafkaContext } from './context.ts';
import { KafkaGroups } from './groups.ts';
import { ProducerRegistry } from './producers.ts';

export interface KafkaListenerStart {
  readonly options: KafkaListenerOptions;
  readonly collector: CollectorOptions;
  readonly store: LogStore;
  /** The collector's reused memory for fetch answers, shared with HTTP fetch. */
  readonly fetchMemory: FetchMemoryPool;
  readonly topics: TopicAccess;
  readonly auth: Authenticator;
  readonly metrics: KafkaListenerMetrics;
  readonly logger: Logger;
  readonly shutdownSignal: AbortSignal;
  readonly produce: ProducePath;
  /** Other collectors may share the store (JetStream): advertise them all and share groups out (cluster.ts). */
  readonly shared: boolean;
}

export interface KafkaListener {
  /** The port listened on (the real one when 0 was asked for). */
  readonly port: number;
  /** What clients are told to connect to. */
  readonly advertised: Broker;
  close(timeoutMs: number): Promise<void>;
}

export async function startKafkaListener(start: KafkaListenerStart): Promise<KafkaListener> {
  const { options, logger } = start;
  const connections = new Set<KafkaConnection>();
  let advertised: Broker = { nodeId: 0, host: '127.0.0.1', port: 0 };
  let cluster: ClusterView = singleCollector(() => advertised);
  const groups = new KafkaGroups(start.store.membership);
  const ctx: KafkaContext = {
    produce: start.produce,
    producers: new ProducerRegistry(),
    groups,
    store: start.store,
    fetchMemory: start.fetchMemory,
    topics: start.topics,
    collector: start.collector,
    listener: options,
    auth: start.auth,
    metrics: start.metrics,
    cluster,
    logger,
    shutdownSignal: start.shutdownSignal,
  };
  const apis = kafkaApis();
  const accept = (socket: net.Socket) => {
    if (connections.size >= options.maxConnections) {
      start.metrics.closedFor('too_many_connections');
      socket.destroy();
      return;
    }
    const connection = new KafkaConnection(socket, ctx, apis);
    connections.add(connection);
    void connection.done.then(() => connections.delete(connection));
  };
  const server = options.tls
    ? tls.createServer({ cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) }, accept)
    : net.createServer(accept);
  server.on('tlsClientError', () => {}); // a failed handshake closes that socket only
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listen.port, options.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.listen.port;
  const listenHost =
    options.listen.host === '0.0.0.0' || options.listen.host === '::' ? '127.0.0.1' : options.listen.host;
  const host = options.advertised?.host ?? listenHost;
  const advertisedPort = options.advertised?.port ?? port;
  advertised = { nodeId: start.shared ? nodeIdFor(host, advertisedPort) : 0, host, port: advertisedPort };
  let shared: SharedCluster | undefined;
  if (start.shared) {
    // Several collectors on one JetStream backend: register, and share groups out by coordinator (cluster.ts).
    shared = new SharedCluster(start.store.membership, advertised);
    await shared.start();
    cluster = shared;
  }
  ctx.cluster = cluster;
  logger.info(
    { listen: `${options.listen.host}:${port}`, advertised: `${advertised.host}:${advertised.port}` },
    'kafka listener ready',
  );

  return {
    port,
    advertised,
    async close(timeoutMs: number) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const connection of connections) connection.closeWhenIdle();
      const timer = setTimeout(() => {
        for (const connection of connections) connection.close(undefined);
      }, timeoutMs);
      try {
        await Promise.all([closed, ...[...connections].map((c) => c.done)]);
      } finally {
        clearTimeout(timer);
        groups.close();
        await shared?.stop();
      }
    },
  };
}
