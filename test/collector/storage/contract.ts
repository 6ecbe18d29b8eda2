/**
 * The LogStore contract as ava tests, for every backend: `logStoreContract('file', open)` registers them.
 * `open` returns a store, a way to reopen it on the same data after `close()`, and a cleanup. The store need not be
 * empty: a JetStream store shares its server with the other tests of the file, so every test works on its own topic
 * and group names (`s.topic`, `s.name()`) and checks list results for what it made, not for equality.
 */
import test from 'ava';
import type { LogStore } from '../../../collector/storage/log-store.ts';
import { decodeRecords, encodeBatch, readBatchHeader, splitBatches } from '../../../shared/batch-codec.ts';
import { OffsetOutOfRangeError } from '../../../shared/errors.ts';

export interface ContractStore {
  store: LogStore;
  reopen(): Promise<LogStore>;
  cleanup(): Promise<void>;
}

const T0 = 1_764_000_000_000;

function batch(from: number, count: number, pad = 40): Buffer {
  return encodeBatch({
    key: 'k',
    labels: { from: String(from) },
    records: Array.from({ length: count }, (_, i) => ({
      timestamp: T0 + (from + i) * 1000,
      value: Buffer.from(`r${from + i}`.padEnd(pad, '.')),
    })),
  });
}

function values(buf: Buffer): string[] {
  return decodeRecords(buf).map((r) => r.value.toString());
}

