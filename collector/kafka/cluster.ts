/**
 * Which collectors Kafka clients may talk to, and which one coordinates a group.
 *
 * One collector (the file backend): itself, for everything. Several collectors sharing a JetStream backend: each
 * registers its advertised address in the shared MembershipStore under the reserved group `_kafka-brokers`
 * (re-registered every few seconds, dropped after BROKER_TTL_MS of silence), Metadata lists every live one, and a
 * group's coordinator is chosen by rendezvous hashing of the group name over the live collectors' addresses, so
 * every collector sends every member of a group to the same collector (where groups.ts keeps the group's state),
 * whichever collector the client bootstrapped from. A collector that stops is dropped and its groups move to
 * another, whose members then rejoin.
 *
 * A broker's node id is derived from its address (stable across restarts, the same on every collector).
 */
import { crc32 } from 'node:zlib';
import type { GroupMember, MembershipStore } from '../storage/log-store.ts';
import type { Broker, ClusterView } from './context.ts';

export const BROKERS_GROUP = '_kafka-brokers';
const REGISTER_EVERY_MS = 2000;
const BROKER_TTL_MS = 10_000;

export function nodeIdFor(host: string, port: number): number {
  return crc32(`${host}:${port}`) & 0x7fffffff;
}

/** The view of a collector alone: it is every broker and every coordinator. */
export function singleCollector(self: () => Broker): ClusterView {
  return {
    self,
    brokers: async () => [self()],
    coordinatorFor: async () => self(),
  };
}

function score(group: string, broker: Broker): number {
  return crc32(`${group}\u0000${broker.host}:${broker.port}`);
}

/** Collectors sharing a JetStream backend: registration in the MembershipStore, rendezvous-hashed coordinators. */
export class SharedCluster implements ClusterView {
  private timer: NodeJS.Timeout | undefined;
  private cached: { at: number; brokers: readonly Broker[] } | undefined;

  constructor(
    private readonly membership: MembershipStore,
    private readonly me: Broker,
    private readonly now: () => number = Date.now,
  ) {}

  async start(): Promise<void> {
    await this.register();
    this.timer = setInterval(() => void this.register().catch(() => {}), REGISTER_EVERY_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    const id = this.memberId();
    await this.membership
      .update(BROKERS_GROUP, (current) => {
        const members = (current?.members ?? []).filter((m) => m.memberId !== id);
        return {
          next: members.length === 0 ? undefined : { generation: current!.generation, members },
          result: undefined,
        };
      })
      .catch(() => {});
  }

  self(): Broker {
    return this.me;
  }

  async brokers(): Promise<readonly Broker[]> {
    if (this.cached && this.now() - this.cached.at < 1000) return this.cached.brokers;
    const stored = await this.membership.get(BROKERS_GROUP);
    const now = this.now();
    const live = (stored?.members ?? [])
      .filter((m) => now - m.lastHeartbeatMs <= m.sessionTimeoutMs)
      .map((m) => {
        const [host, port] = m.topics as [string, string];
        return { nodeId: nodeIdFor(host, Number(port)), host, port: Number(port) };
      });
    if (!live.some((b) => b.nodeId === this.me.nodeId)) live.push(this.me);
    live.sort((a, b) => a.nodeId - b.nodeId);
    this.cached = { at: now, brokers: live };
    return live;
  }

  async coordinatorFor(group: string): Promise<Broker> {
    const brokers = await this.brokers();
    let best = this.me;
    let bestScore = -1;
    for (const b of brokers) {
      const s = score(group, b);
      if (s > bestScore || (s === bestScore && b.nodeId < best.nodeId)) {
        best = b;
        bestScore = s;
      }
    }
    return best;
  }

  private memberId(): string {
    return `kafka-broker-${this.me.nodeId}`;
  }

  private async register(): Promise<void> {
    const me: GroupMember = {
      memberId: this.memberId(),
      clientId: 'kafka-broker',
      topics: [this.me.host, String(this.me.port)],
      sessionTimeoutMs: BROKER_TTL_MS,
      lastHeartbeatMs: this.now(),
      assignment: [],
    };
    await this.membership.update(BROKERS_GROUP, (current) => {
      const now = this.now();
      const others = (current?.members ?? []).filter(
        (m) => m.memberId !== me.memberId && now - m.lastHeartbeatMs <= m.sessionTimeoutMs,
      );
      return { next: { generation: current?.generation ?? 1, members: [...others, me] }, result: undefined };
    });
    this.cached = undefined;
  }
}
