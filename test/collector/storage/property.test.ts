/** Random appends, reads and reopens of the file store against an in-memory model (bounded fast-check runs). */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import { FileLogStore } from '../../../collector/storage/file/index.ts';
import { decodeRecords, encodeBatch, readBatchHeader } from '../../../shared/batch-codec.ts';

const T0 = 1_764_000_000_000;

type Op =
  | { kind: 'append'; count: number; ts: number }
  | { kind: 'read'; at: number; maxBytes: number }
  | { kind: 'reopen' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('append' as const), count: fc.integer({ min: 1, max: 60 }), ts: fc.nat(1_000_000) }),
  fc.record({
    kind: fc.constant('read' as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    maxBytes: fc.integer({ min: 1, max: 5000 }),
  }),
  fc.constant({ kind: 'reopen' as const }),
);

test('property - the file store agrees with an in-memory model under random appends, reads and reopens', async (t) => {
  t.timeout(120_000);
  // Each check is an assertion: a failing run says what differed, next to fast-check's counterexample and seed.
  await t.notThrowsAsync(
    fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
        const dataDir = await mkdtemp(join(tmpdir(), 'tributary-prop-'));
        const open = () => FileLogStore.open({ dataDir, retentionCheckIntervalMs: 0 });
        let store = await open();
        try {
          await store.createTopic('p', { partitions: 1, segmentBytes: 4096 });
          const model: { value: string; batchBase: number }[] = [];
          for (const o of ops) {
            if (o.kind === 'append') {
              const base = model.length;
              const records = Array.from({ length: o.count }, (_, i) => ({
                timestamp: T0 + o.ts + i,
                value: Buffer.from(`v${base + i}-${o.ts}`),
              }));
              const r = await store.appendChecked('p', 0, [encodeBatch({ key: 'k', labels: {}, records })]);
              assert.deepEqual([r.baseOffset, r.lastOffset], [base, base + o.count - 1], 'offsets of an append');
              for (const rec of records) model.push({ value: rec.value.toString(), batchBase: base });
            } else if (o.kind === 'reopen') {
              await store.close();
              store = await open();
            } else if (model.length > 0) {
              const offset = Math.min(model.length - 1, Math.floor(o.at * model.length));
              const r = await store.read('p', 0, offset, o.maxBytes);
              const first = readBatchHeader(r.batches, 0).baseOffset;
              assert.equal(first, model[offset]!.batchBase, `a read at ${offset} starts with the batch holding it`);
              const got = decodeRecords(r.batches).map((x) => x.value.toString());
              const want = model.slice(first, first + got.length).map((m) => m.value);
              assert.ok(got.length > 0, `a read at ${offset} returns at least one record`);
              assert.deepEqual(got, want, `records read from ${first}`);
              assert.equal(r.nextOffset, first + got.length, 'next offset after a read');
            }
          }
          // A read may stop at a segment's end, so read the whole partition in steps.
          const all: string[] = [];
          for (let at = 0; at < model.length; ) {
            const r = await store.read('p', 0, at, 1 << 24);
            all.push(...decodeRecords(r.batches).map((x) => x.value.toString()));
            assert.ok(r.nextOffset > at, `a read at ${at} moves forward`);
            at = r.nextOffset;
          }
          assert.deepEqual(
            all,
            model.map((m) => m.value),
            'the whole partition against the model',
          );
        } finally {
          await store.close();
          await rm(dataDir, { recursive: true, force: true });
        }
      }),
      { numRuns: 25, seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31) },
    ),
  );
});
