/**
 * The storage engine against the file system it sits on, measured side by side in one run:
 *   append flush=interval   vs plain fs.writeSync of the same bytes (target ratio >= 0.6)
 *   append flush=always     MB/s and p99 append latency (one append in flight, so every append pays its fsync)
 *   read start -> end       vs plain sequential fs.readSync of the same segment files (target ratio >= 0.6)
 *   reopen                  of a partition holding 1 GiB (quick: 256 MiB) in one active segment (target < 2 s)
 *   RSS                     of a process holding 100 partitions, with 10x more data (target: does not grow)
 * Records are 200 bytes in ~1 MiB batches. Run alone: `npm run bench -- --only storage` (`--quick` for small sizes).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, fsyncSync, openSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileLogStore } from '../collector/storage/file/index.ts';
import { BatchBuilder } from '../shared/batch-codec.ts';
import type { BenchRow } from './bench-row.ts';

const MiB = 1024 * 1024;
const SELF = fileURLToPath(import.meta.url);

function oneMiBBatch(): Buffer {
  const builder = new BatchBuilder('bench-host:/var/log/app.log', { host: 'bench-host', service: 'app' }, 2 * MiB);
  const value = Buffer.alloc(199, 'x');
  const now = Date.now();
  while (builder.recordBytes < MiB - 256) builder.add(now, value);
  return builder.finish();
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function appendAll(store: FileLogStore, topic: string, batch: Buffer, count: number, latencies?: number[]) {
  for (let i = 0; i < count; i++) {
    const t = process.hrtime.bigint();
    await store.appendChecked(topic, 0, [batch]);
    latencies?.push(seconds(t));
  }
}

export async function run(opts: { quick: boolean }): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const row = (c: string, metric: string, value: number, unit: string, note?: string) =>
    rows.push({ bench: 'storage', case: c, metric, value, unit, ...(note ? { note } : {}) });
  const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-storage-'));
  try {
    const batch = oneMiBBatch();
    const count = opts.quick ? 256 : 1024;
    const mb = (count * batch.length) / 1e6;

    // Plain writeSync of the same bytes, fsynced once at the end (what flush=interval amounts to), alternated with
    // the store in rounds of 256 MiB so that both meet the same page-cache writeback and the same neighbours.
    const rounds = count / 256;
    let plainSeconds = 0;
    let storeSeconds = 0;
    let t: bigint;
    const store = await FileLogStore.open({ dataDir: join(dir, 'store'), retentionCheckIntervalMs: 0 });
    await store.createTopic('interval', {
      segmentBytes: 1024 * MiB,
      flush: { mode: 'interval', intervalMs: 1000, intervalBytes: 64 * MiB },
    });
    for (let round = 0; round < rounds; round++) {
      const plainPath = join(dir, `plain-${round}.bin`);
      t = process.hrtime.bigint();
      const fd = openSync(plainPath, 'w');
      for (let i = 0; i < 256; i++) writeSync(fd, batch);
      fsyncSync(fd);
      closeSync(fd);
      plainSeconds += seconds(t);
      t = process.hrtime.bigint();
      await appendAll(store, 'interval', batch, 256);
      await store.flushAll();
      storeSeconds += seconds(t);
      rmSync(plainPath);
    }
    await store.close();
    const plainWrite = mb / plainSeconds;
    const intervalRate = mb / storeSeconds;
    row('append', 'fs.writeSync', plainWrite, 'MB/s');
    row('append', 'flush=interval', intervalRate, 'MB/s');
    row('append', 'interval / writeSync', intervalRate / plainWrite, 'ratio', 'target >= 0.6');

    const store2 = await FileLogStore.open({ dataDir: join(dir, 'store'), retentionCheckIntervalMs: 0 });
    await store2.createTopic('always', { segmentBytes: 1024 * MiB });
    const latencies: number[] = [];
    const alwaysCount = Math.max(32, count / 4);
    t = process.hrtime.bigint();
    await appendAll(store2, 'always', batch, alwaysCount, latencies);
    row('append', 'flush=always', (alwaysCount * batch.length) / 1e6 / seconds(t), 'MB/s');
    latencies.sort((a, b) => a - b);
    row('append', 'flush=always p99 latency', latencies[Math.floor(latencies.length * 0.99)]! * 1000, 'ms');

    // Read the interval topic from start to end, then the same files with readSync.
    t = process.hrtime.bigint();
    let bytes = 0;
    for (let at = 0; ; ) {
      const r = await store2.read('interval', 0, at, 4 * MiB);
      if (r.batches.length === 0) break;
      bytes += r.batches.length;
      at = r.nextOffset;
    }
    const storeRead = bytes / 1e6 / seconds(t);
    await store2.close();
    const partDir = join(dir, 'store', 'topics', 'interval', '0');
    t = process.hrtime.bigint();
    let plainBytes = 0;
    const buf = Buffer.allocUnsafe(4 * MiB);
    for (const name of readdirSync(partDir).filter((n) => n.endsWith('.log'))) {
      const rfd = openSync(join(partDir, name), 'r');
      for (let n = readSync(rfd, buf); n > 0; n = readSync(rfd, buf)) plainBytes += n;
      closeSync(rfd);
    }
    const plainRead = plainBytes / 1e6 / seconds(t);
    row('read', 'fs.readSync', plainRead, 'MB/s');
    row('read', 'store.read', storeRead, 'MB/s');
    row('read', 'store / readSync', storeRead / plainRead, 'ratio', 'target >= 0.6');

    // Reopen: the interval topic holds `count` MiB in one active segment, which recovery validates whole.
    t = process.hrtime.bigint();
    const store3 = await FileLogStore.open({ dataDir: join(dir, 'store'), retentionCheckIntervalMs: 0 });
    row('reopen', `partition of ${count} MiB`, seconds(t), 's', 'target < 2 s for 1 GiB');
    await store3.close();

    // RSS: a separate process opens 100 partitions holding little, then 10x more.
    const perPartition = opts.quick ? 2 : 10;
    const small = rssChild(join(dir, 'rss-small'), perPartition, batch);
    const large = rssChild(join(dir, 'rss-large'), perPartition * 10, batch);
    row('rss', `100 partitions x ${perPartition} MiB`, small, 'MiB');
    row('rss', `100 partitions x ${perPartition * 10} MiB`, large, 'MiB');
    row('rss', 'large / small', large / small, 'ratio', 'target ~1 (sparse indexes)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** Fills 100 partitions in a child process, then opens them in a fresh one and returns its RSS in MiB. */
