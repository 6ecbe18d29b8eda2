/**
 * A running collector: the store, the HTTP server and the metrics, wired together, with an orderly shutdown.
 * `startCollector` is what `tributary collector` runs and what `tributary up` embeds.
 *
 * Shutdown (close): readiness turns 503, long-polls are answered, the server stops accepting and waits for the
 * requests in flight (produces are answered once their appends are durable), then the store flushes and closes.
 * Past `shutdown_timeout`, remaining connections are cut; the store is still closed cleanly.
 */
import { ConfigError, TributaryError } from '../shared/errors.ts';
import { type Logger, silentLogger } from '../shared/logger.ts';
import { type CollectorOptions, isLoopback } from './config.ts';
import { GroupCoordinator } from './groups/group-coordinator.ts';
import { createHttpServer } from './http/server.ts';
import type { RouteModule } from './http/context.ts';
import { CollectorMetrics } from './metrics.ts';
import { composeEvents, openJetStreamStore, startNatsBridge } from './nats/bridge.ts';
import { ProducePath } from './produce/produce.ts';
import { TopicAccess } from './produce/topic-access.ts';
import type { LogStore, StorageEvents } from './storage/log-store.ts';
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
  readonly store: LogStore;
  readonly metrics: CollectorMetrics;
  /** The syslog listeners (config `syslog`), in config order, with their real ports. */
  readonly syslog: SyslogListeners['bound'];
  /** Graceful shutdown; idempotent. */
  close(): Promise<void>;
}

export { isLoopback } from './config.ts';

/** How often consumer group members past their session timeout are removed. */
const GROUP_EXPIRY_SWEEP_MS = 500;

export async function startCollector(
  options: CollectorOptions,
  start: StartCollectorOptions = {},
): Promise<CollectorHandle> {
  const logger = start.logger ?? silentLogger();
  if (options.tokens.length === 0 && !isLoopback(options.listen.host) && !options.allowUnauthenticated) {
    throw new ConfigError(
      `refusing to listen on ${options.listen.host} without authentication: configure tokens, ` +
        'or set allow_unauthenticated: true if the network is trusted, or listen on 127.0.0.1',
    );
  }

  const metrics = new CollectorMetrics();
  // NATS (ingest, forwarding, JetStream backend): collector/nats/bridge.ts; a no-op unless configured.
  const bridge = await startNatsBridge(options);
  const events = composeEvents(metrics.storageEvents(), bridge.events);
  let store: LogStore;
  try {
    store = start.openStore
      ? await start.openStore(events)
      : options.storage?.backend === 'jetstream'
        ? await openJetStreamStore(options, events)
        : await (await import('./storage/file/index.ts')).FileLogStore.open({
            dataDir: options.dataDir,
            defaults: options.topicDefaults,
            events,
            retentionCheckIntervalMs: options.retentionCheckIntervalMs,
          });
  } catch (error) {
    await bridge.close();
    if (error instanceof TributaryError) throw error;
    // EACCES, ENOTDIR, EROFS…: say which directory and what to do.
    throw new ConfigError(
      `cannot open the data directory ${options.dataDir}: ${(error as Error).message} ` +
        '(check that it exists or can be created, and that this user may write to it)',
      { cause: error },
    );
  }
  metrics.attachStore(store, start.openStore || options.storage?.backend === 'jetstream' ? undefined : options.dataDir);
  // One produce path for every front end (HTTP, NATS ingest, …): collector/produce.
  const topics = new TopicAccess({ store, collector: options });
  const produce = new ProducePath({ store, topics, metrics, limits: options.limits });
  bridge.attach(produce);
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
    syslog = await startSyslogListeners(options.syslog ?? [], produce, metrics, logger);
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
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.listen.port;
  const scheme = options.tls ? 'https' : 'http';
  const host = options.listen.host.includes(':') ? `[${options.listen.host}]` : options.listen.host;
  const url = `${scheme}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  lifecycle.ready = true;
  // Members past their session timeout are removed by this sweep (and lazily by every group request).
  const groupExpiry = setInterval(() => {
    groups.expireAll().catch((error: unknown) => logger.warn({ err: error }, 'group expiry sweep failed'));
  }, GROUP_EXPIRY_SWEEP_MS);
  groupExpiry.unref();
  logger.info(
    { address: url, dataDir: options.dataDir, auth: options.tokens.length > 0 ? 'tokens' : 'off' },
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
        await app.close();
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

  return { address: url, port, store, metrics, syslog: syslog.bound, close };
}
