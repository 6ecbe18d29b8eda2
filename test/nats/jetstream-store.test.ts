import test from 'ava';
import { decodeRecords, encodeBatch } from '../../shared/batch-codec.ts';
import { JetStreamLogStore } from '../../collector/storage/jetstream/index.ts';
import { CorruptBatchError, OffsetOutOfRangeError, TopicExistsError } from '../../shared/errors.ts';
import { natsServerAvailable, startNatsServer, type NatsCluster } from '../helpers/nats-server.ts';

const available = natsServerAvailable();
const t0 = 1_700_000_000_000;
const batch = (values: string[], ts = t0) =>
  encodeBatch({
    key: 'h/f',
    labels: { host: 'h' },
    records: values.map((v, i) => ({ timestamp: ts + i, value: Buffer.from(v) })),
  });

async function server(t: { teardown(fn: () => Promise<void>): void }): Promise<NatsCluster> {
  const s = await startNatsServer();
  t.teardown(() => s.stop());
  return s;
}
const maybe = available ? test : test.skip;

maybe('jetstream store - append, read by offset, contiguous offsets, describe, reopen', async (t) => {
  t.timeout(60_000);
  const s = await server(t);
  const store = await JetStreamLogStore.open({ servers: s.servers });
  t.teardown(() => store.close());
  await store.createTopic('orders.v1', { partitions: 2, retentionMs: 3_600_000 });
  await t.throwsAsync(store.createTopic('orders.v1'), { instanceOf: TopicExistsError });
  for (let i = 0; i < 20; i++) {
    const r = await store.appendChecked('orders.v1', 0, [batch([`a${i}`, `b${i}`]), batch([`c${i}`])]);
    t.is(r.baseOffset, i * 3);
    t.is(r.lastOffset, i * 3 + 2);
  }
  const info = await store.describeTopic('orders.v1');
  t.is(info.partitions[0]?.endOffset, 60);
  t.is(info.partitions[1]?.endOffset, 0);
  const mid = await store.read('orders.v1', 0, 31, 1);
  const recs = decodeRecords(mid.batches);
  t.true(recs[0]!.offset <= 31 && recs.at(-1)!.offset >= 31, 'the batch holding offset 31 comes first');
  let next = 0;
  const all: string[] = [];
  while (next < 60) {
    const r = await store.read('orders.v1', 0, next, 200);
    for (const rec of decodeRecords(r.batches)) all.push(`${rec.offset}:${rec.value}`);
    next = r.nextOffset;
  }
  t.is(all.length, 60);
  t.deepEqual(all.slice(0, 3), ['0:a0', '1:b0', '2:c0']);
  await t.throwsAsync(store.read('orders.v1', 0, 61, 100), { instanceOf: OffsetOutOfRangeError });
  const bad = batch(['x']);
  bad.writeUInt8(bad.readUInt8(bad.length - 1) ^ 0xff, bad.length - 1);
  await t.throwsAsync(store.appendChecked('orders.v1', 0, [batch(['ok']), bad]), { instanceOf: CorruptBatchError });
  await store.close();
  const again = await JetStreamLogStore.open({ servers: s.servers });
  t.teardown(() => again.close());
  t.true(again.hasTopic('orders.v1'));
  t.is((await again.appendChecked('orders.v1', 0, [batch(['after'])])).baseOffset, 60);
});

maybe('jetstream store - offset for timestamp by binary search', async (t) => {
  t.timeout(60_000);
  const s = await server(t);
  const store = await JetStreamLogStore.open({ servers: s.servers });
  t.teardown(() => store.close());
  await store.createTopic('times');
  for (let i = 0; i < 50; i++) await store.appendChecked('times', 0, [batch([`l${i}`], t0 + i * 1000)]);
  t.is(await store.offsetForTimestamp('times', 0, t0 + 10_000), 10);
  t.is(await store.offsetForTimestamp('times', 0, t0 + 10_500), 11);
  t.is(await store.offsetForTimestamp('times', 0, 0), 0);
  t.is(await store.offsetForTimestamp('times', 0, t0 + 1e9), 50);
});

