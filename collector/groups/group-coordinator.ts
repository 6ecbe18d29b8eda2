/**
 * The consumer group coordinator: members join a group for a set of topics, get partitions assigned (range
 * assignment), and heartbeat; a member that leaves or misses its session timeout is removed. Every change of
 * membership starts a new generation with a new assignment.
 *
 * Protocol (eager rebalance with generation fencing, docs/consumers.md):
 * - join → member id, generation, this member's partitions, the heartbeat interval.
 * - heartbeat(generation) → ok while the generation is current; `rebalance_in_progress` once the group has moved
 *   on (the member joins again, with its member id, and gets its new partitions); `unknown_member` once it was
 *   removed (it joins again as a new member).
 * - commits carry (member id, generation): one from an older generation is refused with `stale_generation`, so a
 *   member that has not yet noticed a rebalance cannot overwrite the progress of its partitions' new owner.
 * Between a rebalance and the old owner's next heartbeat, both may read a partition: delivery is at-least-once,
 * never at-most-once, because a partition's new owner starts from the last commit that was accepted.
 *
 * State lives in a MembershipStore (in memory for the file backend, a KV bucket for JetStream, where several
 * collectors coordinate through revision-checked writes). Every decision below is a pure function of the stored
 * membership and the clock, so it can be recomputed when a concurrent writer wins.
 */
import { randomUUID } from 'node:crypto';
import {
  GroupNotEmptyError,
  InvalidArgumentError,
  RebalanceInProgressError,
  StaleGenerationError,
  TopicNotFoundError,
  UnknownMemberError,
} from '../../shared/errors.ts';
import { assertValidName } from '../../shared/names.ts';
import type { TimestampMs } from '../../shared/record.ts';
import type {
  GroupMember,
  GroupMembership,
  MembershipChange,
  MembershipStore,
  TopicPartition,
} from '../storage/log-store.ts';
import { assignRanges } from './range-assignor.ts';

export interface SessionTimeoutLimits {
  readonly defaultMs: number;
  readonly minMs: number;
  readonly maxMs: number;
}

export const DEFAULT_SESSION_TIMEOUTS: SessionTimeoutLimits = { defaultMs: 10_000, minMs: 1_000, maxMs: 300_000 };

/** Why a group moved to a new generation: for logs and the rebalance metric. */
export type RebalanceReason = 'join' | 'leave' | 'expired' | 'subscription';

export interface GroupEvents {
  rebalanced?(group: string, generation: number, reason: RebalanceReason, members: number): void;
}

export interface GroupCoordinatorOptions {
  readonly membership: MembershipStore;
  /** The partition count of a topic; throws TopicNotFoundError for a topic that does not exist. */
  readonly partitionsFor: (topic: string) => Promise<number>;
  readonly sessionTimeouts?: SessionTimeoutLimits;
  readonly events?: GroupEvents;
  readonly now?: () => TimestampMs;
}

export interface JoinRequest {
  /** The id from an earlier join; absent (or no longer in the group) → a new member. */
  readonly memberId?: string;
  readonly clientId?: string;
  readonly topics: readonly string[];
  readonly sessionTimeoutMs?: number;
}

export interface JoinResult {
  readonly memberId: string;
  readonly generation: number;
  readonly assignment: readonly TopicPartition[];
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly memberCount: number;
}

/** Heartbeats come three times per session timeout, as Kafka advises: two may be lost before the member is. */
export function heartbeatIntervalFor(sessionTimeoutMs: number): number {
  return Math.max(100, Math.floor(sessionTimeoutMs / 3));
}

/** At most this many topics per member subscription: the assignment is stored and sent on every join. */
const MAX_TOPICS_PER_MEMBER = 100;

interface Rebuilt {
  readonly membership: GroupMembership;
  /** Topics whose partition count was not known when the change was computed: fetch, then compute again. */
  readonly unknownTopics: readonly string[];
}

export class GroupCoordinator {
  private readonly membership: MembershipStore;
  private readonly partitionsFor: (topic: string) => Promise<number>;
  private readonly timeouts: SessionTimeoutLimits;
  private readonly events: GroupEvents;
  private readonly now: () => TimestampMs;