function rssChild(dataDir: string, mibPerPartition: number, _batch: Buffer): number {
  const node = [process.execPath, '--import', 'tsx', SELF];
  execFileSync(node[0]!, [...node.slice(1), '--fill', dataDir, String(mibPerPartition)], { stdio: 'inherit' });
  const out = execFileSync(node[0]!, [...node.slice(1), '--rss', dataDir]).toString();
  return Number(out.trim());
}

if (process.argv[1] === SELF) {
  const [mode, dataDir, arg] = process.argv.slice(2);
  if (mode === '--fill') {
    const store = await FileLogStore.open({ dataDir: dataDir!, retentionCheckIntervalMs: 0 });
    await store.createTopic('many', {
      partitions: 100,
      segmentBytes: 64 * MiB,
      flush: { mode: 'interval', intervalMs: 1000, intervalBytes: 256 * MiB },
    });
    const batch = oneMiBBatch();
    for (let p = 0; p < 100; p++) for (let i = 0; i < Number(arg); i++) await store.appendChecked('many', p, [batch]);
    await store.close();
  } else if (mode === '--rss') {
    const store = await FileLogStore.open({ dataDir: dataDir!, retentionCheckIntervalMs: 0 });
    // Touch every partition's newest batch, as a consumer at the head would.
    const info = await store.describeTopic('many');
    for (const p of info.partitions) await store.read('many', p.partition, p.endOffset - 1, MiB);
    global.gc?.();
    process.stdout.write(`${process.memoryUsage().rss / MiB}\n`);
    await store.close();
  } else {
    for (const r of await run({ quick: process.argv.includes('--quick') })) console.log(r);
  }
}
