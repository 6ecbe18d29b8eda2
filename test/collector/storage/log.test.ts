import { mkdtemp, open, readdir, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { FileLogStore } from '../../../collector/storage/file/index.ts';
import { encodeBatch, readBatchHeader } from '../../../shared/batch-codec.ts';
import { CorruptDataError, InvalidArgumentError, OffsetOutOfRangeError } from '../../../shared/errors.ts';

const T0 = 1_764_000_000_000;

async function tempStore(options: { now?: () => number; segmentBytes?: number } = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), 'tributary-log-'));
  const truncations: number[] = [];
  const open = () =>
    FileLogStore.open({
      dataDir,
      retentionCheckIntervalMs: 0,
      events: { recoveryTruncated: (_t, _p, bytes) => truncations.push(bytes) },
      ...(options.now ? { now: options.now } : {}),
    });
  const store = await open();
  await store.createTopic('t', { partitions: 1, segmentBytes: options.segmentBytes ?? 4096 });
  return { dataDir, store, open, truncations, cleanup: () => rm(dataDir, { recursive: true, force: true }) };
}

/** Appends `count` one-record batches of about 100 bytes; record i has timestamp T0 + i * 1000. */
async function fill(store: FileLogStore, count: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i++) {
    await store.appendChecked('t', 0, [
      encodeBatch({
        key: 'k',
        labels: { i: String(i) },
        records: [{ timestamp: T0 + i * 1000, value: Buffer.from(`v${i}`.padEnd(60, '.')) }],
      }),
    ]);
  }
}

function partitionDir(dataDir: string) {
  return join(dataDir, 'topics', 't', '0');
}

test('log - offsets stay contiguous across segment rolls and reopen; every offset reads back from its batch', async (t) => {
  const { store, open, cleanup } = await tempStore();
  t.teardown(cleanup);
  await fill(store, 300);
  const before = (await store.describeTopic('t')).partitions[0]!;
  t.true(before.segmentCount > 5, `${before.segmentCount} segments`);
  await store.close();
  const reopened = await open();
  t.teardown(() => reopened.close());
  await fill(reopened, 50, 300);
  const info = (await reopened.describeTopic('t')).partitions[0]!;
  t.is(info.endOffset, 350);
  for (let offset = 0; offset < 350; offset++) {
    const { batches, nextOffset } = await reopened.read('t', 0, offset, 1);
    const header = readBatchHeader(batches, 0);
    t.is(header.baseOffset, offset, `offset ${offset} starts its own batch`);
    t.is(nextOffset, offset + 1);
    if (offset % 37 === 0) t.is(await reopened.offsetForTimestamp('t', 0, T0 + offset * 1000 - 500), offset);
  }
  t.is(await reopened.offsetForTimestamp('t', 0, 0), 0);
  t.is(await reopened.offsetForTimestamp('t', 0, T0 + 10_000_000), 350, 'after the newest: the end offset');
  const err = await t.throwsAsync(reopened.read('t', 0, 351, 100), { instanceOf: OffsetOutOfRangeError });
  t.regex(err.message, /\[0, 350\)/);
});

test('log - a torn or corrupt tail of the active segment is cut back to the last valid batch', async (t) => {
  const { dataDir, store, open, truncations, cleanup } = await tempStore({ segmentBytes: 1024 * 1024 });
  t.teardown(cleanup);
  await fill(store, 20);
  await store.close();
  const dir = partitionDir(dataDir);
  const log = join(dir, (await readdir(dir)).find((n) => n.endsWith('.log'))!);
  const size = (await stat(log)).size;
  await truncate(log, size - 7); // torn last batch
  let reopened = await open();
  t.is((await reopened.describeTopic('t')).partitions[0]!.endOffset, 19);
  t.true(truncations.at(-1)! > 0);
  await fill(reopened, 1, 19);
  await reopened.close();
  // Flip a byte inside batch 10: batches 10.. are cut, 0..9 stay.
  const batchSize = size / 20;
  const handle = await open_(log);
  const pos = Math.floor(batchSize * 10 + batchSize / 2);
  const byte = Buffer.alloc(1);
  await handle.read(byte, 0, 1, pos);
  byte[0] = byte[0]! ^ 0xff;
  await handle.write(byte, 0, 1, pos);
  await handle.close();
  reopened = await open();
  t.teardown(() => reopened.close());
  t.is((await reopened.describeTopic('t')).partitions[0]!.endOffset, 10);
});

async function open_(path: string) {
  return open(path, 'r+');
}

test('log - corruption inside a closed segment is a read error, never data; other segments still read', async (t) => {
  const { dataDir, store, open, cleanup } = await tempStore();
  t.teardown(cleanup);
  await fill(store, 200);
  await store.close();
  const dir = partitionDir(dataDir);
  const logs = (await readdir(dir)).filter((n) => n.endsWith('.log')).sort();
  const victim = join(dir, logs[1]!);
  const handle = await open_(victim);
  await handle.write(Buffer.from('garbage!'), 0, 8, 60);
  await handle.close();
  const reopened = await open();
  t.teardown(() => reopened.close());
  const firstOfVictim = Number(logs[1]!.slice(0, 20));
  await t.throwsAsync(reopened.read('t', 0, firstOfVictim, 1024 * 1024), { instanceOf: CorruptDataError });
  const ok = await reopened.read('t', 0, 0, 100);
  t.is(readBatchHeader(ok.batches, 0).baseOffset, 0);
  const later = Number(logs[3]!.slice(0, 20));
  t.is(readBatchHeader((await reopened.read('t', 0, later, 100)).batches, 0).baseOffset, later);
});

