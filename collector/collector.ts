/**
 * A running collector: the store, the HTTP server and the metrics, wired together, with an orderly shutdown.
 * `startCollector` is what `tributary collector` runs and what `tributary up` embeds.
 *
 * Shutdown (close): readiness turns 503, long-polls are answered, the server stops accepting and waits for the
 * requests in flight (produces are answered once their appends are durable), then the store flushes and closes.
 * Past `shutdown_timeout`, remaining connections are cut; the store is still closed cleanly.
 */
import { ConfigError } from '../shared/errors.ts';
import { type Logger, silentLogger } from '../shared/logger.ts';
import { ThrottledLog } from '../shared/throttled-log.ts';
import { type CollectorOptions, isLoopback } from './config.ts';
import { GroupCoordinator } from './groups/group-coordinator.ts';
import { Authenticator } from './http/auth.ts';
import { FetchMemoryPool } from './storage/fetch-memory.ts';
import { createHttpServer } from './http/server.ts';
import { type KafkaListener, startKafkaListener } from './kafka/listener.ts';
import type { RouteModule } from './http/context.ts';
import { CollectorMetrics } from './metrics.ts';
import { composeEvents, startNatsBridge } from './nats/bridge.ts';
import { ProducePath } from './produce/produce.ts';
import { TopicAccess } from './produce/topic-access.ts';
import type { BackendSummary, LogStore, StorageEvents } from './storage/log-store.ts';
import { openLogStore, reconcileBodyLimit } from './storage/open-store.ts';
import { type SyslogListeners, startSyslogListeners } from './syslog/index.ts';

export interface StartCollectorOptions {
  readonly logger?: Logger;
  /** Opens the store; defaults to the file store in options.dataDir. (A JetStream backend plugs in here.) */
  readonly openStore?: (events: StorageEvents) => Promise<LogStore>;
  /** Route modules; defaults to routes/index.ts. */
  readonly routes?: readonly RouteModule[];
}

export interface CollectorHandle {
  /** The base URL the collector serves on, e.g. http://127.0.0.1:7070 (the real port when 0 was asked for). */
  readonly address: string;
  readonly port: number;
  /** The Kafka listener's port, when kafka.listen is set. */
  readonly kafkaPort: number | undefined;
  readonly store: LogStore;
  readonly metrics: CollectorMetrics;
  /** The syslog listeners (config `syslog`), in config order, with their real ports. */
  readonly syslog: SyslogListeners['bound'];
  /** Graceful shutdown; idempotent. */
  close(): Promise<void>;
}

export { isLoopback } from './config.ts';

/** The startup log's view of the backend: what it really has (no data directory on JetStream). */
function storageLogFields(backend: BackendSummary): Record<string, unknown> {
  if (backend.kind === 'file') return { backend: 'file', dataDir: backend.dataDir };
  return {
    backend: 'jetstream',
    servers: backend.servers,
    connectedTo: backend.connectedTo,
    cluster: backend.cluster ?? '(single server)',
    clusterSize: backend.clusterSize,
    replicas: backend.replicas,
    storageType: backend.storage,
    maxPayload: backend.maxPayload,
    buckets: backend.buckets,
  };
}

/** How often consumer group members past their session timeout are removed. */
const GROUP_EXPIRY_SWEEP_MS = 500;

