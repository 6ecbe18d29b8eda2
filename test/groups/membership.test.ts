/**
 * The group membership protocol over HTTP against a real collector process: join, assignment, heartbeat,
 * rebalance on join/leave/timeout, generation fencing of commits, and reset-offsets refused while members are active.
 */
import test from 'ava';
import type { CollectorClient, JoinGroupResponse } from '../../shared/client/collector-client.ts';
import {
  GroupNotEmptyError,
  RebalanceInProgressError,
  StaleGenerationError,
  TopicNotFoundError,
  UnknownMemberError,
} from '../../shared/errors.ts';
import { waitFor } from '../agent/support.ts';
import { collectorForFile } from './support.ts';

let client: CollectorClient;
collectorForFile(async (_collector, startedClient) => {
  client = startedClient;
  await client.createTopic({ name: 'orders', partitions: 6 });
  await client.createTopic({ name: 'audit', partitions: 2 });
});

type Assigned = readonly { topic: string; partition: number }[];

function assertDisjointAndComplete(
  t: import('ava').ExecutionContext,
  assignments: readonly Assigned[],
  expected: readonly string[],
): void {
  const all = assignments.flatMap((a) => a.map((p) => `${p.topic}/${p.partition}`));
  t.deepEqual([...all].sort(), [...expected].sort(), 'every partition assigned exactly once');
}

/** Brings every member up to the group's current generation, as a consumer does after rebalance_in_progress. */
async function settle(group: string, members: JoinGroupResponse[], topics: string[]): Promise<JoinGroupResponse[]> {
  for (;;) {
    const rejoined = [];
    for (const m of members) {
      rejoined.push(await client.joinGroup(group, { topics, member_id: m.member_id, session_timeout_ms: 30_000 }));
    }
    if (new Set(rejoined.map((m) => m.generation_id)).size === 1) return rejoined;
    members = rejoined;
  }
}

test('membership - three members over six partitions: disjoint, complete, balanced; a join rebalances the others', async (t) => {
  const topics = ['orders'];
  const a = await client.joinGroup('g-assign', { topics, client_id: 'a', session_timeout_ms: 30_000 });
  t.is(a.assignment.length, 6, 'a single member gets every partition');
  t.is(a.heartbeat_interval_ms, 10_000);
  const b = await client.joinGroup('g-assign', { topics, client_id: 'b', session_timeout_ms: 30_000 });
  t.is(b.generation_id, a.generation_id + 1, 'a join starts a new generation');
  // a has not heard of it yet: its heartbeat says so, and its commit in the old generation is fenced.
  await t.throwsAsync(client.heartbeat('g-assign', a.member_id, a.generation_id), {
    instanceOf: RebalanceInProgressError,
  });
  await t.throwsAsync(
    client.commitOffsets('g-assign', {
      offsets: [{ topic: 'orders', partition: 0, offset: 1 }],
      member_id: a.member_id,
      generation_id: a.generation_id,
    }),
    { instanceOf: StaleGenerationError, message: /generation/ },
  );
  const c = await client.joinGroup('g-assign', { topics, client_id: 'c', session_timeout_ms: 30_000 });
  const members = await settle('g-assign', [a, b, c], topics);
  assertDisjointAndComplete(
    t,
    members.map((m) => m.assignment),
    Array.from({ length: 6 }, (_, p) => `orders/${p}`),
  );
  t.deepEqual(
    members.map((m) => m.assignment.length),
    [2, 2, 2],
  );
  // A commit in the current generation is accepted; heartbeats pass.
  const current = members[0]!;
  await client.commitOffsets('g-assign', {
    offsets: [{ topic: 'orders', partition: current.assignment[0]!.partition, offset: 0 }],
    member_id: current.member_id,
    generation_id: current.generation_id,
  });
  for (const m of members) await client.heartbeat('g-assign', m.member_id, m.generation_id);
  // A commit without membership while the group has members is refused too.
  await t.throwsAsync(client.commitOffsets('g-assign', { offsets: [{ topic: 'orders', partition: 0, offset: 5 }] }), {
    instanceOf: UnknownMemberError,
  });
  const described = await client.groupMembers('g-assign');
  t.is(described.generation_id, current.generation_id);
  t.deepEqual(described.members.map((m) => m.client_id).sort(), ['a', 'b', 'c']);
  for (const m of members) await client.leaveGroup('g-assign', m.member_id);
  t.is((await client.groupMembers('g-assign')).generation_id, null);
});

