import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import { AckTracker } from '../../agent/checkpoint/ack-tracker.ts';
import { CHECKPOINT_FILE, CheckpointStore } from '../../agent/checkpoint/checkpoint-store.ts';
import { tempDir as supportTempDir } from './support.ts';

test('ack tracker - moves only to the highest contiguous acknowledged position', (t) => {
  const tr = new AckTracker(100);
  const a = tr.register(100, 200);
  const b = tr.register(200, 250);
  const c = tr.register(250, 400);
  t.false(tr.settle(c));
  t.is(tr.position, 100);
  t.false(tr.settle(b));
  t.is(tr.position, 100);
  t.true(tr.settle(a));
  t.is(tr.position, 400);
  t.is(tr.outstanding, 0);
});

test('ack tracker - rejects a range that does not follow, ignores an old generation', (t) => {
  const tr = new AckTracker(0);
  const a = tr.register(0, 10);
  t.throws(() => tr.register(11, 20), { instanceOf: RangeError });
  tr.restart(0);
  t.false(tr.settle(a), 'an acknowledgement for bytes that were truncated away moves nothing');
  const b = tr.register(0, 5);
  t.true(tr.settle(b));
  t.is(tr.position, 5);
});

test('ack tracker - any acknowledgement order ends at the last end (property)', (t) => {
  fc.assert(
    fc.property(
      fc
        .array(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 30 })
        .chain((sizes) =>
          fc.tuple(fc.constant(sizes), fc.shuffledSubarray([...sizes.keys()], { minLength: sizes.length })),
        ),
      ([sizes, order]) => {
        const tr = new AckTracker(0);
        let pos = 0;
        const ranges = sizes.map((s) => {
          const r = tr.register(pos, pos + s);
          pos += s;
          return r;
        });
        const acked = new Set<number>();
        for (const i of order) {
          tr.settle(ranges[i]!);
          acked.add(i);
          let contiguous = 0;
          while (acked.has(contiguous)) contiguous++;
          const expected = contiguous === 0 ? 0 : ranges[contiguous - 1]!.end;
          t.is(tr.position, expected);
        }
        t.is(tr.position, pos);
      },
    ),
    { numRuns: 200 },
  );
});

const tempDir = () => supportTempDir('tributary-checkpoint-');

test('checkpoint store - round trip, and no write when nothing changed', async (t) => {
  const dir = await tempDir();
  const store = new CheckpointStore({ stateDir: dir, retentionMs: 60_000 });
  t.deepEqual(await store.load(), { existed: false });
  store.set('1:2', '/var/log/a.log', 42, { length: 10, crc: 7 });
  t.true(await store.save());
  t.false(await store.save(), 'unchanged: skipped');
  store.set('1:2', '/var/log/a.log', 42, { length: 10, crc: 7 });
  t.false(await store.save(), 'same position again: skipped');
  const again = new CheckpointStore({ stateDir: dir, retentionMs: 60_000 });
  t.deepEqual(await again.load(), { existed: true });
  t.like(again.get('1:2'), { position: 42, path: '/var/log/a.log', fingerprint: { length: 10, crc: 7 } });
  const text = JSON.parse(await readFile(path.join(dir, CHECKPOINT_FILE), 'utf8'));
  t.is(text.version, 1);
  t.deepEqual(
    (await readdir(dir)).filter((f) => f.endsWith('.tmp')),
    [],
    'no temp file left behind',
  );
});

test('checkpoint store - a corrupt file is moved aside and start-up continues', async (t) => {
  for (const garbage of ['{"version": 1, "checkpoints": [{"file": 3}]}', '{not json', '{"version": 99}']) {
    const dir = await tempDir();
    await writeFile(path.join(dir, CHECKPOINT_FILE), garbage);
    const store = new CheckpointStore({ stateDir: dir, retentionMs: 60_000 });
    const result = await store.load();
    t.false(result.existed);
    t.truthy(result.corrupt?.reason);
    t.true((await readdir(dir)).some((f) => f.startsWith(`${CHECKPOINT_FILE}.corrupt-`)));
    store.set('1:1', '/x', 1, { length: 0, crc: 0 });
    t.true(await store.save(), 'a new file can be written after a corrupt one');
  }
});

test('checkpoint store - released entries expire after the retention time, live ones never', async (t) => {
  let now = 1_000_000;
  const dir = await tempDir();
  const store = new CheckpointStore({ stateDir: dir, retentionMs: 1000, now: () => now });
  await store.load();
  store.set('1:1', '/a', 5, { length: 1, crc: 1 });
  store.set('1:2', '/b', 6, { length: 1, crc: 2 });
  store.release('1:2');
  now += 5000;
  await store.save();
  t.truthy(store.get('1:1'));
  t.is(store.get('1:2'), undefined);
});
