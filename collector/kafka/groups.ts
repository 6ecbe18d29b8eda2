/**
 * Kafka consumer groups (the classic protocol, client-side assignment): members join with their protocols'
 * metadata, the group waits until every known member has (re)joined or the rebalance timeout passes, then starts a
 * new generation, picks a protocol every member supports and a leader, and answers every JoinGroup (the leader
 * with all members' metadata). The leader computes the assignment and sends it in its SyncGroup; every member's
 * SyncGroup is answered with its part. Heartbeats answer REBALANCE_IN_PROGRESS (27) while a rebalance is under way
 * (the member rejoins), ILLEGAL_GENERATION for an old generation, UNKNOWN_MEMBER_ID for a removed member; a member
 * silent past its session timeout is removed and the group rebalances. Commits are fenced the same way.
 *
 * The state machine runs in memory on the collector that coordinates the group (FindCoordinator sends every member
 * of a group to the same collector). What people and dashboards see goes to the shared MembershipStore as each
 * generation becomes stable and on heartbeats: members (ids prefixed `kafka-`), client ids, subscribed topics and
 * the partitions the leader assigned, so `tributary groups describe` and the group metrics show Kafka consumers.
 * A group whose stored members came from our HTTP protocol is refused (INCONSISTENT_GROUP_PROTOCOL), and the HTTP
 * coordinator refuses a group with `kafka-` members: one group, one protocol at a time.
 */
import { randomUUID } from 'node:crypto';
import type { GroupMember, MembershipStore, TopicPartition } from '../storage/log-store.ts';
import { KafkaReader } from './codec/primitives.ts';
import { ErrorCode } from './protocol.ts';

export const KAFKA_MEMBER_PREFIX = 'kafka-';
/** A group with no members yet waits this long for more joiners before its first generation (Kafka: 3 s). */
const INITIAL_JOIN_DELAY_MS = 500;

export interface JoinProtocol {
  readonly name: string;
  readonly metadata: Buffer;
}

export interface JoinRequest {
  readonly memberId: string;
  readonly clientId: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly protocolType: string;
  readonly protocols: readonly JoinProtocol[];
}

export interface JoinAnswer {
  readonly errorCode: number;
  readonly generation: number;
  readonly protocolName: string;
  readonly leader: string;
  readonly memberId: string;
  /** Every member's metadata for the chosen protocol: the leader's answer only. */
  readonly members: readonly { readonly memberId: string; readonly metadata: Buffer }[];
}

export interface SyncAnswer {
  readonly errorCode: number;
  readonly assignment: Buffer;
}

interface Member {
  readonly memberId: string;
  clientId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocols: readonly JoinProtocol[];
  assignment: Buffer;
  lastHeartbeatMs: number;
  /** Set while the member waits in JoinGroup for the rebalance to complete. */
  pendingJoin: ((answer: JoinAnswer) => void) | undefined;
  /** Set while the member waits in SyncGroup for the leader's assignment. */
  pendingSync: ((answer: SyncAnswer) => void) | undefined;
}

type GroupState = 'empty' | 'preparing' | 'completing' | 'stable';

/** Kafka's names for the group states (DescribeGroups). */
const STATE_NAMES: Record<GroupState, string> = {
  empty: 'Empty',
  preparing: 'PreparingRebalance',
  completing: 'CompletingRebalance',
  stable: 'Stable',
};

export interface GroupDescription {
  readonly state: string;
  readonly protocolType: string;
  readonly protocolName: string;
  readonly members: readonly {
    readonly memberId: string;
    readonly clientId: string;
    readonly metadata: Buffer;
    readonly assignment: Buffer;
  }[];
}

interface Group {
  readonly name: string;
  state: GroupState;
  generation: number;
  protocolType: string;
  protocolName: string;
  leader: string;
  readonly members: Map<string, Member>;
  rebalanceTimer: NodeJS.Timeout | undefined;
  /** A new group waits out INITIAL_JOIN_DELAY_MS so that members starting together share the first generation. */
  initialDelay: boolean;
}

const EMPTY = Buffer.alloc(0);

