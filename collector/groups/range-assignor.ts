/**
 * Kafka's range assignment: for each topic, the members subscribed to it, sorted by member id, take contiguous
 * ranges of its partitions; the first `partitions % members` members take one extra. Deterministic: every collector
 * computing it for the same membership gets the same answer, and a member's partitions stay together (which keeps
 * a consumer's reads sequential per topic).
 */
import type { TopicPartition } from '../storage/log-store.ts';

export interface AssignableMember {
  readonly memberId: string;
  readonly topics: readonly string[];
}

/** Every partition of every subscribed topic goes to exactly one subscribed member. */
export function assignRanges(
  members: readonly AssignableMember[],
  partitionCounts: ReadonlyMap<string, number>,
): Map<string, TopicPartition[]> {
  const assignment = new Map<string, TopicPartition[]>(members.map((m) => [m.memberId, []]));
  const topics = [...new Set(members.flatMap((m) => m.topics))].sort();
  for (const topic of topics) {
    const subscribers = members
      .filter((m) => m.topics.includes(topic))
      .map((m) => m.memberId)
      .sort();
    const partitions = partitionCounts.get(topic) ?? 0;
    const base = Math.floor(partitions / subscribers.length);
    const extra = partitions % subscribers.length;
    let next = 0;
    subscribers.forEach((memberId, i) => {
      const count = base + (i < extra ? 1 : 0);
      for (let p = next; p < next + count; p++) assignment.get(memberId)!.push({ topic, partition: p });
      next += count;
    });
  }
  return assignment;
}