  constructor(options: GroupCoordinatorOptions) {
    this.membership = options.membership;
    this.partitionsFor = options.partitionsFor;
    this.timeouts = options.sessionTimeouts ?? DEFAULT_SESSION_TIMEOUTS;
    this.events = options.events ?? {};
    this.now = options.now ?? Date.now;
  }

  async join(group: string, request: JoinRequest): Promise<JoinResult> {
    assertValidName('group', group);
    const topics = [...new Set(request.topics)].sort();
    if (topics.length === 0) throw new InvalidArgumentError('a member must subscribe to at least one topic');
    if (topics.length > MAX_TOPICS_PER_MEMBER) {
      throw new InvalidArgumentError(`a member may subscribe to at most ${MAX_TOPICS_PER_MEMBER} topics`);
    }
    for (const topic of topics) assertValidName('topic', topic);
    if (request.clientId !== undefined) {
      assertValidName('client id', request.clientId);
      if (request.clientId.length > 100) throw new InvalidArgumentError('a client id has at most 100 characters');
    }
    const sessionTimeoutMs = request.sessionTimeoutMs ?? this.timeouts.defaultMs;
    if (
      !Number.isInteger(sessionTimeoutMs) ||
      sessionTimeoutMs < this.timeouts.minMs ||
      sessionTimeoutMs > this.timeouts.maxMs
    ) {
      throw new InvalidArgumentError(
        `session_timeout_ms ${sessionTimeoutMs} is outside the collector's range ` +
          `[${this.timeouts.minMs}, ${this.timeouts.maxMs}]`,
      );
    }
    // One group, one protocol: members that joined through the Kafka listener (collector/kafka/groups.ts) own it.
    const stored = await this.membership.get(group);
    const kafkaMembers = liveMembers(stored, this.now()).members.filter((m) => m.memberId.startsWith('kafka-'));
    if (kafkaMembers.length > 0) {
      throw new GroupNotEmptyError(
        `group ${group} is in use by ${kafkaMembers.length} Kafka protocol consumer(s): a group is used through ` +
          'one protocol at a time; pick another group name, or stop the Kafka consumers first',
      );
    }
    // The subscribed topics must exist now (404 otherwise); their partition counts seed the assignment.
    const counts = new Map<string, number>();
    for (const topic of topics) counts.set(topic, await this.partitionsFor(topic));
    const newMemberId = `${request.clientId ?? 'consumer'}-${randomUUID()}`;

    return this.change(group, counts, (current, now) => {
      const live = liveMembers(current, now);
      const existing = request.memberId ? live.members.find((m) => m.memberId === request.memberId) : undefined;
      const memberId = existing?.memberId ?? newMemberId;
      const member: GroupMember = {
        memberId,
        clientId: request.clientId ?? existing?.clientId ?? 'consumer',
        topics,
        sessionTimeoutMs,
        lastHeartbeatMs: now,
        assignment: existing?.assignment ?? [],
      };
      const sameSubscription =
        existing !== undefined &&
        existing.topics.join('\0') === topics.join('\0') &&
        existing.sessionTimeoutMs === sessionTimeoutMs;
      const others = live.members.filter((m) => m.memberId !== memberId);
      if (sameSubscription && live.expired.length === 0) {
        // A member rejoining after a rebalance, or repeating its join: same generation, fresh heartbeat.
        const next = { generation: current!.generation, members: [...others, member] };
        return { next, answer: next, memberId, reason: undefined };
      }
      const reason: RebalanceReason = existing === undefined ? 'join' : sameSubscription ? 'expired' : 'subscription';
      return { next: 'rebuild', members: [...others, member], memberId, reason, generation: current?.generation };
    }).then(({ membership, memberId }) => {
      const member = membership.members.find((m) => m.memberId === memberId)!;
      return {
        memberId,
        generation: membership.generation,
        assignment: member.assignment,
        sessionTimeoutMs: member.sessionTimeoutMs,
        heartbeatIntervalMs: heartbeatIntervalFor(member.sessionTimeoutMs),
        memberCount: membership.members.length,
      };
    });
  }

