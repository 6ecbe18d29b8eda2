import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { FileLogStore } from '../../../collector/storage/file/index.ts';
import { decodeRecords } from '../../../shared/batch-codec.ts';

const CHILD = fileURLToPath(new URL('./append-child.ts', import.meta.url));

/** Runs the appending child until it has reported some appends, then SIGKILLs it; returns what it reported. */
async function runAndKill(dataDir: string, start: number, killAfterMs: number): Promise<Map<number, string>> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir, String(start)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const reported = new Map<number, string>();
  let pending = '';
  let readyAt = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      if (line === 'ready') readyAt = Date.now();
      else {
        const [offset, value] = line.split('\t');
        reported.set(Number(offset), value!);
      }
    }
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + 30_000;
  while ((readyAt === 0 || Date.now() - readyAt < killAfterMs) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill('SIGKILL');
  await exited;
  return reported;
}

test('storage kill -9 - 20 kills at random moments: every acknowledged append reads back identical, no gap', async (t) => {
  t.timeout(180_000);
  const dataDir = await mkdtemp(join(tmpdir(), 'tributary-kill9-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const acknowledged = new Map<number, string>();
  let next = 0;
  for (let round = 0; round < 20; round++) {
    const reported = await runAndKill(dataDir, next, 50 + Math.floor(Math.random() * 250));
    for (const [offset, value] of reported) acknowledged.set(offset, value);
    next += 100_000;

    const store = await FileLogStore.open({ dataDir, retentionCheckIntervalMs: 0 });
    const info = (await store.describeTopic('t')).partitions[0]!;
    const stored = new Map<number, string>();
    for (let at = info.startOffset; at < info.endOffset; ) {
      const { batches, nextOffset } = await store.read('t', 0, at, 1024 * 1024);
      for (const r of decodeRecords(batches)) if (r.offset >= at) stored.set(r.offset, r.value.toString());
      at = nextOffset;
    }
    await store.close();
    // No gap: offsets 0 .. end-1 are all present.
    t.is(stored.size, info.endOffset, `round ${round}: contiguous offsets`);
    for (const [offset, value] of acknowledged) {
      if (stored.get(offset) !== value) {
        t.fail(`round ${round}: acknowledged offset ${offset} reads back ${JSON.stringify(stored.get(offset))}`);
        return;
      }
    }
  }
  t.true(acknowledged.size > 100, `${acknowledged.size} acknowledged appends checked`);
  t.log(`${acknowledged.size} acknowledged appends survived 20 SIGKILLs`);
});