maybe('jetstream store - two collectors appending concurrently never share an offset', async (t) => {
  t.timeout(120_000);
  const s = await server(t);
  const a = await JetStreamLogStore.open({ servers: s.servers, name: 'a' });
  const b = await JetStreamLogStore.open({ servers: s.servers, name: 'b' });
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  await a.createTopic('shared');
  t.true((await b.listTopics()).some((x) => x.name === 'shared'));
  const results = await Promise.all(
    Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).appendChecked('shared', 0, [batch([`v${i}`, `w${i}`])])),
  );
  const ranges = results.map((r) => r.baseOffset).sort((x, y) => x - y);
  t.deepEqual(
    ranges,
    Array.from({ length: 40 }, (_, i) => i * 2),
  );
  const r = await a.read('shared', 0, 0, 1 << 20);
  t.is(decodeRecords(r.batches).length, 80);
  t.deepEqual(
    decodeRecords(r.batches).map((x) => x.offset),
    Array.from({ length: 80 }, (_, i) => i),
  );
});

maybe('jetstream store - consumer offsets in KV, waitForAppend', async (t) => {
  t.timeout(60_000);
  const s = await server(t);
  const store = await JetStreamLogStore.open({ servers: s.servers });
  t.teardown(() => store.close());
  await store.createTopic('t.x_y', { partitions: 3 });
  await store.offsets.commit('g.1', [{ topic: 't.x_y', partition: 2, offset: 7, metadata: 'm' }]);
  await store.offsets.commit('g.1', [{ topic: 't.x_y', partition: 2, offset: 9 }]);
  const got = await store.offsets.fetch('g.1');
  t.is(got.length, 1);
  t.like(got[0], { topic: 't.x_y', partition: 2, offset: 9 });
  t.deepEqual(await store.offsets.listGroups(), ['g.1']);
  await store.offsets.deleteGroup('g.1');
  t.deepEqual(await store.offsets.fetch('g.1'), []);
  t.false(await store.waitForAppend('t.x_y', 0, 0, 200));
  const waiting = store.waitForAppend('t.x_y', 0, 0, 20_000);
  await new Promise((r) => setTimeout(r, 100));
  await store.appendChecked('t.x_y', 0, [batch(['x'])]);
  t.true(await waiting);
});

maybe(
  'jetstream store - retention empties a stream (max_age): offsets continue, also in a fresh collector',
  async (t) => {
    t.timeout(60_000);
    const s = await server(t);
    const store = await JetStreamLogStore.open({ servers: s.servers, retentionCheckIntervalMs: 0 });
    t.teardown(() => store.close());
    await store.createTopic('short', { retentionMs: 1500 });
    await store.appendChecked('short', 0, [batch(['a', 'b', 'c'])]);
    await store.enforceRetention();
    const deadline = Date.now() + 30_000;
    while ((await store.describeTopic('short')).partitions[0]?.sizeBytes !== 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    t.like((await store.describeTopic('short')).partitions[0], { startOffset: 3, endOffset: 3, sizeBytes: 0 });
    const fresh = await JetStreamLogStore.open({ servers: s.servers, retentionCheckIntervalMs: 0 });
    t.teardown(() => fresh.close());
    t.is((await fresh.appendChecked('short', 0, [batch(['d'])])).baseOffset, 3);
  },
);

maybe('jetstream store - a topic created or deleted through one collector is seen by another (KV watch)', async (t) => {
  t.timeout(60_000);
  const s = await server(t);
  const a = await JetStreamLogStore.open({ servers: s.servers, retentionCheckIntervalMs: 0 });
  const b = await JetStreamLogStore.open({ servers: s.servers, retentionCheckIntervalMs: 0 });
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  const until = async (cond: () => boolean) => {
    const deadline = Date.now() + 20_000;
    while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return cond();
  };
  await a.createTopic('watched');
  t.true(await until(() => b.hasTopic('watched')));
  await a.deleteTopic('watched');
  t.true(await until(() => !b.hasTopic('watched')));
});