  async heartbeat(group: string, memberId: string, generation: number): Promise<{ generation: number }> {
    assertValidName('group', group);
    const { membership } = await this.change(group, new Map(), (current, now) => {
      const live = liveMembers(current, now);
      const member = live.members.find((m) => m.memberId === memberId);
      if (member === undefined) throw unknownMember(group, memberId);
      const members = live.members.map((m) => (m.memberId === memberId ? { ...m, lastHeartbeatMs: now } : m));
      if (live.expired.length > 0) {
        return { next: 'rebuild', members, memberId, reason: 'expired', generation: current?.generation };
      }
      if (current!.generation !== generation) throw rebalanced(group, current!.generation, generation);
      const next = { generation: current!.generation, members };
      return { next, answer: next, memberId, reason: undefined };
    });
    // Other members expired while this one was checking in: it is part of the rebalance too.
    if (membership.generation !== generation) throw rebalanced(group, membership.generation, generation);
    return { generation };
  }

  async leave(group: string, memberId: string): Promise<void> {
    assertValidName('group', group);
    await this.change(group, new Map(), (current, now) => {
      const live = liveMembers(current, now);
      if (!live.members.some((m) => m.memberId === memberId)) throw unknownMember(group, memberId);
      const members = live.members.filter((m) => m.memberId !== memberId);
      return { next: 'rebuild', members, memberId, reason: 'leave', generation: current?.generation };
    });
  }

  /** The group's live membership (members past their session timeout are removed first); undefined: no members. */
  async describe(group: string): Promise<GroupMembership | undefined> {
    assertValidName('group', group);
    const { membership } = await this.expire(group);
    return membership.members.length > 0 ? membership : undefined;
  }

  /**
   * Refuses a commit that could overwrite a current owner's progress: while the group has members, a commit must
   * come from one of them, in the current generation. A group without members takes commits from anyone (a
   * standalone consumer, an operator).
   */
  async checkCommit(group: string, memberId: string | undefined, generation: number | undefined): Promise<void> {
    const { membership } = await this.expire(group);
    if (membership.members.length === 0) {
      if (memberId !== undefined) throw unknownMember(group, memberId);
      return;
    }
    if (memberId === undefined || !membership.members.some((m) => m.memberId === memberId)) {
      throw new UnknownMemberError(
        `group ${group} has ${membership.members.length} active member(s): a commit must carry the member_id and ` +
          `generation_id of a current member${memberId === undefined ? '' : ` (${memberId} is not one)`}; ` +
          'join the group, or wait until its members have left',
      );
    }
    if (generation !== membership.generation) {
      throw new StaleGenerationError(
        `commit from member ${memberId} of group ${group} carries generation ${generation ?? 'none'}, but the group ` +
          `is at generation ${membership.generation}: its partitions may have moved; join again and resume from ` +
          'the committed offsets',
      );
    }
  }

  /** For operations that must not race with consumers, such as resetting offsets. */
  async assertNoMembers(group: string, action: string): Promise<void> {
    const membership = await this.describe(group);
    if (membership !== undefined) {
      throw new GroupNotEmptyError(
        `cannot ${action}: group ${group} has ${membership.members.length} active member(s) ` +
          `(${membership.members.map((m) => m.clientId).join(', ')}); stop its consumers first`,
      );
    }
  }

  /**
   * Removes members past their session timeout from every group: run on a timer so partitions move on time. One
   * read of every membership; only groups with an expired member are written (through the atomic update).
   */
  async expireAll(): Promise<void> {
    const now = this.now();
    for (const [group, membership] of await this.membership.list()) {
      if (liveMembers(membership, now).expired.length > 0) await this.expire(group);
    }
  }

  private expire(group: string): Promise<{ membership: GroupMembership }> {
    return this.change(group, new Map(), (current, now) => {
      const live = liveMembers(current, now);
      if (current === undefined || live.expired.length === 0) {
        const unchanged = current ?? { generation: 0, members: [] };
        return { next: 'unchanged', answer: unchanged, memberId: '', reason: undefined };
      }
      return {
        next: 'rebuild',
        members: live.members,
        memberId: '',
        reason: 'expired',
        generation: current.generation,
      };
    });
  }

