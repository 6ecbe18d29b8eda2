import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rename, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import { FileReader } from '../../agent/read/file-reader.ts';

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'tributary-reader-'));
}

async function readAll(reader: FileReader, out: string[]): Promise<void> {
  const change = await reader.check();
  if (change === 'truncated') await reader.restartFromBeginning();
  while ((await reader.read((v) => out.push(v.toString()))) > 0) {
    // read to the end
  }
}

test('file reader - resumes from a checkpoint, refuses one whose fingerprint differs', async (t) => {
  const dir = await tempDir();
  const file = path.join(dir, 'a.log');
  await writeFile(file, 'one\ntwo\nthree\n');
  const first = await FileReader.open({ path: file, startAt: { kind: 'beginning' }, maxLineBytes: 100, chunkBytes: 5 });
  const lines: string[] = [];
  await readAll(first, lines);
  t.deepEqual(lines, ['one', 'two', 'three']);
  const print = first.fingerprint;
  await first.close();
  await appendFile(file, 'four\n');
  const resumed = await FileReader.open({
    path: file,
    startAt: { kind: 'checkpoint', position: 8, fingerprint: print },
    maxLineBytes: 100,
    chunkBytes: 64,
  });
  t.is(resumed.startDecision, 'checkpoint');
  const rest: string[] = [];
  await readAll(resumed, rest);
  t.deepEqual(rest, ['three', 'four']);
  await resumed.close();
  // Same inode, different first bytes: an inode reused by another file, or rewritten in place.
  await writeFile(file, 'ONE\nfresh\n');
  const reused = await FileReader.open({
    path: file,
    startAt: { kind: 'checkpoint', position: 8, fingerprint: print },
    maxLineBytes: 100,
    chunkBytes: 64,
  });
  t.is(reused.startDecision, 'inode_reused');
  t.is(reused.position, 0);
  await reused.close();
  await rm(dir, { recursive: true });
});

test('file reader - reports rename, deletion and copytruncate', async (t) => {
  const dir = await tempDir();
  const file = path.join(dir, 'a.log');
  await writeFile(file, 'x1\n');
  const r = await FileReader.open({ path: file, startAt: { kind: 'beginning' }, maxLineBytes: 100, chunkBytes: 64 });
  const out: string[] = [];
  await readAll(r, out);
  t.is(await r.check(), 'none');
  await writeFile(file, '');
  t.is(await r.check(), 'truncated');
  await r.restartFromBeginning();
  await rename(file, `${file}.1`);
  t.is(await r.check(), 'removed');
  await writeFile(file, 'new\n');
  t.is(await r.check(), 'replaced');
  await unlink(`${file}.1`);
  t.true(await r.isDeleted());
  await r.close();
  await rm(dir, { recursive: true });
});

// The model test (as Vector's file watcher has): random sequences of write / rename / copytruncate / delete / read
// against a simple model of which lines the reader must deliver. Lines written to the reader's file before a
// truncation that the reader had not read yet are lost (copytruncate's inherent window); nothing else may be.
type Op =
  | { kind: 'write'; count: number }
  | { kind: 'rename' }
  | { kind: 'truncate' }
  | { kind: 'delete' }
  | { kind: 'read' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 1, max: 20 }).map((count) => ({ kind: 'write', count }) as Op) },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'rename' }) },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'truncate' }) },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'delete' }) },
  { weight: 4, arbitrary: fc.constant<Op>({ kind: 'read' }) },
);

test('file reader - model test: write/rename/truncate/delete/read sequences', async (t) => {
  const dir = await tempDir();
  let run = 0;
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await t.notThrowsAsync(
    fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 7, max: 300 }),
        async (ops, chunkBytes) => {
          const file = path.join(dir, `run-${run++}.log`);
          await writeFile(file, '');
          const reader = await FileReader.open({
            path: file,
            startAt: { kind: 'beginning' },
            maxLineBytes: 1000,
            chunkBytes,
          });
          const delivered: string[] = [];
          const expected: string[] = [];
          let unread: string[] = [];
          let ours = true; // does the path still name the reader's file?
          let n = 0;
          let rotations = 0;
          try {
            for (const op of ops) {
              switch (op.kind) {
                case 'write': {
                  const lines = Array.from({ length: op.count }, () => `line-${++n}-${'z'.repeat(n % 13)}`);
                  await appendFile(file, lines.map((l) => `${l}\n`).join(''));
                  if (ours) unread.push(...lines);
                  break;
                }
                case 'rename':
                  await rename(file, `${file}.${++rotations}`).catch(() => undefined);
                  await writeFile(file, '');
                  ours = false;
                  break;
                case 'truncate':
                  if (ours) {
                    await truncate(file, 0);
                    unread = [];
                  }
                  break;
                case 'delete':
                  await unlink(file).catch(() => undefined);
                  ours = false;
                  break;
                case 'read':
                  await readAll(reader, delivered);
                  expected.push(...unread);
                  unread = [];
                  // Thrown, not returned: fast-check then reports the difference with the counterexample.
                  assert.deepEqual(delivered, expected, 'the lines delivered so far');
                  break;
              }
            }
            await readAll(reader, delivered);
            expected.push(...unread);
            assert.deepEqual(delivered, expected, 'every line of the file, once');
          } finally {
            await reader.close();
          }
        },
      ),
      { numRuns: 60, interruptAfterTimeLimit: 60_000 },
    ),
  );
});
