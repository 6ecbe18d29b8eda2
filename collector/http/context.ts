/**
 * What every route module gets: the store, the options, metrics, the logger, topic access, the produce path, the
 * group coordinator and the lifecycle.
 * A route module registers its routes on the fastify instance and declares, per route, the role it needs in
 * `config.role` (no role: public, e.g. /healthz). Add a module by listing it in routes/index.ts.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { UnauthenticatedError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import type { CollectorOptions, Role } from '../config.ts';
import type { GroupCoordinator } from '../groups/group-coordinator.ts';
import type { CollectorMetrics } from '../metrics.ts';
import type { ProducePath } from '../produce/produce.ts';
import type { TopicAccess } from '../produce/topic-access.ts';
import type { FetchMemoryPool } from '../storage/fetch-memory.ts';
import type { LogStore } from '../storage/log-store.ts';
import type { Authenticator, Principal } from './auth.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The role a caller needs; undefined: no authentication (health, readiness, metrics). */
    role?: Role;
  }
  interface FastifyRequest {
    /** Who is calling, set by server.ts's onRequest hook on routes that declare a role; null on public routes. */
    principal: Principal | null;
  }
}

/** The authenticated caller of a route that declares a role. */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null)
    throw new UnauthenticatedError('this route declares no role: nobody is authenticated');
  return request.principal;
}

export interface Lifecycle {
  /** True once storage is recovered and open, false again when shutdown begins. */
  readonly ready: boolean;
  /** Aborts when shutdown begins: long-polls answer at once instead of holding the shutdown up. */
  readonly shutdownSignal: AbortSignal;
}

export interface RouteContext {
  readonly store: LogStore;
  readonly options: CollectorOptions;
  readonly metrics: CollectorMetrics;
  readonly logger: Logger;
  readonly topics: TopicAccess;
  /** The one produce path (also used by NATS ingest and the other front ends). */
  readonly produce: ProducePath;
  /** Consumer group membership and commit fencing (collector/groups), wired by collector.ts. */
  readonly groups: GroupCoordinator;
  readonly lifecycle: Lifecycle;
  /** For routes that need the caller's identity itself (whoami), beyond the role check of `config.role`. */
  readonly auth: Authenticator;
  /** Reused memory for fetch answers (storage/fetch-memory.ts), shared with the Kafka listener. */
  readonly fetchMemory: FetchMemoryPool;
}

export interface RouteModule {
  /** For logs and errors: "produce", "fetch", … */
  readonly name: string;
  register(app: FastifyInstance, context: RouteContext): void;
}