export class KafkaGroups {
  private readonly groups = new Map<string, Group>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly membership: MembershipStore,
    private readonly now: () => number = Date.now,
  ) {
    this.sweeper = setInterval(() => this.expire(), 500);
    this.sweeper.unref();
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const group of this.groups.values()) clearTimeout(group.rebalanceTimer);
  }

  async join(groupName: string, request: JoinRequest): Promise<JoinAnswer> {
    const fail = (errorCode: number, memberId = request.memberId): JoinAnswer => failedJoin(errorCode, memberId);
    if (request.protocols.length === 0 || request.protocolType === '') {
      return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    if (await this.usedByHttp(groupName)) return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    let group = this.groups.get(groupName);
    if (group === undefined) {
      group = {
        name: groupName,
        state: 'empty',
        generation: 0,
        protocolType: request.protocolType,
        protocolName: '',
        leader: '',
        members: new Map(),
        rebalanceTimer: undefined,
        initialDelay: false,
      };
      this.groups.set(groupName, group);
    }
    if (group.members.size > 0 && group.protocolType !== request.protocolType) {
      return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    if (
      group.members.size > 0 &&
      !request.protocols.some((p) =>
        [...group.members.values()].every((m) => m.protocols.some((q) => q.name === p.name)),
      )
    ) {
      return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    let member = request.memberId === '' ? undefined : group.members.get(request.memberId);
    if (request.memberId !== '' && member === undefined) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    if (member === undefined) {
      member = {
        memberId: `${KAFKA_MEMBER_PREFIX}${safeId(request.clientId)}-${randomUUID()}`,
        clientId: request.clientId,
        sessionTimeoutMs: request.sessionTimeoutMs,
        rebalanceTimeoutMs: request.rebalanceTimeoutMs,
        protocols: request.protocols,
        assignment: EMPTY,
        lastHeartbeatMs: this.now(),
        pendingJoin: undefined,
        pendingSync: undefined,
      };
      group.members.set(member.memberId, member);
    } else {
      member.clientId = request.clientId;
      member.sessionTimeoutMs = request.sessionTimeoutMs;
      member.rebalanceTimeoutMs = request.rebalanceTimeoutMs;
      member.protocols = request.protocols;
      member.lastHeartbeatMs = this.now();
    }
    group.protocolType = request.protocolType;
    const joined = member;
    const answer = new Promise<JoinAnswer>((resolve) => {
      joined.pendingJoin?.(fail(ErrorCode.REBALANCE_IN_PROGRESS, joined.memberId));
      joined.pendingJoin = resolve;
    });
    this.prepareRebalance(group);
    this.maybeCompleteJoin(group);
    return await answer;
  }

  async sync(
    groupName: string,
    generation: number,
    memberId: string,
    assignments: readonly { memberId: string; assignment: Buffer }[],
  ): Promise<SyncAnswer> {
    const group = this.groups.get(groupName);
    const member = group?.members.get(memberId);
    if (group === undefined || member === undefined)
      return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY };
    if (generation !== group.generation) return { errorCode: ErrorCode.ILLEGAL_GENERATION, assignment: EMPTY };
    member.lastHeartbeatMs = this.now();
    if (group.state === 'preparing') return { errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY };
    if (group.state === 'stable') return { errorCode: 0, assignment: member.assignment };
    const answer = new Promise<SyncAnswer>((resolve) => {
      member.pendingSync?.({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY });
      member.pendingSync = resolve;
    });
    if (memberId === group.leader) {
      const byMember = new Map(assignments.map((a) => [a.memberId, a.assignment]));
      for (const m of group.members.values()) m.assignment = byMember.get(m.memberId) ?? EMPTY;
      group.state = 'stable';
      for (const m of group.members.values()) {
        m.pendingSync?.({ errorCode: 0, assignment: m.assignment });
        m.pendingSync = undefined;
      }
      await this.publish(group);
    }
    return await answer;
  }

  heartbeat(groupName: string, generation: number, memberId: string): number {
    const group = this.groups.get(groupName);
    const member = group?.members.get(memberId);
    if (group === undefined || member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    member.lastHeartbeatMs = this.now();
    if (group.state === 'preparing') return ErrorCode.REBALANCE_IN_PROGRESS;
    if (generation !== group.generation) return ErrorCode.ILLEGAL_GENERATION;
    if (group.state === 'stable') void this.touch(group);
    return 0;
  }

  leave(groupName: string, memberId: string): number {
    const group = this.groups.get(groupName);
    const member = group?.members.get(memberId);
    if (group === undefined || member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.remove(group, member);
    return 0;
  }

  /**
   * Whether a commit from (memberId, generation) may be written: 0, or the error code. generation -1 with no
   * member id is a standalone consumer (kcat, assign()): allowed while the group has no Kafka members.
   */
  async checkCommit(groupName: string, memberId: string, generation: number): Promise<number> {
    if (await this.usedByHttp(groupName)) return ErrorCode.INCONSISTENT_GROUP_PROTOCOL;
    const group = this.groups.get(groupName);
    if (generation < 0 && memberId === '') {
      return group !== undefined && group.members.size > 0 ? ErrorCode.UNKNOWN_MEMBER_ID : 0;
    }
    const member = group?.members.get(memberId);
    if (group === undefined || member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generation !== group.generation) return ErrorCode.ILLEGAL_GENERATION;
    if (group.state === 'preparing') return ErrorCode.REBALANCE_IN_PROGRESS;
    member.lastHeartbeatMs = this.now();
    return 0;
  }

  /** For DescribeGroups: a group coordinated here, as Kafka describes it; undefined if it has no Kafka state. */
  describe(groupName: string): GroupDescription | undefined {
    const group = this.groups.get(groupName);
    if (group === undefined) return undefined;
    const metadataOf = (m: Member) => m.protocols.find((p) => p.name === group.protocolName)?.metadata ?? EMPTY;
    return {
      state: STATE_NAMES[group.state],
      protocolType: group.protocolType,
      protocolName: group.state === 'empty' ? '' : group.protocolName,
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        clientId: m.clientId,
        metadata: metadataOf(m),
        assignment: m.assignment,
      })),
    };
  }

  /** The names of the groups coordinated here. */
  list(): string[] {
    return [...this.groups.keys()];
  }

  private async usedByHttp(groupName: string): Promise<boolean> {
    const stored = await this.membership.get(groupName);
    const now = this.now();
    return (stored?.members ?? []).some(
      (m) => !m.memberId.startsWith(KAFKA_MEMBER_PREFIX) && now - m.lastHeartbeatMs <= m.sessionTimeoutMs,
    );
  }

  private prepareRebalance(group: Group): void {
    if (group.state === 'preparing') return;
    const wasEmpty = group.state === 'empty' || group.generation === 0;
    group.state = 'preparing';
    for (const m of group.members.values()) {
      m.pendingSync?.({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY });
      m.pendingSync = undefined;
    }
    const timeout = wasEmpty
      ? INITIAL_JOIN_DELAY_MS
      : Math.max(...[...group.members.values()].map((m) => m.rebalanceTimeoutMs), 1000);
    clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = setTimeout(() => this.completeJoin(group, true), timeout);
    group.rebalanceTimer.unref();
    group.initialDelay = wasEmpty;
  }

  private maybeCompleteJoin(group: Group): void {
    if (group.state !== 'preparing' || group.initialDelay) return;
    if ([...group.members.values()].every((m) => m.pendingJoin !== undefined)) this.completeJoin(group, false);
  }

  private completeJoin(group: Group, timedOut: boolean): void {
    if (group.state !== 'preparing') return;
    group.initialDelay = false;
    clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = undefined;
    if (timedOut) {
      // Members that did not rejoin in time are out.
      for (const m of [...group.members.values()]) if (m.pendingJoin === undefined) group.members.delete(m.memberId);
    }
    if (![...group.members.values()].every((m) => m.pendingJoin !== undefined)) {
      this.prepareRebalance(group);
      return;
    }
    if (group.members.size === 0) {
      this.toEmpty(group);
      return;
    }
    group.generation++;
    const members = [...group.members.values()];
    if (!group.members.has(group.leader)) group.leader = members[0]!.memberId;
    const leader = group.members.get(group.leader)!;
    group.protocolName =
      leader.protocols.find((p) => members.every((m) => m.protocols.some((q) => q.name === p.name)))?.name ??
      leader.protocols[0]!.name;
    group.state = 'completing';
    for (const m of members) {
      m.assignment = EMPTY;
      const metadataOf = (x: Member) => x.protocols.find((p) => p.name === group.protocolName)?.metadata ?? EMPTY;
      m.pendingJoin?.({
        errorCode: 0,
        generation: group.generation,
        protocolName: group.protocolName,
        leader: group.leader,
        memberId: m.memberId,
        members:
          m.memberId === group.leader ? members.map((x) => ({ memberId: x.memberId, metadata: metadataOf(x) })) : [],
      });
      m.pendingJoin = undefined;
      m.lastHeartbeatMs = this.now();
    }
  }

  private remove(group: Group, member: Member): void {
    group.members.delete(member.memberId);
    member.pendingJoin?.({
      errorCode: ErrorCode.UNKNOWN_MEMBER_ID,
      generation: -1,
      protocolName: '',
      leader: '',
      memberId: member.memberId,
      members: [],
    });
    member.pendingSync?.({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY });
    if (group.members.size === 0) this.toEmpty(group);
    else {
      this.prepareRebalance(group);
      this.maybeCompleteJoin(group);
    }
  }

  private toEmpty(group: Group): void {
    clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = undefined;
    group.state = 'empty';
    group.leader = '';
    void this.publish(group);
  }

  private expire(): void {
    const now = this.now();
    for (const group of this.groups.values()) {
      for (const m of [...group.members.values()]) {
        // A member waiting in JoinGroup is alive by definition; the rebalance timeout covers it.
        if (m.pendingJoin === undefined && now - m.lastHeartbeatMs > m.sessionTimeoutMs) this.remove(group, m);
      }
      if (group.state === 'empty' && group.members.size === 0) this.groups.delete(group.name);
    }
  }

  /** Heartbeats keep the stored members fresh, at most once per third of a session timeout. */
  private lastPublished = new Map<string, number>();

  private async touch(group: Group): Promise<void> {
    const min = Math.min(...[...group.members.values()].map((m) => m.sessionTimeoutMs)) / 3;
    if (this.now() - (this.lastPublished.get(group.name) ?? 0) < min) return;
    await this.publish(group);
  }

  /** Writes the group's current generation to the MembershipStore (for describe, metrics, dashboards). */
  private async publish(group: Group): Promise<void> {
    this.lastPublished.set(group.name, this.now());
    const now = this.now();
    const members: GroupMember[] =
      group.state === 'stable'
        ? [...group.members.values()].map((m) => ({
            memberId: m.memberId,
            clientId: safeId(m.clientId),
            topics: subscribedTopics(m.protocols.find((p) => p.name === group.protocolName)?.metadata),
            sessionTimeoutMs: m.sessionTimeoutMs,
            lastHeartbeatMs: now,
            assignment: assignedPartitions(m.assignment),
          }))
        : [];
    try {
      await this.membership.update(group.name, (current) => {
        // Never overwrite a group our HTTP protocol is using.
        if (current?.members.some((m) => !m.memberId.startsWith(KAFKA_MEMBER_PREFIX))) {
          return { next: 'unchanged', result: undefined };
        }
        return {
          next: members.length === 0 ? undefined : { generation: group.generation, members },
          result: undefined,
        };
      });
    } catch {
      // Display only: the next heartbeat publishes again.
    }
  }
}