test('log - a missing index of a closed segment is rebuilt on open', async (t) => {
  const { dataDir, store, open, cleanup } = await tempStore();
  t.teardown(cleanup);
  await fill(store, 100);
  await store.close();
  const dir = partitionDir(dataDir);
  for (const name of (await readdir(dir)).filter((n) => n.endsWith('.index')).slice(0, 3)) await rm(join(dir, name));
  const reopened = await open();
  t.teardown(() => reopened.close());
  for (const offset of [0, 13, 27, 55, 99]) {
    t.is(readBatchHeader((await reopened.read('t', 0, offset, 1)).batches, 0).baseOffset, offset);
  }
});

test('log - retention deletes whole closed segments by age and by size; the start offset advances', async (t) => {
  let now = T0 + 1_000_000;
  const { store, cleanup } = await tempStore({ now: () => now });
  t.teardown(async () => {
    await store.close();
    await cleanup();
  });
  await store.createTopic('aged', { partitions: 1, segmentBytes: 4096, retentionMs: 60_000 });
  await store.createTopic('sized', { partitions: 1, segmentBytes: 4096, retentionBytes: 12_000, retentionMs: null });
  for (const topic of ['aged', 'sized']) {
    for (let i = 0; i < 200; i++) {
      await store.appendChecked(topic, 0, [
        encodeBatch({
          key: 'k',
          labels: {},
          records: [{ timestamp: T0 + i * 1000, value: Buffer.from('x'.repeat(80)) }],
        }),
      ]);
    }
  }
  now = T0 + 200_000 + 60_000; // records older than T0+200s-ish are past retention
  const result = await store.enforceRetention();
  t.true(result.segmentsDeleted > 0);
  const aged = (await store.describeTopic('aged')).partitions[0]!;
  t.true(aged.startOffset > 100, `aged start ${aged.startOffset}`);
  t.is(aged.endOffset, 200);
  const sized = (await store.describeTopic('sized')).partitions[0]!;
  t.true(sized.sizeBytes <= 12_000 + 4096, `sized ${sized.sizeBytes} bytes`);
  t.true(sized.startOffset > 0);
  await t.throwsAsync(store.read('sized', 0, 0, 100), { instanceOf: OffsetOutOfRangeError });
  const first = await store.read('sized', 0, sized.startOffset, 100);
  t.is(readBatchHeader(first.batches, 0).baseOffset, sized.startOffset);
});

test('log - invalid topic names are refused and create nothing', async (t) => {
  const { dataDir, store, cleanup } = await tempStore();
  t.teardown(async () => {
    await store.close();
    await cleanup();
  });
  for (const name of ['../x', 'a/b', '', 'x'.repeat(201), 'a\0b', '..', '.', 'tоpic' /* Cyrillic о */]) {
    await t.throwsAsync(store.createTopic(name), { instanceOf: InvalidArgumentError }, JSON.stringify(name));
  }
  t.deepEqual((await readdir(join(dataDir, 'topics'))).sort(), ['t']);
  t.deepEqual(
    (await readdir(dataDir)).filter((n) => !['topics', 'groups', '.lock', 'staging'].includes(n)),
    [],
  );
});

test('log - flush=interval appends resolve and survive close and reopen', async (t) => {
  const { store, open, cleanup } = await tempStore();
  t.teardown(cleanup);
  await store.createTopic('lazy', {
    partitions: 1,
    flush: { mode: 'interval', intervalMs: 50, intervalBytes: 1 << 20 },
  });
  for (let i = 0; i < 50; i++) {
    await store.appendChecked('lazy', 0, [
      encodeBatch({ key: 'k', labels: {}, records: [{ timestamp: T0, value: Buffer.from(`r${i}`) }] }),
    ]);
  }
  await store.close();
  const reopened = await open();
  t.teardown(() => reopened.close());
  t.is((await reopened.describeTopic('lazy')).partitions[0]!.endOffset, 50);
});

test('log - a segment rolls by age as well as by size', async (t) => {
  let now = T0;
  const { store, cleanup } = await tempStore({ now: () => now, segmentBytes: 1024 * 1024 });
  t.teardown(async () => {
    await store.close();
    await cleanup();
  });
  await store.createTopic('aging', { partitions: 1, segmentBytes: 1024 * 1024, segmentMs: 60_000 });
  const append = () =>
    store.appendChecked('aging', 0, [
      encodeBatch({ key: 'k', labels: {}, records: [{ timestamp: now, value: Buffer.from('x') }] }),
    ]);
  await append();
  now += 30_000;
  await append();
  t.is((await store.describeTopic('aging')).partitions[0]!.segmentCount, 1, 'younger than segment_ms: no roll');
  now += 31_000;
  await append();
  const info = (await store.describeTopic('aging')).partitions[0]!;
  t.is(info.segmentCount, 2, 'older than segment_ms: rolled');
  t.is(info.endOffset, 3);
});
