/** Range assignment on random groups: every partition to exactly one subscriber, balanced per topic, deterministic. */
import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { assignRanges } from '../../collector/groups/range-assignor.ts';

const TOPICS = ['a', 'b', 'c'];

test('range assignor - complete, disjoint, only to subscribers, balanced within one per topic, order-independent', (t) => {
  // Each check is an assertion: a failing case says what differed, with fast-check's counterexample.
  t.notThrows(() =>
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
            assert.deepEqual(assignment.get(m.memberId), reversed.get(m.memberId), `${m.memberId}: order-independent`);
          }
          for (const topic of TOPICS) {
            const subscribers = members.filter((m) => m.topics.includes(topic));
            const owners = [...assignment].flatMap(([id, parts]) =>
              parts.filter((p) => p.topic === topic).map((p) => ({ id, partition: p.partition })),
            );
            const expected = subscribers.length === 0 ? 0 : counts.get(topic)!;
            assert.equal(owners.length, expected, `${topic}: every partition assigned, once`);
            assert.equal(new Set(owners.map((o) => o.partition)).size, owners.length, `${topic}: disjoint`);
            const strangers = owners.filter((o) => !subscribers.some((s) => s.memberId === o.id));
            assert.deepEqual(strangers, [], `${topic}: only to subscribers`);
            const perMember = subscribers.map((s) => owners.filter((o) => o.id === s.memberId).length);
            if (perMember.length > 0) {
              assert.ok(Math.max(...perMember) - Math.min(...perMember) <= 1, `${topic}: balanced, got ${perMember}`);
            }
          }
        },
      ),
      { numRuns: 2000 },
    ),
  );
});