export async function startCollector(
  configured: CollectorOptions,
  start: StartCollectorOptions = {},
): Promise<CollectorHandle> {
  const logger = start.logger ?? silentLogger();
  let options = configured;
  if (options.tokens.length === 0 && !isLoopback(options.listen.host) && !options.allowUnauthenticated) {
    throw new ConfigError(
      `refusing to listen on ${options.listen.host} without authentication: configure tokens, ` +
        'or set allow_unauthenticated: true if the network is trusted, or listen on 127.0.0.1',
    );
  }
  const kafkaHost = options.kafka?.listen.host;
  if (
    kafkaHost !== undefined &&
    options.tokens.length === 0 &&
    !isLoopback(kafkaHost) &&
    !options.allowUnauthenticated
  ) {
    throw new ConfigError(
      `refusing to serve the Kafka protocol on ${kafkaHost} without authentication: configure tokens (clients ` +
        'then authenticate with SASL/PLAIN), or set allow_unauthenticated: true, or set kafka.listen to 127.0.0.1:<port>',
    );
  }

  const metrics = new CollectorMetrics();
  // NATS (ingest, forwarding, JetStream backend): collector/nats/bridge.ts; a no-op unless configured.
  const bridge = await startNatsBridge(options, logger);
  const events = composeEvents(metrics.storageEvents(), bridge.events);
  let store: LogStore;
  try {
    // collector/storage/open-store.ts: the backend of storage.backend; its errors say which backend and where.
    store = start.openStore ? await start.openStore(events) : await openLogStore(options, events, logger);
  } catch (error) {
    await bridge.close();
    throw error;
  }
  const backend = store.backendSummary();
  try {
    // The body limit and NATS's max_payload: one rule (collector/storage/open-store.ts, reconcileBodyLimit).
    options = { ...options, limits: reconcileBodyLimit(options.limits, backend, logger) };
  } catch (error) {
    await bridge.close();
    await store.close().catch(() => {});
    throw error;
  }
  metrics.attachStore(store, start.openStore || backend.kind !== 'file' ? undefined : backend.dataDir);
  // One produce path for every front end (HTTP, NATS ingest, …): collector/produce.
  const topics = new TopicAccess({ store, collector: options });
  const produce = new ProducePath({ store, topics, metrics, limits: options.limits });
  // One authenticator (the configured tokens) for every front end that checks them: HTTP, NATS ingest, Kafka.
  const auth = new Authenticator(options.tokens);
  // One pool of reused memory for fetch answers, HTTP and Kafka (storage/fetch-memory.ts).
  const fetchMemory = new FetchMemoryPool();
  bridge.attach(produce, auth);
  // Consumer groups (collector/groups): the routes use it, and commit fencing does not depend on any route.
  const groups = new GroupCoordinator({
    membership: store.membership,
    partitionsFor: (topic) => topics.partitionsFor(topic, false),
    events: {
      rebalanced: (group, generation, reason, members) => {
        metrics.countRebalance(group, reason);
        logger.info({ group, generation, reason, members }, 'consumer group rebalanced');
      },
    },
  });

  const shutdown = new AbortController();
  const lifecycle = { ready: false, shutdownSignal: shutdown.signal };
  // Receivers of other protocols (collector/syslog/): after the store, before the HTTP listener.
  let syslog: SyslogListeners;
  try {
    syslog = await startSyslogListeners(options.syslog ?? [], produce, options.limits, metrics, logger);
  } catch (error) {
    await bridge.close();
    await store.close().catch(() => {});
    throw new ConfigError(`cannot start the syslog listeners: ${(error as Error).message}`, { cause: error });
  }
  const app = createHttpServer({
    store,
    collector: options,
    metrics,
    logger,
    lifecycle,
    topics,
    produce,
    groups,
    auth,
    fetchMemory,
    ...(start.routes ? { routes: start.routes } : {}),
  });
  try {
    await app.listen({ host: options.listen.host, port: options.listen.port });
  } catch (error) {
    await syslog.close(0);
    await bridge.close();
    await store.close().catch(() => {});
    throw new ConfigError(
      `cannot listen on ${options.listen.host}:${options.listen.port}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  // The Kafka protocol listener (collector/kafka/), when kafka.listen is set.
  let kafka: KafkaListener | undefined;
  if (options.kafka) {
    try {
      kafka = await startKafkaListener({
        options: options.kafka,
        collector: options,
        store,
        fetchMemory,
        topics,
        produce,
        shared: options.storage?.backend === 'jetstream',
        auth,
        metrics: metrics.kafka,
        logger,
        shutdownSignal: shutdown.signal,
      });
    } catch (error) {
      await app.close();
      await syslog.close(0);
      await bridge.close();
      await store.close().catch(() => {});
      const { host, port } = options.kafka.listen;
      throw new ConfigError(`cannot serve Kafka on ${host}:${port}: ${(error as Error).message}`, { cause: error });
    }
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.listen.port;
  const scheme = options.tls ? 'https' : 'http';
  const host = options.listen.host.includes(':') ? `[${options.listen.host}]` : options.listen.host;
  const url = `${scheme}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  lifecycle.ready = true;
  // Members past their session timeout are removed by this sweep (and lazily by every group request). It fails
  // every second while NATS elects a leader: logged once a minute with the count, and its end.
  const sweepLog = new ThrottledLog({ logger });
  const groupExpiry = setInterval(() => {
    groups.expireAll().then(
      () => sweepLog.recovered('sweep', {}, 'group expiry sweep succeeds again'),
      (error: unknown) =>
        sweepLog.warn('sweep', { err: error }, `group expiry sweep failed: ${(error as Error).message}`),
    );
  }, GROUP_EXPIRY_SWEEP_MS);
  groupExpiry.unref();
  logger.info(
    { address: url, storage: storageLogFields(backend), auth: options.tokens.length > 0 ? 'tokens' : 'off' },
    'collector listening',
  );

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      logger.info('collector shutting down: finishing requests in flight');
      lifecycle.ready = false;
      shutdown.abort();
      clearInterval(groupExpiry);
      const syslogClosed = syslog.close(options.shutdownTimeoutMs);
      // Connections that turn idle after shutdown began (a long-poll just answered) are closed as they appear.
      const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
      const timer = setTimeout(() => {
        logger.warn({ timeoutMs: options.shutdownTimeoutMs }, 'shutdown timeout: closing remaining connections');
        app.server.closeAllConnections();
      }, options.shutdownTimeoutMs);
      try {
        await Promise.all([app.close(), kafka?.close(options.shutdownTimeoutMs)]);
      } finally {
        clearTimeout(timer);
        clearInterval(sweep);
      }
      await syslogClosed;
      await bridge.close();
      await store.close();
      logger.info('collector stopped');
    })();
    return closing;
  };

  return { address: url, port, kafkaPort: kafka?.port, store, metrics, syslog: syslog.bound, close };
}
