/**
 * Consumer groups end to end: `tributary consume` processes and the typed client against a real collector process.
 * The group's output is checked against the log itself (every offset of every partition), not against what the
 * test thinks it produced.
 */
import test from 'ava';
import type { CollectorClient } from '../../shared/client/collector-client.ts';
import { Consumer, type ConsumedRecord, Producer, StaleGenerationError } from '../../shared/client/index.ts';
import { waitFor } from '../agent/support.ts';
import type { CollectorProcess } from '../helpers/collector-process.ts';
import { collectorForFile, type ConsumedLine, ConsumeProcess } from './support.ts';

let collector: CollectorProcess;
let client: CollectorClient;

collectorForFile((started, startedClient) => {
  collector = started;
  client = startedClient;
});

/** Every (partition, offset) the log holds for the topic. */
async function logOffsets(topic: string): Promise<Set<string>> {
  const all = new Set<string>();
  for (const p of (await client.describeTopic(topic)).partitions) {
    for (let o = p.start_offset; o < p.end_offset; o++) all.add(`${p.partition}/${o}`);
  }
  return all;
}

test.serial(
  'consumers - three processes over six partitions; one SIGKILLed: its partitions move within the session timeout, every record is delivered at least once',
  async (t) => {
    const topic = 'group-load';
    const group = 'g-load';
    const sessionTimeoutMs = 3_000;
    await client.createTopic({ name: topic, partitions: 6 });
    const producer = new Producer({ urls: collector.url });
    let produced = 0;
    let producing = true;
    const produceLoop = (async () => {
      // 6 partitions × a steady trickle, until told to stop: records keep arriving across the kill and the rebalance.
      while (producing) {
        const records = Array.from({ length: 30 }, (_, i) => ({
          key: `k${(produced + i) % 37}`,
          value: `r${produced + i}`,
        }));
        await producer.send(topic, records);
        produced += records.length;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const args = [topic, '--group', group, '--from', 'earliest', '--session-timeout', `${sessionTimeoutMs}ms`];
    const consumers = [0, 1, 2].map((i) => ConsumeProcess.start(collector.url, [...args, '--client-id', `c${i}`]));
    try {
      const stable = await waitFor(
        'three members sharing six partitions',
        async () => {
          const m = await client.groupMembers(group);
          const owned = m.members.flatMap((x) => x.assignment.map((a) => a.partition));
          return m.members.length === 3 && owned.length === 6 && new Set(owned).size === 6 ? m : undefined;
        },
        60_000,
      );
      t.deepEqual(
        stable.members.map((m) => m.assignment.length),
        [2, 2, 2],
      );
      await waitFor('all three consuming', () => consumers.every((c) => c.records.length > 0), 60_000);

      const victim = consumers[1]!;
      const victimId = stable.members.find((m) => m.client_id === 'c1')!.member_id;
      const victimPartitions = stable.members.find((m) => m.client_id === 'c1')!.assignment.map((a) => a.partition);
      await victim.stop('SIGKILL');
      const killedAt = Date.now();
      const moved = await waitFor(
        "the killed member's partitions to move to the survivors",
        async () => {
          const m = await client.groupMembers(group);
          const owned = m.members.flatMap((x) => x.assignment.map((a) => a.partition));
          const gone = !m.members.some((x) => x.member_id === victimId);
          return gone && m.members.length === 2 && new Set(owned).size === 6 ? m : undefined;
        },
        30_000,
        50,
      );
      const moveMs = Date.now() - killedAt;
      t.log(
        `partitions ${victimPartitions.join(',')} moved ${moveMs} ms after the SIGKILL (session timeout ${sessionTimeoutMs} ms)`,
      );
      // Expiry runs on a 500 ms sweep; allow for a loaded machine on top.
      t.true(moveMs <= sessionTimeoutMs + 1_500, `moved within the session timeout (+ sweep): ${moveMs} ms`);
      t.true(moved.generation_id! > stable.generation_id!);

      // The survivors read the moved partitions: records produced after the kill arrive from them.
      const producedAtMove = produced;
      await waitFor(
        'the survivors to read records of the moved partitions produced after the kill',
        () => {
          const seen = consumers
            .filter((c) => c !== victim)
            .flatMap((c) => c.records)
            .filter((r) => victimPartitions.includes(r.partition));
          return seen.some((r) => Number(r.value.slice(1)) >= producedAtMove);
        },
        30_000,
      );
      producing = false;
      await produceLoop;

      // At least once: every offset the log holds was printed by some member (the victim's output counts up to its
      // death: what it printed it had received).
      const expected = await logOffsets(topic);
      const received = (): ConsumedLine[] => consumers.flatMap((c) => c.records);
      await waitFor(
        'every record in the log to be delivered to the group',
        () => {
          const got = new Set(received().map((r) => `${r.partition}/${r.offset}`));
          return [...expected].every((k) => got.has(k));
        },
        60_000,
        200,
      );
      const delivered = received();
      const distinct = new Set(delivered.map((r) => `${r.partition}/${r.offset}`));
      t.is(distinct.size, expected.size, `${expected.size} records in the log, all delivered`);
      t.log(
        `${produced} records produced, ${delivered.length} deliveries, ${delivered.length - distinct.size} ` +
          'duplicates (records a member processed after its last accepted commit, delivered again to the next owner ' +
          'after a rebalance: the three joins and the kill)',
      );
    } finally {
      producing = false;
      await produceLoop.catch(() => {});
      await Promise.all(consumers.map((c) => c.stop('SIGTERM')));
    }
    // A clean stop commits what was printed and leaves: nothing is left to consume, no member remains.
    const offsets = await client.groupOffsets(group);
    t.is(offsets.length, 6);
    t.true(
      offsets.every((o) => o.lag === 0),
      `lag after a clean stop: ${offsets.map((o) => o.lag).join(',')}`,
    );
    t.is((await client.groupMembers(group)).members.length, 0);
  },
);

test.serial(
  'consumers - the typed client: async iterator, explicit commit, a stale commit rejected, resume from the commit',
  async (t) => {
    const topic = 'client-api';
    await client.createTopic({ name: topic, partitions: 2 });
    const producer = new Producer({ urls: collector.url });
    await producer.send(
      topic,
      Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: `m${i}`, labels: { n: String(i) } })),
    );

    const first = new Consumer({
      urls: collector.url,
      group: 'g-client',
      topics: [topic],
      from: 'earliest',
      autoCommit: false,
      sessionTimeoutMs: 5_000,
    });
    const got: ConsumedRecord[] = [];
    for await (const record of first) {
      got.push(record);
      if (got.length === 10) {
        await first.commit();
        break;
      }
    }
    t.is(got.length, 10);
    t.true(got.every((r) => r.topic === topic && /^m\d+$/.test(r.value.toString())));
    const committed = await client.groupOffsets('g-client');
    t.is(
      committed.reduce((n, o) => n + o.offset, 0),
      10,
      'the explicit commit covers exactly the 10 records handed out',
    );
    t.is((await client.groupMembers('g-client')).members.length, 0, 'leaving the loop left the group');

    // A second consumer resumes after the commit and sees the other 30, none of the first 10.
    const second = new Consumer({ urls: collector.url, group: 'g-client', topics: [topic], sessionTimeoutMs: 5_000 });
    const rest: ConsumedRecord[] = [];
    for await (const record of second) {
      rest.push(record);
      if (rest.length === 30) break;
    }
    const firstValues = new Set(got.map((r) => r.value.toString()));
    t.false(
      rest.some((r) => firstValues.has(r.value.toString())),
      'nothing committed is delivered again',
    );
    t.is(new Set([...got, ...rest].map((r) => r.value.toString())).size, 40);

    // A member that missed a rebalance: its commit is fenced with a clear error.
    const stale = new Consumer({
      urls: collector.url,
      group: 'g-fence',
      topics: [topic],
      from: 'earliest',
      autoCommit: false,
    });
    const iterator = stale[Symbol.asyncIterator]();
    await iterator.next();
    const generation = stale.generationId;
    await client.joinGroup('g-fence', { topics: [topic], client_id: 'intruder', session_timeout_ms: 30_000 });
    const error = await t.throwsAsync(stale.commit(), { instanceOf: StaleGenerationError });
    t.regex(error.message, new RegExp(`generation ${generation}`));
    await stale.close();
  },
);
