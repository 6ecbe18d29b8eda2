/**
 * Consumer groups with the JetStream backend: two collector processes share one group through the KV bucket
 * `tributary_groups`. Members joining through different collectors get one disjoint assignment in one generation;
 * fencing holds across collectors; a member killed behind one collector is expired and its partitions moved, and a
 * consumer through the other collector reads every record.
 */
import test from 'ava';
import { CollectorClient } from '../../shared/client/collector-client.ts';
import { Consumer, Producer, StaleGenerationError } from '../../shared/client/index.ts';
import { waitFor } from '../agent/support.ts';
import { CollectorProcess } from '../helpers/collector-process.ts';
import { natsServerAvailable, startNatsServer } from '../helpers/nats-server.ts';

(natsServerAvailable() ? test : test.skip)(
  'jetstream groups - two collectors, one group: one generation, disjoint assignment, fencing and expiry across collectors',
  async (t) => {
    t.timeout(180_000);
    const nats = await startNatsServer();
    t.teardown(() => nats.stop());
    const config = { storage: { backend: 'jetstream', replicas: 1 }, nats: { servers: nats.servers } };
    const [a, b] = await Promise.all([CollectorProcess.start({ config }), CollectorProcess.start({ config })]);
    t.teardown(() => a.dispose());
    t.teardown(() => b.dispose());
    const viaA = new CollectorClient({ urls: a.url });
    const viaB = new CollectorClient({ urls: b.url });
    await viaA.createTopic({ name: 'shared', partitions: 4 });
    await waitFor('collector b to see the topic', async () =>
      (await viaB.listTopics()).some((x) => x.name === 'shared'),
    );

    const first = await viaA.joinGroup('g-js', { topics: ['shared'], client_id: 'via-a', session_timeout_ms: 2_000 });
    const second = await viaB.joinGroup('g-js', { topics: ['shared'], client_id: 'via-b', session_timeout_ms: 30_000 });
    t.is(second.generation_id, first.generation_id + 1, 'a join through b starts a new generation of the same group');
    // The first member, asking through either collector, hears of it.
    await t.throwsAsync(viaB.heartbeat('g-js', first.member_id, first.generation_id), { message: /join again/ });
    await t.throwsAsync(
      viaB.commitOffsets('g-js', {
        offsets: [{ topic: 'shared', partition: 0, offset: 1 }],
        member_id: first.member_id,
        generation_id: first.generation_id,
      }),
      { instanceOf: StaleGenerationError },
    );
    const rejoined = await viaA.joinGroup('g-js', {
      topics: ['shared'],
      member_id: first.member_id,
      session_timeout_ms: 2_000,
    });
    t.is(rejoined.generation_id, second.generation_id);
    const owned = [...rejoined.assignment, ...second.assignment].map((p) => p.partition).sort();
    t.deepEqual(owned, [0, 1, 2, 3], 'disjoint and complete across collectors');
    const described = await viaB.groupMembers('g-js');
    t.deepEqual(described.members.map((m) => m.client_id).sort(), ['via-a', 'via-b']);

    // The member behind a stops heartbeating (as if killed): the sweep of either collector expires it.
    const expired = await waitFor(
      'the silent member to expire',
      async () => {
        const m = await viaB.groupMembers('g-js');
        return m.members.length === 1 ? m : undefined;
      },
      20_000,
    );
    t.is(expired.members[0]!.member_id, second.member_id);
    t.is(expired.members[0]!.assignment.length, 4);
    await viaB.leaveGroup('g-js', second.member_id);

    // A consumer through b reads what was produced through a, and commits through b.
    const producer = new Producer({ urls: a.url });
    await producer.send(
      'shared',
      Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
    );
    const consumer = new Consumer({ urls: b.url, group: 'g-js', topics: ['shared'], from: 'earliest' });
    const seen = new Set<string>();
    for await (const r of consumer) {
      seen.add(r.value.toString());
      if (seen.size === 50) break;
    }
    t.is(seen.size, 50);
    const committed = await viaA.groupOffsets('g-js');
    // Leaving the loop does not count the record in hand as processed (the loop may have been left by an
    // exception): 49 records are committed, and the 50th will be delivered again.
    t.is(
      committed.reduce((n, o) => n + o.offset, 0),
      49,
      'the commits made through b are read through a',
    );
  },
);
