/** offsetForTimestamp against brute force over out-of-order batch timestamps spread across many segments. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { FileLogStore } from '../../../collector/storage/file/index.ts';
import { encodeBatch } from '../../../shared/batch-codec.ts';

test('timestamps - offsetForTimestamp matches brute force with out-of-order timestamps, before and after reopen', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'tributary-ts-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const open = () => FileLogStore.open({ dataDir, retentionCheckIntervalMs: 0 });
  let store = await open();
  await store.createTopic('ts', { partitions: 1, segmentBytes: 4096 });
  const T0 = 1_764_000_000_000;
  // Each batch: base offset and max timestamp. Timestamps wander back and forth (agents' clocks differ).
  const batches: { base: number; maxTs: number }[] = [];
  let seed = 7;
  const rand = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  let offset = 0;
  for (let i = 0; i < 300; i++) {
    const count = 1 + Math.floor(rand() * 3);
    const records = Array.from({ length: count }, () => ({
      timestamp: T0 + Math.floor(rand() * 100_000),
      value: Buffer.from('x'.repeat(40)),
    }));
    await store.appendChecked('ts', 0, [encodeBatch({ key: 'k', labels: {}, records })]);
    batches.push({ base: offset, maxTs: Math.max(...records.map((r) => r.timestamp)) });
    offset += count;
  }
  t.true((await store.describeTopic('ts')).partitions[0]!.segmentCount > 3);
  const expected = (ts: number) => batches.find((b) => b.maxTs >= ts)?.base ?? offset;
  for (const round of ['before', 'after']) {
    for (let ts = T0 - 1000; ts <= T0 + 101_000; ts += 997) {
      t.is(await store.offsetForTimestamp('ts', 0, ts), expected(ts), `${round} reopen, timestamp ${ts - T0}`);
    }
    await store.close();
    if (round === 'before') store = await open();
  }
});