  /**
   * Runs one decision against the store. A decision either keeps the generation (`next` is the membership to store,
   * or 'unchanged') or asks for a rebuild: a new generation with `members` and a fresh assignment. Partition counts
   * are fetched outside the store's atomic update (it takes a synchronous function); a decision that needs a topic
   * not fetched yet (another collector added a subscriber to it meanwhile) is recomputed after fetching it.
   */
  private async change(
    group: string,
    counts: Map<string, number>,
    decide: (current: GroupMembership | undefined, now: TimestampMs) => Decision,
  ): Promise<{ membership: GroupMembership; memberId: string }> {
    for (;;) {
      const outcome = await this.membership.update(group, (current): MembershipChange<Outcome> => {
        const decision = decide(current, this.now());
        if (decision.next !== 'rebuild') {
          return {
            next: decision.next,
            result: { membership: decision.answer, memberId: decision.memberId, reason: undefined, unknown: [] },
          };
        }
        const rebuilt = rebuild(decision.members, (decision.generation ?? 0) + 1, counts);
        if (rebuilt.unknownTopics.length > 0) {
          return {
            next: 'unchanged',
            result: { membership: rebuilt.membership, memberId: '', reason: undefined, unknown: rebuilt.unknownTopics },
          };
        }
        const empty = rebuilt.membership.members.length === 0;
        return {
          next: empty ? undefined : rebuilt.membership,
          result: { membership: rebuilt.membership, memberId: decision.memberId, reason: decision.reason, unknown: [] },
        };
      });
      if (outcome.unknown.length === 0) {
        if (outcome.reason !== undefined) {
          this.events.rebalanced?.(
            group,
            outcome.membership.generation,
            outcome.reason,
            outcome.membership.members.length,
          );
        }
        return outcome;
      }
      for (const topic of outcome.unknown) counts.set(topic, await this.partitionCountOrZero(topic));
    }
  }

  /** A subscribed topic deleted since: it has no partitions to assign. */
  private async partitionCountOrZero(topic: string): Promise<number> {
    try {
      return await this.partitionsFor(topic);
    } catch (error) {
      if (error instanceof TopicNotFoundError) return 0;
      throw error;
    }
  }
}

type Decision =
  | {
      readonly next: GroupMembership | 'unchanged';
      readonly answer: GroupMembership;
      readonly memberId: string;
      readonly reason: undefined;
    }
  | {
      readonly next: 'rebuild';
      readonly members: readonly GroupMember[];
      readonly memberId: string;
      readonly reason: RebalanceReason;
      readonly generation: number | undefined;
    };

interface Outcome {
  readonly membership: GroupMembership;
  readonly memberId: string;
  readonly reason: RebalanceReason | undefined;
  readonly unknown: readonly string[];
}

function liveMembers(
  current: GroupMembership | undefined,
  now: TimestampMs,
): { members: GroupMember[]; expired: GroupMember[] } {
  const members: GroupMember[] = [];
  const expired: GroupMember[] = [];
  for (const m of current?.members ?? []) (now - m.lastHeartbeatMs > m.sessionTimeoutMs ? expired : members).push(m);
  return { members, expired };
}

function rebuild(members: readonly GroupMember[], generation: number, counts: ReadonlyMap<string, number>): Rebuilt {
  const topics = new Set(members.flatMap((m) => m.topics));
  const unknownTopics = [...topics].filter((t) => !counts.has(t));
  const assignment = assignRanges(members, counts);
  return {
    membership: {
      generation,
      members: members.map((m) => ({ ...m, assignment: assignment.get(m.memberId) ?? [] })),
    },
    unknownTopics,
  };
}

function unknownMember(group: string, memberId: string): UnknownMemberError {
  return new UnknownMemberError(
    `member ${memberId} is not in group ${group} (it left, or missed its session timeout): join the group again`,
  );
}

function rebalanced(group: string, current: number, seen: number): RebalanceInProgressError {
  return new RebalanceInProgressError(
    `group ${group} moved from generation ${seen} to ${current} (a member joined, left or timed out): ` +
      'join again to get the new assignment',
  );
}
