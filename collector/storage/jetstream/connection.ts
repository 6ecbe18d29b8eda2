/**
 * The JetStream backend's session with NATS: one connection, its JetStream API handles and the three KV buckets,
 * opened in that order, with every failure reported as a NATS problem naming the servers (never as a data
 * directory: this backend has none).
 *
 * - The connection reconnects forever (shared/nats-connection.ts); its connects, disconnects and reconnects are
 *   logged once each with the server.
 * - A fresh cluster has no JetStream meta leader for a few seconds, so the first JetStream calls are retried for a
 *   bounded time (`READY_DEADLINE_MS`) before the error is reported.
 * - The buckets are opened with `allow_direct` off: a direct get may be answered by a follower that has not applied
 *   the latest write yet; reads through the stream leader see every acknowledged write (read-your-writes for
 *   offsets and groups, and revision checks that do not spin on a stale value).
 * - Before a bucket is created the checks at start run (cluster-checks.ts): they may refuse to open.
 */
import { connect, type JetStreamClient, type JetStreamManager, type KV, type NatsConnection, NatsError } from 'nats';
import { ConfigError, UnavailableError } from '../../../shared/errors.ts';
import type { Logger } from '../../../shared/logger.ts';
import {
  type NatsConnectionSettings,
  natsConnectionOptions,
  watchNatsStatus,
} from '../../../shared/nats-connection.ts';
import { GROUPS_BUCKET, OFFSETS_BUCKET, TOPICS_BUCKET } from './names.ts';

/** How long the first JetStream calls are retried while a cluster elects its meta leader. */
const READY_DEADLINE_MS = 60_000;

export interface JetStreamSession {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly js: JetStreamClient;
  readonly topicsKv: KV;
  readonly offsetsKv: KV;
  readonly groupsKv: KV;
  /** The servers as configured, for messages ("NATS at nats://a:4222, nats://b:4222"). */
  readonly servers: string;
}

export interface OpenSessionOptions {
  readonly connection: NatsConnectionSettings;
  /** Connection name shown by the server. */
  readonly name: string;
  readonly replicas: number;
  /** Per JetStream request. */
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** Runs once JetStream answers, before any bucket is created; throwing refuses the open. */
  readonly beforeBuckets?: (nc: NatsConnection, jsm: JetStreamManager) => Promise<void>;
}

/** "NATS at nats://a:4222, nats://b:4222". */
export function describeServers(servers: readonly string[]): string {
  return `NATS at ${servers.join(', ')}`;
}

export async function openSession(options: OpenSessionOptions): Promise<JetStreamSession> {
  const servers = describeServers(options.connection.servers);
  let nc: NatsConnection;
  try {
    nc = await connect(natsConnectionOptions(options.connection, { name: options.name, timeoutMs: options.timeoutMs }));
  } catch (error) {
    throw new UnavailableError(
      `cannot reach ${servers}: ${(error as Error).message} ` +
        '(is nats-server running and listening there? check nats.servers, and nats.token/credentials_file/tls)',
      { cause: error },
    );
  }
  watchNatsStatus(nc, options.logger, options.name);
  try {
    const js = nc.jetstream({ timeout: options.timeoutMs });
    const jsm = await retryUntilReady(() => nc.jetstreamManager({ timeout: options.timeoutMs }));
    await options.beforeBuckets?.(nc, jsm);
    const bucket = { replicas: options.replicas, history: 1, allow_direct: false };
    const [topicsKv, offsetsKv, groupsKv] = await retryUntilReady(async () => [
      await js.views.kv(TOPICS_BUCKET, bucket),
      await js.views.kv(OFFSETS_BUCKET, bucket),
      await js.views.kv(GROUPS_BUCKET, bucket),
    ]);
    return { nc, jsm, js, topicsKv, offsetsKv, groupsKv, servers };
  } catch (error) {
    await nc.close();
    if (error instanceof UnavailableError || error instanceof ConfigError) throw error;
    throw new UnavailableError(
      `${servers} answered, but JetStream did not: ${(error as Error).message} ` +
        '(is JetStream enabled on every server, `jetstream {}` in its config, and does the cluster have a leader?)',
      { cause: error },
    );
  }
}

async function retryUntilReady<T>(fn: () => Promise<T>, deadlineMs = READY_DEADLINE_MS): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * A failure of NATS itself (no answer, no stream leader, connection closed) as an UnavailableError naming the servers
 * and what was being done, so the API answers 503 (retry) with a message that says where the problem is; anything
 * else (our own errors, bugs) as it came.
 */
export function asNatsUnavailable(error: unknown, servers: string, doing: string): unknown {
  if (!(error instanceof NatsError)) return error;
  return new UnavailableError(`${doing}: ${servers} did not serve it: ${error.message}; retry`, { cause: error });
}
