/**
 * What every Kafka API handler (apis/NN-name.ts) gets: the same store, topic access, authenticator and limits as
 * the HTTP routes, the cluster view it advertises, and the connection's session. A handler validates its request,
 * does the work through those, and writes its response body; it never touches the socket (connection.ts does).
 */
import type { Logger } from '../../shared/logger.ts';
import { isValidName } from '../../shared/names.ts';
import type { CollectorOptions, KafkaListenerOptions, Role } from '../config.ts';
import { type Authenticator, type Principal, roleAllows } from '../http/auth.ts';
import type { TopicAccess } from '../produce/topic-access.ts';
import type { KafkaListenerMetrics } from '../metrics.ts';
import type { ProducePath } from '../produce/produce.ts';
import type { LogStore } from '../storage/log-store.ts';
import type { FetchMemoryPool } from '../storage/fetch-memory.ts';
import type { KafkaReader, KafkaWriter } from './codec/primitives.ts';
import type { FetchAhead } from './fetch-ahead.ts';
import type { KafkaGroups } from './groups.ts';
import type { ProducerRegistry } from './producers.ts';
import { ErrorCode } from './protocol.ts';

/** A Kafka broker as clients see it: where to connect for a partition or a group. */
export interface Broker {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

/** Which brokers exist and which one coordinates a group (one collector; several on JetStream). */
export interface ClusterView {
  self(): Broker;
  brokers(): Promise<readonly Broker[]>;
  coordinatorFor(group: string): Promise<Broker>;
}

export interface KafkaRequestHeader {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
}

/** Per connection: who authenticated (SASL) and what the client said it is. */
export interface KafkaSession {
  principal: Principal | undefined;
  /** The mechanism chosen by SaslHandshake, awaiting SaslAuthenticate. */
  saslMechanism: string | undefined;
  /** After a v0 SaslHandshake: the next frame is the bare SASL token, not a request. */
  bareSaslToken: boolean;
  readonly remoteAddress: string;
  /** What is read ahead for this connection's next Fetch (fetch-ahead.ts). */
  readonly fetchAhead: FetchAhead;
}

export interface KafkaContext {
  /** The collector's one produce path (collector/produce/): the same checks, limits and metrics as HTTP. */
  readonly produce: ProducePath;
  readonly producers: ProducerRegistry;
  /** Kafka consumer groups coordinated by this collector (groups.ts). */
  readonly groups: KafkaGroups;
  readonly store: LogStore;
  /** The collector's reused memory for fetch answers (storage/fetch-memory.ts). */
  readonly fetchMemory: FetchMemoryPool;
  readonly topics: TopicAccess;
  readonly collector: CollectorOptions;
  readonly listener: KafkaListenerOptions;
  readonly auth: Authenticator;
  readonly metrics: KafkaListenerMetrics;
  cluster: ClusterView;
  readonly logger: Logger;
  /** Aborts when the collector shuts down: long-polling fetches answer at once. */
  readonly shutdownSignal: AbortSignal;
}

export interface KafkaRequest {
  readonly header: KafkaRequestHeader;
  /** Positioned at the start of the request body. */
  readonly body: KafkaReader;
  readonly session: KafkaSession;
  /** Counts an error code answered in this request (per partition or resource). */
  countError(code: number): void;
}

export interface KafkaApi {
  readonly key: number;
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** Answered before SASL authentication completes (ApiVersions, SaslHandshake, SaslAuthenticate). */
  readonly beforeAuthentication?: boolean;
  /** The response body, or undefined for a request that gets no answer (Produce with acks=0). */
  handle(request: KafkaRequest, ctx: KafkaContext): Promise<KafkaWriter | undefined>;
}

const ANONYMOUS: Principal = { name: 'anonymous', role: 'admin' };

/** Who the connection acts as: its SASL principal, or anonymous (admin) when the collector has no tokens. */
export function principalOf(ctx: KafkaContext, session: KafkaSession): Principal | undefined {
  return ctx.auth.enabled ? session.principal : ANONYMOUS;
}

/** True when the connection may do what `role` allows (always, when the collector has no tokens). */
export function mayDo(ctx: KafkaContext, session: KafkaSession, role: Role): boolean {
  if (!ctx.auth.enabled) return true;
  return session.principal !== undefined && roleAllows(session.principal.role, role);
}

/** True when this collector coordinates `group` (always, alone); otherwise the client gets NOT_COORDINATOR. */
export async function coordinates(ctx: KafkaContext, group: string): Promise<boolean> {
  return (await ctx.cluster.coordinatorFor(group)).nodeId === ctx.cluster.self().nodeId;
}

/**
 * Why a group request is refused before its work: INVALID_GROUP_ID, GROUP_AUTHORIZATION_FAILED (the read role),
 * and, for the requests only the coordinator serves (`coordinated`), NOT_COORDINATOR; 0 when none applies.
 */
export async function groupRefusal(
  ctx: KafkaContext,
  session: KafkaSession,
  group: string,
  coordinated: boolean,
): Promise<number> {
  if (!isValidName(group)) return ErrorCode.INVALID_GROUP_ID;
  if (!mayDo(ctx, session, 'read')) return ErrorCode.GROUP_AUTHORIZATION_FAILED;
  if (coordinated && !(await coordinates(ctx, group))) return ErrorCode.NOT_COORDINATOR;
  return 0;
}

/**
 * The fields a member's group request starts with (OffsetCommit, Heartbeat, SyncGroup): the group, the generation,
 * the member id, and from `instanceIdFrom` on the static member's group_instance_id (read and ignored).
 */
export function readMemberFields(
  r: KafkaReader,
  version: number,
  instanceIdFrom: number,
): { group: string; generation: number; memberId: string } {
  const group = r.string();
  const generation = r.int32();
  const memberId = r.string();
  if (version >= instanceIdFrom) r.nullableString();
  return { group, generation, memberId };
}