/** A client id as our names allow it (member ids and client ids appear in KV keys and logs). */
function safeId(clientId: string): string {
  const cleaned = clientId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100);
  return cleaned === '' || cleaned === '.' || cleaned === '..' ? 'consumer' : cleaned;
}

/** The topics of a consumer protocol subscription (version int16, topics [string], user data). */
function subscribedTopics(metadata: Buffer | undefined): string[] {
  if (!metadata || metadata.length < 2) return [];
  try {
    const r = new KafkaReader(metadata);
    r.int16();
    return r.array((r) => r.string(), 2);
  } catch {
    return [];
  }
}

/** The partitions of a consumer protocol assignment (version int16, [topic string, [int32]], user data). */
function assignedPartitions(assignment: Buffer): TopicPartition[] {
  if (assignment.length < 2) return [];
  try {
    const r = new KafkaReader(assignment);
    r.int16();
    return r
      .array((r) => ({ topic: r.string(), partitions: r.array((r) => r.int32(), 4) }), 6)
      .flatMap((t) => t.partitions.map((partition) => ({ topic: t.topic, partition })));
  } catch {
    return [];
  }
}

/** The JoinGroup answer of a refusal: the error, no generation, no members. */
export function failedJoin(errorCode: number, memberId: string): JoinAnswer {
  return { errorCode, generation: -1, protocolName: '', leader: '', memberId, members: [] };
}
