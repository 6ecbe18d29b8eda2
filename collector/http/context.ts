/**
 * What every route module gets: the store, the options, metrics, the logger, topic access and the lifecycle.
 * A route module registers its routes on the fastify instance and declares, per route, the role it needs in
 * `config.role` (no role: public, e.g. /healthz). Add a module by listing it in routes/index.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../../shared/logger.ts';
import type { CollectorOptions, Role } from '../config.ts';
import type { CollectorMetrics } from '../metrics.ts';
import type { LogStore } from '../storage/log-store.ts';
import type { Authenticator } from './auth.ts';
import type { TopicAccess } from './topic-access.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The role a caller needs; undefined: no authentication (health, readiness, metrics). */
    role?: Role;
  }
}

export interface Lifecycle {
  /** True once storage is recovered and open, false again when shutdown begins. */
  readonly ready: boolean;
  /** Aborts when shutdown begins: long-polls answer at once instead of holding the shutdown up. */
  readonly shutdownSignal: AbortSignal;
}

/**
 * Points where one route module lets another take part in its requests, set during registration. Membership sets
 * `checkCommit` so an offset commit from a stale generation is refused (409) before anything is written.
 */
export interface RouteHooks {
  checkCommit?: (group: string, memberId: string | undefined, generationId: number | undefined) => void | Promise<void>;
}

export interface RouteContext {
  readonly store: LogStore;
  readonly options: CollectorOptions;
  readonly metrics: CollectorMetrics;
  readonly logger: Logger;
  readonly topics: TopicAccess;
  readonly lifecycle: Lifecycle;
  readonly hooks: RouteHooks;
  /** For routes that need the caller's identity itself (whoami), beyond the role check of `config.role`. */
  readonly auth: Authenticator;
}

export interface RouteModule {
  /** For logs and errors: "produce", "fetch", … */
  readonly name: string;
  register(app: FastifyInstance, context: RouteContext): void;
}
