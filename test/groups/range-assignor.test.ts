/** Range assignment on random groups: every partition to exactly one subscriber, balanced per topic, deterministic. */
import test from 'ava';
import fc from 'fast-check';
import { assignRanges } from '../../collector/groups/range-assignor.ts';

const TOPICS = ['a', 'b', 'c'];

test('range assignor - complete, disjoint, only to subscribers, balanced within one per topic, order-independent', (t) => {
  fc.assert(
    fc.property(
      fc.uniqueArray(
        fc.record({ memberId: fc.stringMatching(/^[a-z0-9]{1,6}$/), topics: fc.subarray(TOPICS, { minLength: 1 }) }),
        { minLength: 1, maxLength: 8, selector: (m) => m.memberId },
      ),
      fc.tuple(fc.nat(12), fc.nat(12), fc.nat(12)),
      (members, [na, nb, nc]) => {
        const counts = new Map([
          ['a', na],
          ['b', nb],
          ['c', nc],
        ]);
        const assignment = assignRanges(members, counts);
        const reversed = assignRanges([...members].reverse(), counts);
        for (const m of members) {
          if (JSON.stringify(assignment.get(m.memberId)) !== JSON.stringify(reversed.get(m.memberId))) return false;
        }
        for (const topic of TOPICS) {
          const subscribers = members.filter((m) => m.topics.includes(topic));
          const owners = [...assignment].flatMap(([id, parts]) =>
            parts.filter((p) => p.topic === topic).map((p) => ({ id, partition: p.partition })),
          );
          const expected = subscribers.length === 0 ? 0 : counts.get(topic)!;
          if (owners.length !== expected) return false;
          if (new Set(owners.map((o) => o.partition)).size !== owners.length) return false;
          if (owners.some((o) => !subscribers.some((s) => s.memberId === o.id))) return false;
          const perMember = subscribers.map((s) => owners.filter((o) => o.id === s.memberId).length);
          if (perMember.length > 0 && Math.max(...perMember) - Math.min(...perMember) > 1) return false;
        }
        return true;
      },
    ),
    { numRuns: 2000 },
  );
  t.pass();
});