test('membership - members with different subscriptions share only the topics they subscribe to', async (t) => {
  const x = await client.joinGroup('g-mixed', { topics: ['orders', 'audit'], session_timeout_ms: 30_000 });
  const y = await client.joinGroup('g-mixed', { topics: ['orders'], session_timeout_ms: 30_000 });
  const [x2, y2] = [
    await client.joinGroup('g-mixed', {
      topics: ['orders', 'audit'],
      member_id: x.member_id,
      session_timeout_ms: 30_000,
    }),
    y,
  ];
  t.is(x2.generation_id, y2.generation_id);
  t.true(
    x2.assignment.filter((p) => p.topic === 'audit').length === 2,
    'only x subscribes to audit: it gets both of its partitions',
  );
  assertDisjointAndComplete(
    t,
    [x2.assignment, y2.assignment],
    [...Array.from({ length: 6 }, (_, p) => `orders/${p}`), 'audit/0', 'audit/1'],
  );
  await t.throwsAsync(client.joinGroup('g-mixed', { topics: ['no-such-topic'] }), { instanceOf: TopicNotFoundError });
  await client.leaveGroup('g-mixed', x.member_id);
  await client.leaveGroup('g-mixed', y.member_id);
});

test('membership - a member that stops heartbeating is removed after its session timeout and its partitions move', async (t) => {
  const topics = ['orders'];
  const quiet = await client.joinGroup('g-timeout', { topics, session_timeout_ms: 1_500 });
  const busy = await client.joinGroup('g-timeout', { topics, session_timeout_ms: 30_000 });
  const started = Date.now();
  // Only `busy` heartbeats (every 300 ms); `quiet` is silent, as a killed process would be.
  const members = await waitFor(
    'the silent member to be removed',
    async () => {
      const m = await client.groupMembers('g-timeout');
      return m.members.length === 1 ? m : undefined;
    },
    15_000,
    300,
  );
  const elapsed = Date.now() - started;
  t.is(members.members[0]!.member_id, busy.member_id);
  t.is(members.members[0]!.assignment.length, 6, 'the survivor owns every partition');
  t.true(elapsed < 1_500 + 2_000, `removed ${elapsed} ms after its last heartbeat (session timeout 1500 ms)`);
  await t.throwsAsync(client.heartbeat('g-timeout', quiet.member_id, quiet.generation_id), {
    instanceOf: UnknownMemberError,
  });
  await t.throwsAsync(client.heartbeat('g-timeout', busy.member_id, busy.generation_id), {
    instanceOf: RebalanceInProgressError,
  });
  const rejoined = await client.joinGroup('g-timeout', {
    topics,
    member_id: busy.member_id,
    session_timeout_ms: 30_000,
  });
  t.is(rejoined.assignment.length, 6);
  await client.leaveGroup('g-timeout', busy.member_id);
});

test('membership - reset-offsets is refused while members are active, and sets earliest/latest/time once they left', async (t) => {
  await client.createTopic({ name: 'resets', partitions: 2 });
  await client.produce(
    'resets',
    Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, timestamp: 1_700_000_000_000 + i * 1000 })),
  );
  const member = await client.joinGroup('g-reset', { topics: ['resets'], session_timeout_ms: 30_000 });
  await client.commitOffsets('g-reset', {
    offsets: [{ topic: 'resets', partition: 0, offset: 1 }],
    member_id: member.member_id,
    generation_id: member.generation_id,
  });
  await t.throwsAsync(client.resetGroupOffsets('g-reset', 'earliest'), {
    instanceOf: GroupNotEmptyError,
    message: /active member/,
  });
  t.deepEqual(
    (await client.groupOffsets('g-reset')).map((o) => o.offset),
    [1],
    'nothing changed',
  );
  await client.leaveGroup('g-reset', member.member_id);
  const ends = await client.offsets('resets', 'latest');
  const latest = await client.resetGroupOffsets('g-reset', 'latest', ['resets']);
  t.deepEqual(
    latest.map((o) => o.offset),
    ends.map((o) => o.offset),
  );
  const earliest = await client.resetGroupOffsets('g-reset', 'earliest');
  t.deepEqual(
    earliest.map((o) => o.offset),
    [0, 0],
  );
  const atTime = await client.resetGroupOffsets('g-reset', 1_700_000_000_000 + 5_000);
  const expected = await client.offsets('resets', 1_700_000_000_000 + 5_000);
  t.deepEqual(
    atTime.map((o) => o.offset),
    expected.map((o) => o.offset),
  );
  t.deepEqual(
    (await client.groupOffsets('g-reset')).map((o) => o.offset),
    expected.map((o) => o.offset),
  );
});
