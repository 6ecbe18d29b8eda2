/**
 * The LogStore contract (contract.ts) against the JetStream backend on one real nats-server, started once for this
 * file. Every test opens its own store (its own NATS connection) and works on its own topic and group names, so
 * the tests share the server and its KV buckets the way collectors do. "Reopen" is a new store instance on the same
 * server: what a restarted or second collector sees. JetStream-only tests follow: what only several collectors or an
 * emptied stream can show. (The starvation of a collector losing every race, seen in bench/jetstream.bench.ts on a
 * three-node cluster, does not reproduce on one node; this file checks that contention fails no append.)
 *
 * Without nats-server the suite is skipped, except under CI=true, where natsServerAvailable() throws (a failure).
 */
import test from 'ava';
import { connect } from 'nats';
import { JetStreamLogStore } from '../../../collector/storage/jetstream/index.ts';
import { decodeRecords, encodeBatch } from '../../../shared/batch-codec.ts';
import { type NatsCluster, natsServerAvailable, startNatsServer } from '../../helpers/nats-server.ts';
import { logStoreContract } from './contract.ts';

if (natsServerAvailable()) {
  let server: Promise<NatsCluster> | undefined;
  const servers = async () => {
    server ??= startNatsServer();
    return (await server).servers;
  };
  test.after.always(async () => {
    if (server) await (await server).stop();
  });
  const open = async (name = 'contract') =>
    JetStreamLogStore.open({ servers: await servers(), retentionCheckIntervalMs: 0, name });

  logStoreContract('jetstream', async () => ({ store: await open(), reopen: () => open(), cleanup: async () => {} }));

  test('jetstream - two collectors updating one group membership at once lose no update', async (t) => {
    const a = await open('a');
    const b = await open('b');
    t.teardown(async () => {
      await a.close();
      await b.close();
    });
    const group = `two-collectors-${process.pid}`;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? a : b).membership.update(group, (current) => ({
          next: {
            generation: (current?.generation ?? 0) + 1,
            members: [
              ...(current?.members ?? []),
              { memberId: `m${i}`, clientId: 'c', topics: [], sessionTimeoutMs: 1, lastHeartbeatMs: 0, assignment: [] },
            ],
          },
          result: undefined,
        })),
      ),
    );
    const seenByA = await a.membership.get(group);
    t.is(seenByA?.generation, 20);
    t.is(new Set(seenByA?.members.map((m) => m.memberId)).size, 20);
    t.deepEqual(await b.membership.get(group), seenByA);
  });

  test('jetstream - two collectors saturating one partition both make progress, offsets stay contiguous', async (t) => {
    t.timeout(120_000);
    const a = await open('sat-a');
    const b = await open('sat-b');
    t.teardown(async () => {
      await a.close();
      await b.close();
    });
    const topic = `saturated-${process.pid}`;
    await a.createTopic(topic, { partitions: 1 });
    const value = Buffer.alloc(20_000, 'v');
    const appended = { a: 0, b: 0 };
    // Each collector always has an append queued, so it publishes the moment its previous one is acknowledged.
    const worker = async (store: JetStreamLogStore, who: 'a' | 'b') => {
      for (let i = 0; i < 60; i++) {
        const batch = encodeBatch({ key: who, labels: {}, records: [{ timestamp: Date.now(), value }] });
        await store.appendChecked(topic, 0, [batch]);
        appended[who]++;
      }
    };
    await Promise.all([worker(a, 'a'), worker(a, 'a'), worker(b, 'b'), worker(b, 'b')]);
    t.deepEqual(appended, { a: 120, b: 120 }, 'no append failed');
    const info = (await a.describeTopic(topic)).partitions[0]!;
    t.is(info.endOffset, 240);
    const offsets: number[] = [];
    const keys = { a: 0, b: 0 };
    for (let next = 0; next < info.endOffset; ) {
      const r = await b.read(topic, 0, next, 1 << 20);
      for (const rec of decodeRecords(r.batches)) {
        offsets.push(rec.offset);
        keys[rec.key as 'a' | 'b']++;
      }
      next = r.nextOffset;
    }
    t.deepEqual(
      offsets,
      Array.from({ length: 240 }, (_, i) => i),
    );
    t.deepEqual(keys, { a: 120, b: 120 });
  });

  test('jetstream - a stream emptied by retention keeps its end offset for a store opened afresh', async (t) => {
    // No retention check runs here (retentionCheckIntervalMs 0): the floors come from the record the store makes
    // half a retention time after an append. The first store stays open, so its close() cannot be what saves them.
    t.timeout(60_000);
    const first = await open('first');
    t.teardown(() => first.close());
    const topic = `emptied-${process.pid}`;
    await first.createTopic(topic, { partitions: 1, retentionMs: 1000 });
    const now = Date.now();
    const batch = encodeBatch({ key: 'k', labels: {}, records: [{ timestamp: now, value: Buffer.from('x') }] });
    for (let i = 0; i < 3; i++) await first.appendChecked(topic, 0, [Buffer.from(batch)]);
    const deadline = Date.now() + 20_000;
    let p = (await first.describeTopic(topic)).partitions[0]!;
    while (p.sizeBytes > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      p = (await first.describeTopic(topic)).partitions[0]!;
    }
    t.is(p.sizeBytes, 0, 'the stream expired every message');
    t.deepEqual([p.startOffset, p.endOffset], [3, 3]);
    const fresh = await open('fresh');
    t.teardown(() => fresh.close());
    const seen = (await fresh.describeTopic(topic)).partitions[0]!;
    t.deepEqual([seen.startOffset, seen.endOffset], [3, 3]);
    t.is((await fresh.appendChecked(topic, 0, [Buffer.from(batch)])).baseOffset, 3, 'offsets are never reused');
  });

  test('jetstream - enforceRetention purges the delete markers of deleted groups and memberships', async (t) => {
    const store = await JetStreamLogStore.open({
      servers: await servers(),
      retentionCheckIntervalMs: 0,
      name: 'markers',
      deleteMarkerAgeMs: 0,
    });
    t.teardown(() => store.close());
    const topic = `markers-${process.pid}`;
    const group = `markers-${process.pid}`;
    await store.createTopic(topic, { partitions: 2 });
    await store.offsets.commit(group, [
      { topic, partition: 0, offset: 0 },
      { topic, partition: 1, offset: 0 },
    ]);
    await store.membership.update(group, () => ({ next: { generation: 1, members: [] }, result: undefined }));
    await store.offsets.deleteGroup(group);
    await store.membership.update(group, () => ({ next: undefined, result: undefined }));
    const nc = await connect({ servers: await servers() });
    t.teardown(() => nc.close());
    const jsm = await nc.jetstreamManager();
    const subjects = async (bucket: string): Promise<string[]> =>
      Object.keys((await jsm.streams.info(`KV_${bucket}`, { subjects_filter: '>' })).state.subjects ?? {}).filter(
        (subject) => subject.includes(group),
      );
    t.true((await subjects('tributary_offsets')).length > 0, 'the markers are there before');
    await store.enforceRetention();
    t.deepEqual(await subjects('tributary_offsets'), []);
    t.deepEqual(await subjects('tributary_groups'), []);
    t.false((await store.offsets.listGroups()).includes(group));
    t.deepEqual(await store.offsets.fetch(group), []);
  });
} else {
  test.skip('jetstream contract - nats-server is not installed', () => {});
}
