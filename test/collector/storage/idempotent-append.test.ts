/**
 * Idempotent appends in the file store: a batch stamped with a producer id and sequence (what the agent sends) is
 * stored once however often its producer sends it again — after the answer was lost, after the store was closed and
 * reopened (the producer state is rebuilt from the log), and while its first copy is still queued.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { FileLogStore } from '../../../collector/storage/file/index.ts';
import { type BatchProducer, decodeRecords, encodeBatch } from '../../../shared/batch-codec.ts';

const T0 = 1_764_000_000_000;

async function tempStore(segmentBytes = 1024 * 1024) {
  const dataDir = await mkdtemp(join(tmpdir(), 'tributary-idem-'));
  const open = () => FileLogStore.open({ dataDir, retentionCheckIntervalMs: 0 });
  const store = await open();
  await store.createTopic('t', { partitions: 1, segmentBytes });
  return { store, open, cleanup: () => rm(dataDir, { recursive: true, force: true }) };
}

/** A batch of `records` lines from `producer`; a fresh buffer each call, as a resend over the wire would be. */
function batch(producer: BatchProducer | undefined, records = 2, label = `${producer?.sequence}`): Buffer {
  return encodeBatch(
    {
      key: 'web-1:/var/log/app.log',
      labels: { n: label },
      records: Array.from({ length: records }, (_v, i) => ({ timestamp: T0 + i, value: Buffer.from(`line ${i}`) })),
    },
    'none',
    producer,
  );
}

async function storedLabels(store: FileLogStore): Promise<string[]> {
  const { batches } = await store.read('t', 0, 0, 64 * 1024 * 1024);
  return decodeRecords(batches).map((r) => r.labels.n!);
}

const P1 = 7_000_000_001;
const P2 = 7_000_000_002;

test('idempotent append - a resent batch is stored once and answered with the offsets of its first copy', async (t) => {
  const { store, cleanup } = await tempStore();
  t.teardown(async () => {
    await store.close();
    await cleanup();
  });
  t.deepEqual(await store.appendChecked('t', 0, [batch({ id: P1, sequence: 0 }), batch({ id: P1, sequence: 1 })]), {
    baseOffset: 0,
    lastOffset: 3,
    recordCount: 4,
  });
  t.deepEqual(await store.appendChecked('t', 0, [batch({ id: P1, sequence: 1 })]), {
    baseOffset: 2,
    lastOffset: 3,
    recordCount: 2,
    duplicateBatches: 1,
  });
  // A resend that carries one stored and one new batch: only the new one is written.
  t.deepEqual(await store.appendChecked('t', 0, [batch({ id: P1, sequence: 1 }), batch({ id: P1, sequence: 2 })]), {
    baseOffset: 2,
    lastOffset: 5,
    recordCount: 4,
    duplicateBatches: 1,
  });
  // Another producer's sequence 0 is its own; a batch without a producer is always stored (at least once).
  await store.appendChecked('t', 0, [batch({ id: P2, sequence: 0 }, 2, 'p2-0')]);
  await store.appendChecked('t', 0, [batch(undefined, 1, 'plain')]);
  await store.appendChecked('t', 0, [batch(undefined, 1, 'plain')]);
  t.deepEqual(await storedLabels(store), ['0', '0', '1', '1', '2', '2', 'p2-0', 'p2-0', 'plain', 'plain']);
  t.is((await store.describeTopic('t')).partitions[0]!.endOffset, 10);
});

test('idempotent append - the producer state is rebuilt from the log when the store reopens', async (t) => {
  const { store, open, cleanup } = await tempStore();
  t.teardown(cleanup);
  for (let sequence = 0; sequence < 5; sequence++) await store.appendChecked('t', 0, [batch({ id: P1, sequence })]);
  await store.close();
  const reopened = await open();
  t.teardown(() => reopened.close());
  t.deepEqual(await reopened.appendChecked('t', 0, [batch({ id: P1, sequence: 4 })]), {
    baseOffset: 8,
    lastOffset: 9,
    recordCount: 2,
    duplicateBatches: 1,
  });
  t.deepEqual(await reopened.appendChecked('t', 0, [batch({ id: P1, sequence: 5 })]), {
    baseOffset: 10,
    lastOffset: 11,
    recordCount: 2,
  });
  t.deepEqual(await storedLabels(reopened), ['0', '0', '1', '1', '2', '2', '3', '3', '4', '4', '5', '5']);
});

test('idempotent append - a batch just before a segment roll is known after a reopen', async (t) => {
  // 4 KiB segments (the smallest allowed) of ~100-byte batches.
  const { store, open, cleanup } = await tempStore(4096);
  t.teardown(cleanup);
  let sequence = 0;
  let segments = 1;
  // Append until a roll has just happened: the newest batch opened a segment and the one before closed the last.
  for (; segments < 3; sequence++) {
    await store.appendChecked('t', 0, [batch({ id: P1, sequence })]);
    segments = (await store.describeTopic('t')).partitions[0]!.segmentCount!;
  }
  const end = (await store.describeTopic('t')).partitions[0]!.endOffset;
  await store.close();
  const reopened = await open();
  t.teardown(() => reopened.close());
  // The batch in the closed segment (sequence - 2) and the one in the active segment (sequence - 1).
  const resent = await reopened.appendChecked('t', 0, [
    batch({ id: P1, sequence: sequence - 2 }),
    batch({ id: P1, sequence: sequence - 1 }),
  ]);
  t.is(resent.duplicateBatches, 2);
  t.deepEqual([resent.baseOffset, resent.lastOffset], [end - 4, end - 1]);
  t.is((await reopened.describeTopic('t')).partitions[0]!.endOffset, end);
});

test('idempotent append - a resend queued behind its first copy is not written twice', async (t) => {
  const { store, cleanup } = await tempStore();
  t.teardown(async () => {
    await store.close();
    await cleanup();
  });
  // All three wait for the same group commit: the check covers the batches written earlier in the group.
  const results = await Promise.all([
    store.appendChecked('t', 0, [batch({ id: P1, sequence: 0 }), batch({ id: P1, sequence: 1 })]),
    store.appendChecked('t', 0, [batch({ id: P1, sequence: 0 }), batch({ id: P1, sequence: 1 })]),
    store.appendChecked('t', 0, [batch({ id: P1, sequence: 1 })]),
  ]);
  t.deepEqual(
    results.map((r) => [r.baseOffset, r.lastOffset, r.duplicateBatches ?? 0]),
    [
      [0, 3, 0],
      [0, 3, 2],
      [2, 3, 1],
    ],
  );
  t.deepEqual(await storedLabels(store), ['0', '0', '1', '1']);
});