export function logStoreContract(name: string, open: () => Promise<ContractStore>): void {
  let namesMade = 0;
  const setup = async (t: { teardown(fn: () => Promise<void> | void): void }) => {
    const s = await open();
    let current = s.store;
    t.teardown(async () => {
      await current.close().catch(() => {});
      await s.cleanup();
    });
    const unique = `${++namesMade}x${Math.random().toString(36).slice(2, 8)}`;
    const topic = `c${unique}`;
    await current.createTopic(topic, { partitions: 2 });
    return {
      /** This test's two-partition topic. */
      topic,
      /** A topic, group or member name no other test uses. */
      name(prefix: string) {
        return `${prefix}${unique}`;
      },
      get store() {
        return current;
      },
      async reopen() {
        await current.close();
        current = await s.reopen();
        return current;
      },
    };
  };

  test(`${name} contract - append/read round trip with contiguous offsets`, async (t) => {
    const s = await setup(t);
    const a = await s.store.append(s.topic, 0, [batch(0, 3)]);
    const b = await s.store.append(s.topic, 0, [batch(3, 2), batch(5, 4)]);
    t.deepEqual([a.baseOffset, a.lastOffset, a.recordCount], [0, 2, 3]);
    t.deepEqual([b.baseOffset, b.lastOffset, b.recordCount], [3, 8, 6]);
    const r = await s.store.read(s.topic, 0, 0, 1 << 20);
    t.deepEqual(
      values(r.batches),
      Array.from({ length: 9 }, (_, i) => `r${i}`.padEnd(40, '.')),
    );
    t.is(r.nextOffset, 9);
    t.is(r.endOffset, 9);
  });

  test(`${name} contract - read starts at the batch holding the offset and returns at least one batch`, async (t) => {
    const s = await setup(t);
    await s.store.append(s.topic, 1, [batch(0, 5)]);
    await s.store.append(s.topic, 1, [batch(5, 5)]);
    const r = await s.store.read(s.topic, 1, 7, 1);
    t.is(readBatchHeader(r.batches, 0).baseOffset, 5);
    t.is(splitBatches(r.batches).length, 1);
    t.is(r.nextOffset, 10);
  });

  test(`${name} contract - out-of-range read names the valid range`, async (t) => {
    const s = await setup(t);
    await s.store.append(s.topic, 0, [batch(0, 3)]);
    const e = await t.throwsAsync(s.store.read(s.topic, 0, 50, 1000), { instanceOf: OffsetOutOfRangeError });
    t.is(e?.startOffset, 0);
    t.is(e?.endOffset, 3);
    t.regex(e?.message ?? '', /\[0, 3\)/);
  });

  test(`${name} contract - offsetForTimestamp`, async (t) => {
    const s = await setup(t);
    await s.store.append(s.topic, 0, [batch(0, 4)]);
    await s.store.append(s.topic, 0, [batch(4, 4)]);
    t.is(await s.store.offsetForTimestamp(s.topic, 0, T0 - 1), 0);
    // Batch granularity: the first batch whose max timestamp is >= the target.
    t.is(await s.store.offsetForTimestamp(s.topic, 0, T0 + 5000), 4);
    t.is(await s.store.offsetForTimestamp(s.topic, 0, T0 + 3000), 0);
    t.is(await s.store.offsetForTimestamp(s.topic, 0, T0 + 99_000_000), 8);
  });

  test(`${name} contract - waitForAppend wakes, times out and aborts`, async (t) => {
    const s = await setup(t);
    const waiting = s.store.waitForAppend(s.topic, 0, 0, 30_000);
    await s.store.append(s.topic, 0, [batch(0, 1)]);
    t.true(await waiting);
    t.false(await s.store.waitForAppend(s.topic, 0, 1, 50));
    const ac = new AbortController();
    const aborted = s.store.waitForAppend(s.topic, 0, 1, 30_000, ac.signal);
    ac.abort();
    t.false(await aborted);
  });

  test(`${name} contract - offset store commit/fetch/list/delete`, async (t) => {
    const s = await setup(t);
    const g1 = s.name('g');
    await s.store.offsets.commit(g1, [{ topic: s.topic, partition: 0, offset: 5, metadata: 'm' }]);
    await s.store.offsets.commit(g1, [{ topic: s.topic, partition: 1, offset: 7 }]);
    const got = (await s.store.offsets.fetch(g1)).map((o) => [o.partition, o.offset, o.metadata]);
    got.sort((x, y) => Number(x[0]) - Number(y[0]));
    t.deepEqual(got, [
      [0, 5, 'm'],
      [1, 7, ''],
    ]);
    t.true((await s.store.offsets.listGroups()).includes(g1));
    await s.store.offsets.deleteGroup(g1);
    t.false((await s.store.offsets.listGroups()).includes(g1));
    t.deepEqual(await s.store.offsets.fetch(g1), []);
  });

  test(`${name} contract - topic create/describe/delete/duplicate`, async (t) => {
    const s = await setup(t);
    const info = await s.store.describeTopic(s.topic);
    t.is(info.partitions.length, 2);
    await t.throwsAsync(s.store.createTopic(s.topic, { partitions: 1 }), { message: new RegExp(s.topic) });
    await s.store.deleteTopic(s.topic);
    t.false(s.store.hasTopic(s.topic));
    await t.throwsAsync(s.store.describeTopic(s.topic));
  });

  test(`${name} contract - invalid topic names are refused`, async (t) => {
    const s = await setup(t);
    for (const bad of ['../x', 'a/b', '', 'x'.repeat(201), 'a\0b', 'аbc', '..']) {
      await t.throwsAsync(s.store.createTopic(bad, { partitions: 1 }), undefined, JSON.stringify(bad));
    }
  });

  test(`${name} contract - reopen keeps every acknowledged record`, async (t) => {
    const s = await setup(t);
    for (let i = 0; i < 20; i++) await s.store.append(s.topic, i % 2, [batch(i * 3, 3)]);
    const reopened = await s.reopen();
    const all = [
      ...values((await reopened.read(s.topic, 0, 0, 1 << 20)).batches),
      ...values((await reopened.read(s.topic, 1, 0, 1 << 20)).batches),
    ];
    t.is(all.length, 60);
    const next = await reopened.append(s.topic, 0, [batch(100, 1)]);
    t.is(next.baseOffset, 30);
  });
}
