/**
 * The collector's HTTP server (fastify): body parsers, authentication, error mapping, response metrics, and the
 * route modules of routes/index.ts. It does not listen; collector.ts does, and owns the lifecycle.
 */
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import type { Logger } from '../../shared/logger.ts';
import type { CollectorOptions } from '../config.ts';
import type { GroupCoordinator } from '../groups/group-coordinator.ts';
import type { CollectorMetrics } from '../metrics.ts';
import type { ProducePath } from '../produce/produce.ts';
import type { TopicAccess } from '../produce/topic-access.ts';
import type { LogStore } from '../storage/log-store.ts';
import type { FetchMemoryPool } from '../storage/fetch-memory.ts';
import type { Authenticator } from './auth.ts';
import { registerBodyParsers } from './body.ts';
import type { Lifecycle, RouteContext, RouteModule } from './context.ts';
import { httpErrorFor, make } from './error-status.ts';
import { RouteMethods } from './route-methods.ts';
import { ROUTE_MODULES } from './routes/index.ts';

export interface HttpServerOptions {
  readonly store: LogStore;
  readonly collector: CollectorOptions;
  readonly metrics: CollectorMetrics;
  readonly logger: Logger;
  readonly lifecycle: Lifecycle;
  /** Shared with NATS ingest: one cache of partition counts, one produce path. */
  readonly topics: TopicAccess;
  readonly produce: ProducePath;
  readonly groups: GroupCoordinator;
  /** The collector's one authenticator, shared with the other front ends. */
  readonly auth: Authenticator;
  /** Reused memory for fetch answers, shared with the Kafka listener. */
  readonly fetchMemory: FetchMemoryPool;
  /** Defaults to ROUTE_MODULES. */
  readonly routes?: readonly RouteModule[];
}

export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  const { collector, metrics, logger } = options;
  const { requestTimeoutMs } = collector.limits;
  // Node's own timers for receiving a request. It checks them on an interval (30 s by default): a fifth of the
  // timeout keeps a slow body from holding its socket much longer than configured. Its headers timeout must not
  // exceed the request timeout (Node's default rule, min(60 s, request timeout)): a later one would hold a slow body
  // until then too.
  const nodeTimeouts = {
    requestTimeout: requestTimeoutMs,
    headersTimeout: Math.min(60_000, requestTimeoutMs),
    connectionsCheckingInterval: Math.min(30_000, Math.max(1000, Math.floor(requestTimeoutMs / 5))),
  };
  const common = {
    loggerInstance: logger,
    // Per-request log lines would cost more than a produce; errors are logged below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: collector.limits.maxBodyBytes,
    forceCloseConnections: 'idle' as const,
    return503OnClosing: true,
    keepAliveTimeout: 65_000,
    // Names in paths (topics, groups) are up to 200 characters (shared/names.ts); fastify's default of 100 would
    // answer 414 to valid ones. Longer segments still get fastify's 414; up to 256 reach our validation (400).
    routerOptions: { maxParamLength: 256 },
    // A client that takes longer than limits.request_timeout to send its request (slow body) is cut with 408.
    requestTimeout: requestTimeoutMs,
    http: nodeTimeouts,
    // Errors fastify raises before a route runs (a bad %-escape, an over-long path segment) get the API's envelope.
    frameworkErrors: (error: Error, request: FastifyRequest, reply: FastifyReply) => {
      const mapped = httpErrorFor(error, request.headers['content-type']);
      metrics.countRejected('unmatched', mapped.body.error.code);
      void reply.code(mapped.status).headers(mapped.headers).send(mapped.body);
    },
  };
  const app = (collector.tls
    ? Fastify({
        ...common,
        https: {
          cert: readFileSync(collector.tls.certFile),
          key: readFileSync(collector.tls.keyFile),
          ...nodeTimeouts,
        },
      })
    : Fastify(common)) as unknown as FastifyInstance;

  const { auth } = options;
  const context: RouteContext = {
    store: options.store,
    options: collector,
    metrics,
    logger,
    topics: options.topics,
    produce: options.produce,
    lifecycle: options.lifecycle,
    groups: options.groups,
    auth,
    fetchMemory: options.fetchMemory,
  };

  registerBodyParsers(app, collector.limits);

  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request) => {
    const role = request.routeOptions.config.role;
    if (role !== undefined) request.principal = auth.authorize(request.headers.authorization, role);
  });

  // During shutdown, answers close their connection: a keep-alive connection left idle after the last answer would
  // otherwise hold the server open until its keep-alive timeout.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (options.lifecycle.shutdownSignal.aborted) reply.header('connection', 'close');
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    metrics.countResponse(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode);
  });

  app.setErrorHandler(async (error, request, reply) => {
    const mapped = httpErrorFor(error, request.headers['content-type']);
    if (mapped.status >= 500) {
      logger.error({ err: error, route: request.routeOptions.url, method: request.method }, 'request failed');
    } else {
      logger.debug({ code: mapped.body.error.code, route: request.routeOptions.url }, mapped.body.error.message);
    }
    metrics.countRejected(request.routeOptions.url ?? 'unmatched', mapped.body.error.code);
    return reply.code(mapped.status).headers(mapped.headers).send(mapped.body);
  });

  // A path that is a route for other methods is 405 with `Allow` (RFC 9110), not 404.
  const routeMethods = new RouteMethods();
  app.addHook('onRoute', (route) => routeMethods.add(route.method, route.url ?? route.path));
  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?')[0]!;
    const allowed = routeMethods.allowed(path);
    if (allowed.length > 0) {
      const mapped = make(
        405,
        'method_not_allowed',
        `${request.method} is not a method of ${path}; use ${allowed.join(', ')}`,
      );
      return reply.code(405).header('allow', allowed.join(', ')).send(mapped.body);
    }
    return reply.code(404).send(make(404, 'not_found', `no route ${request.method} ${path}: see docs/api.md`).body);
  });

  for (const module of options.routes ?? ROUTE_MODULES) module.register(app, context);
  return app;
}
