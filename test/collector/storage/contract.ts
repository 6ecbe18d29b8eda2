/**
 * The LogStore contract as ava tests, for every backend: `logStoreContract('file', open)` registers them.
 * `open` returns a store, a way to reopen it on the same data after `close()`, and a cleanup. The store need not be
 * empty: a JetStream store shares its server with the other tests of the file, so every test works on its own topic
 * and group names (`s.topic`, `s.name()`) and checks list results for what it made, not for equality.
 */
import test from 'ava';
import type { GroupMember, GroupMembership, LogStore } from '../../../collector/storage/log-store.ts';
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

/** Records stamped with the current time: retention by age counts from the records' (or the batch's) time. */
function freshBatch(from: number, count: number): Buffer {
  const now = Date.now();
  return encodeBatch({
    key: 'k',
    labels: { from: String(from) },
    records: Array.from({ length: count }, (_, i) => ({ timestamp: now, value: Buffer.from(`r${from + i}`) })),
  });
}

function values(buf: Buffer): string[] {
  return decodeRecords(buf).map((r) => r.value.toString());
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Every record of a partition from its start offset to its end, read in steps (a read may stop early). */
async function readPartition(store: LogStore, topic: string, partition: number) {
  const info = (await store.describeTopic(topic)).partitions[partition]!;
  const records: { offset: number; value: string }[] = [];
  let next = info.startOffset;
  while (next < info.endOffset) {
    const r = await store.read(topic, partition, next, 64 * 1024);
    for (const rec of decodeRecords(r.batches)) {
      if (rec.offset >= next) records.push({ offset: rec.offset, value: rec.value.toString() });
    }
    if (r.nextOffset <= next) throw new Error(`read of ${topic}/${partition} at ${next} made no progress`);
    next = r.nextOffset;
  }
  return { ...info, records };
}

function member(id: string): GroupMember {
  return {
    memberId: id,
    clientId: `client-${id}`,
    topics: ['t'],
    sessionTimeoutMs: 10_000,
    lastHeartbeatMs: T0,
    assignment: [{ topic: 't', partition: 0 }],
  };
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
    const a = await s.store.appendChecked(s.topic, 0, [batch(0, 3)]);
    const b = await s.store.appendChecked(s.topic, 0, [batch(3, 2), batch(5, 4)]);
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
    await s.store.appendChecked(s.topic, 1, [batch(0, 5)]);
    await s.store.appendChecked(s.topic, 1, [batch(5, 5)]);
    const r = await s.store.read(s.topic, 1, 7, 1);
    t.is(readBatchHeader(r.batches, 0).baseOffset, 5);
    t.is(splitBatches(r.batches).length, 1);
    t.is(r.nextOffset, 10);
  });

  test(`${name} contract - out-of-range read names the valid range`, async (t) => {
    const s = await setup(t);
    await s.store.appendChecked(s.topic, 0, [batch(0, 3)]);
    const e = await t.throwsAsync(s.store.read(s.topic, 0, 50, 1000), { instanceOf: OffsetOutOfRangeError });
    t.is(e?.startOffset, 0);
    t.is(e?.endOffset, 3);
    t.regex(e?.message ?? '', /\[0, 3\)/);
  });

  test(`${name} contract - offsetForTimestamp`, async (t) => {
    const s = await setup(t);
    await s.store.appendChecked(s.topic, 0, [batch(0, 4)]);
    await s.store.appendChecked(s.topic, 0, [batch(4, 4)]);
    t.is(await s.store.offsetForTimestamp(s.topic, 0, T0 - 1), 0);
    // Batch granularity: the first batch whose max timestamp is >= the target.
    t.is(await s.store.offsetForTimestamp(s.topic, 0, T0 + 5000), 4);
    t.is(await s.store.offsetForTimestamp(s.topic, 0, T0 + 3000), 0);
    t.is(await s.store.offsetForTimestamp(s.topic, 0, T0 + 99_000_000), 8);
  });

  test(`${name} contract - waitForAppend wakes, times out and aborts`, async (t) => {
    const s = await setup(t);
    const waiting = s.store.waitForAppend(s.topic, 0, 0, 30_000);
    await s.store.appendChecked(s.topic, 0, [batch(0, 1)]);
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
    for (let i = 0; i < 20; i++) await s.store.appendChecked(s.topic, i % 2, [batch(i * 3, 3)]);
    const reopened = await s.reopen();
    const all = [
      ...values((await reopened.read(s.topic, 0, 0, 1 << 20)).batches),
      ...values((await reopened.read(s.topic, 1, 0, 1 << 20)).batches),
    ];
    t.is(all.length, 60);
    const next = await reopened.appendChecked(s.topic, 0, [batch(100, 1)]);
    t.is(next.baseOffset, 30);
  });

  test(`${name} contract - a producer's resent append is stored once, before and after a reopen`, async (t) => {
    const s = await setup(t);
    const stamped = (sequence: number) =>
      encodeBatch({ key: 'k', labels: {}, records: [{ timestamp: T0, value: Buffer.from(`s${sequence}`) }] }, 'none', {
        id: 424242,
        sequence,
      });
    const first = await s.store.appendChecked(s.topic, 0, [stamped(0), stamped(1)]);
    t.deepEqual([first.baseOffset, first.lastOffset, first.duplicateBatches], [0, 1, undefined]);
    // The answer was lost: the producer sends the same request again, to this store and after a restart.
    const again = await s.store.appendChecked(s.topic, 0, [stamped(0), stamped(1)]);
    t.deepEqual([again.baseOffset, again.lastOffset, again.duplicateBatches], [0, 1, 2]);
    const reopened = await s.reopen();
    const afterRestart = await reopened.appendChecked(s.topic, 0, [stamped(0), stamped(1)]);
    t.deepEqual([afterRestart.baseOffset, afterRestart.lastOffset, afterRestart.duplicateBatches], [0, 1, 2]);
    const next = await reopened.appendChecked(s.topic, 0, [stamped(2)]);
    t.deepEqual([next.baseOffset, next.duplicateBatches], [2, undefined]);
    t.deepEqual(values((await reopened.read(s.topic, 0, 0, 1 << 20)).batches), ['s0', 's1', 's2']);
  });

  test(`${name} contract - offsets: several partitions in one commit, overwrite, unknown group`, async (t) => {
    const s = await setup(t);
    const g = s.name('g');
    const commits = Array.from({ length: 6 }, (_, p) => ({ topic: s.topic, partition: p, offset: p * 10 }));
    await s.store.offsets.commit(g, commits);
    await s.store.offsets.commit(g, [{ topic: s.topic, partition: 3, offset: 99, metadata: 'later' }]);
    const got = await s.store.offsets.fetch(g);
    t.deepEqual(
      got.map((o) => [o.topic, o.partition, o.offset, o.metadata]),
      commits.map((c) => [c.topic, c.partition, c.partition === 3 ? 99 : c.offset, c.partition === 3 ? 'later' : '']),
    );
    t.true(got.every((o) => Number.isSafeInteger(o.commitTimestamp) && o.commitTimestamp > T0));
    t.deepEqual(await s.store.offsets.fetch(s.name('never-committed')), []);
  });

  test(`${name} contract - retention by size: the oldest records go, the start offset moves, offsets are not reused`, async (t) => {
    const s = await setup(t);
    const topic = s.name('size');
    const retentionBytes = 8192;
    const segmentBytes = 4096;
    await s.store.createTopic(topic, { partitions: 1, retentionBytes, segmentBytes });
    const oneBatch = batch(0, 10).length;
    const batches = Math.ceil((6 * retentionBytes) / oneBatch);
    for (let i = 0; i < batches; i++) await s.store.appendChecked(topic, 0, [batch(i * 10, 10)]);
    const end = batches * 10;
    await s.store.enforceRetention();

    const p = await readPartition(s.store, topic, 0);
    t.is(p.endOffset, end, 'the end offset is kept');
    t.true(p.startOffset > 0, `the start offset moved forward (${p.startOffset})`);
    // The file store deletes whole closed segments, so it may hold up to one segment more than the limit.
    t.true(p.sizeBytes <= retentionBytes + segmentBytes, `${p.sizeBytes} bytes held`);
    t.true(p.records.length > 0, 'the newest records are kept');
    t.is(p.records[0]?.offset, p.startOffset);
    t.deepEqual(
      p.records.map((r) => r.offset),
      Array.from({ length: end - p.startOffset }, (_, i) => p.startOffset + i),
      'what is held is contiguous up to the end',
    );
    t.is(p.records.at(-1)?.value, `r${end - 1}`.padEnd(40, '.'));
    const e = await t.throwsAsync(s.store.read(topic, 0, 0, 1000), { instanceOf: OffsetOutOfRangeError });
    t.is(e?.startOffset, p.startOffset);
    t.is((await s.store.appendChecked(topic, 0, [batch(end, 1)])).baseOffset, end, 'offsets are never reused');
  });

  test(`${name} contract - retention by age: records older than retention become unreadable, end offset kept`, async (t) => {
    t.timeout(60_000);
    const s = await setup(t);
    const topic = s.name('age');
    // Long enough that the fresh batch outlives the checks below on a loaded machine; segmentMs 1 lets the file
    // store close a segment at every append after a pause, so retention may delete it.
    const retentionMs = 3000;
    await s.store.createTopic(topic, { partitions: 1, retentionMs, segmentMs: 1 });
    for (let i = 0; i < 5; i++) await s.store.appendChecked(topic, 0, [freshBatch(i * 10, 10)]);
    const oldWrittenAt = Date.now();
    await sleep(retentionMs + 300);

    const fresh = await s.store.appendChecked(topic, 0, [freshBatch(50, 10)]);
    t.is(fresh.baseOffset, 50);
    let p = await readPartition(s.store, topic, 0);
    const deadline = Date.now() + 20_000;
    // JetStream expires by age on the server's own timer: poll (bounded) instead of assuming it already ran.
    while (p.startOffset < 50 && Date.now() < deadline) {
      await s.store.enforceRetention();
      p = await readPartition(s.store, topic, 0);
      if (p.startOffset < 50) await sleep(100);
    }
    t.true(Date.now() - oldWrittenAt > retentionMs);
    t.is(p.startOffset, 50, 'everything older than retention is gone from the start');
    t.is(p.endOffset, 60);
    t.deepEqual(
      p.records.map((r) => r.value),
      Array.from({ length: 10 }, (_, i) => `r${50 + i}`),
    );
    await t.throwsAsync(s.store.read(topic, 0, 0, 1000), { instanceOf: OffsetOutOfRangeError });
    await t.throwsAsync(s.store.read(topic, 0, 49, 1000), { instanceOf: OffsetOutOfRangeError });
    t.is((await s.store.appendChecked(topic, 0, [freshBatch(60, 5)])).baseOffset, 60, 'offsets are never reused');

    // Once every record is past retention (JetStream may then hold nothing at all), the end offset stays, also for
    // a store opened afresh, and the next append continues from it.
    await s.store.enforceRetention();
    await sleep(retentionMs + 300);
    await s.store.enforceRetention();
    p = await readPartition(s.store, topic, 0);
    t.is(p.endOffset, 65);
    t.true(p.startOffset <= 65);
    const reopened = await s.reopen();
    const again = (await reopened.describeTopic(topic)).partitions[0]!;
    t.is(again.endOffset, 65);
    t.is((await reopened.appendChecked(topic, 0, [freshBatch(65, 1)])).baseOffset, 65, 'offsets are never reused');
  });

  test(`${name} contract - groups membership: get, update, unchanged, delete, listGroups`, async (t) => {
    const s = await setup(t);
    const m = s.store.membership;
    const g = s.name('grp');
    t.is(await m.get(g), undefined);
    t.is(await m.update(g, (current) => ({ next: 'unchanged', result: current })), undefined);
    t.false((await m.listGroups()).includes(g), "'unchanged' on an absent group creates nothing");
    t.is(await m.update(g, () => ({ next: undefined, result: 'none' })), 'none', 'deleting an absent group is fine');

    const first: GroupMembership = { generation: 1, members: [member('a')] };
    t.is(
      await m.update(g, (current) => ({ next: first, result: current === undefined ? 'created' : 'found' })),
      'created',
    );
    t.deepEqual(await m.get(g), first);
    t.true((await m.listGroups()).includes(g));

    const seen = await m.update(g, (current) => ({ next: 'unchanged', result: current }));
    t.deepEqual(seen, first, "'unchanged' hands the current membership to the change");
    t.deepEqual(await m.get(g), first, "'unchanged' writes nothing");

    const second = await m.update(g, (current) => {
      const next = { generation: (current?.generation ?? 0) + 1, members: [...(current?.members ?? []), member('b')] };
      return { next, result: next };
    });
    t.is(second.generation, 2);
    t.deepEqual(await m.get(g), second);

    t.is(await m.update(g, () => ({ next: undefined, result: 'left' })), 'left');
    t.is(await m.get(g), undefined, 'next: undefined deletes the group');
    t.false((await m.listGroups()).includes(g));

    // A deleted group can be made again.
    await m.update(g, () => ({ next: first, result: undefined }));
    t.deepEqual(await m.get(g), first);
    const other = s.name('grp-other');
    await m.update(other, () => ({ next: first, result: undefined }));
    const listed = await m.listGroups();
    t.true(listed.includes(g) && listed.includes(other));
    t.deepEqual(listed, [...listed].sort(), 'listGroups is sorted');
  });

  test(`${name} contract - groups membership: concurrent updates are atomic (none lost)`, async (t) => {
    const s = await setup(t);
    const g = s.name('busy');
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        s.store.membership.update(g, (current) => {
          const next = {
            generation: (current?.generation ?? 0) + 1,
            members: [...(current?.members ?? []), member(`m${i}`)],
          };
          return { next, result: next.generation };
        }),
      ),
    );
    const final = await s.store.membership.get(g);
    t.is(final?.generation, 20);
    t.deepEqual(final?.members.map((x) => x.memberId).sort(), Array.from({ length: 20 }, (_, i) => `m${i}`).sort());
    t.deepEqual(
      [...results].sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => i + 1),
      'each update saw the one before it',
    );
  });

  test(`${name} contract - recovery: reopen keeps acknowledged records, offsets, configs; offsets continue`, async (t) => {
    const s = await setup(t);
    const topic = s.name('rec');
    const config = { partitions: 3, retentionMs: 3_600_000, retentionBytes: 64 << 20 };
    await s.store.createTopic(topic, config);
    const before = await s.store.describeTopic(topic);
    // Appends to all partitions at once, several in flight per partition; each acknowledgement counts.
    const acked = new Map<number, string[]>([
      [0, []],
      [1, []],
      [2, []],
    ]);
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const partition = i % 3;
        const count = 1 + (i % 4);
        await s.store.appendChecked(topic, partition, [batch(i * 10, count)]);
        for (let j = 0; j < count; j++) acked.get(partition)?.push(`r${i * 10 + j}`.padEnd(40, '.'));
      }),
    );
    const g = s.name('rec-group');
    await s.store.offsets.commit(g, [
      { topic, partition: 0, offset: 2, metadata: 'x' },
      { topic, partition: 2, offset: 1 },
    ]);
    const committed = await s.store.offsets.fetch(g);
    const ends = (await s.store.describeTopic(topic)).partitions.map((p) => p.endOffset);

    const reopened = await s.reopen();
    t.true(reopened.hasTopic(topic) && reopened.hasTopic(s.topic));
    const names = (await reopened.listTopics()).map((x) => x.name);
    t.true(names.includes(topic) && names.includes(s.topic), 'every topic is listed after reopen');
    const after = await reopened.describeTopic(topic);
    t.deepEqual(after.config, before.config);
    for (let partition = 0; partition < 3; partition++) {
      const p = await readPartition(reopened, topic, partition);
      t.is(p.startOffset, 0);
      t.is(p.endOffset, ends[partition] ?? -1);
      t.deepEqual(
        p.records.map((r) => r.offset),
        Array.from({ length: p.endOffset }, (_, i) => i),
        'offsets contiguous from 0',
      );
      t.deepEqual(p.records.map((r) => r.value).sort(), [...(acked.get(partition) ?? [])].sort());
      const next = await reopened.appendChecked(topic, partition, [batch(1000 + partition, 2)]);
      t.is(next.baseOffset, ends[partition] ?? -1, 'the next append continues at the end offset');
    }
    t.deepEqual(
      (await reopened.offsets.fetch(g)).map((o) => [o.partition, o.offset, o.metadata, o.commitTimestamp]),
      committed.map((o) => [o.partition, o.offset, o.metadata, o.commitTimestamp]),
    );
  });
}
