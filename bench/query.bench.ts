/**
 * Query and consumption over a topic holding 1 GiB (quick: 128 MiB) of 200-byte lines spread over the last 24 hours
 * in 4 partitions, all measured in one run next to the storage engine's own sequential read:
 *   last 5 minutes, newest 100 lines        latency (target < 100 ms)
 *   full-range regex scan                   MB/s, as a ratio of store.read start -> end (target >= 0.5)
 *   decode every record from earliest       MB/s, in process, as a ratio of the same
 *   Consumer client from earliest           MB/s over HTTP from a collector process, as a ratio (target >= 0.5)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runQuery } from '../collector/query/query-engine.ts';
import { FileLogStore } from '../collector/storage/file/index.ts';
import { BatchBuilder, forEachRecord, readBatchHeader } from '../shared/batch-codec.ts';
import { Consumer } from '../shared/client/consumer.ts';
import { CollectorProcess } from '../test/helpers/collector-process.ts';
import type { BenchRow } from './bench-row.ts';

const MiB = 1024 * 1024;
const PARTITIONS = 4;
const HOSTS = ['web-1', 'web-2', 'web-3', 'db-1'];

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function readAll(store: FileLogStore, visit?: (batches: Buffer) => void): Promise<number> {
  let bytes = 0;
  for (let p = 0; p < PARTITIONS; p++) {
    for (let at = 0; ; ) {
      const r = await store.read('logs', p, at, 4 * MiB);
      if (r.batches.length === 0) break;
      bytes += r.batches.length;
      visit?.(r.batches);
      at = r.nextOffset;
    }
  }
  return bytes;
}

export async function run(opts: { quick: boolean }): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const row = (c: string, metric: string, value: number, unit: string, note?: string) =>
    rows.push({ bench: 'query', case: c, metric, value, unit, ...(note ? { note } : {}) });
  const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-query-'));
  try {
    const store = await FileLogStore.open({ dataDir: dir, retentionCheckIntervalMs: 0 });
    await store.createTopic('logs', {
      partitions: PARTITIONS,
      segmentBytes: 128 * MiB,
      flush: { mode: 'interval', intervalMs: 1000, intervalBytes: 256 * MiB },
    });
    const total = (opts.quick ? 128 : 1024) * MiB;
    const batchBytes = 256 * 1024;
    const batches = Math.ceil(total / batchBytes);
    const now = Date.now();
    const span = 24 * 3600_000;
    const line = (i: number) =>
      Buffer.from(
        `${new Date(now).toISOString()} level=info msg="request handled" id=${i} path=/api/v1/items `.padEnd(199, '.'),
      );
    for (let b = 0; b < batches; b++) {
      const host = HOSTS[b % HOSTS.length]!;
      const builder = new BatchBuilder(`${host}:/var/log/app.log`, { host, service: 'api' }, batchBytes + 4096);
      const ts = now - span + Math.floor((b / batches) * span);
      for (let i = 0; builder.recordBytes < batchBytes - 256; i++) builder.add(ts + Math.floor(i / 100), line(i));
      await store.appendChecked('logs', b % PARTITIONS, [builder.finish()]);
    }

    // Three rounds of read / regex scan / decode, best of each: the machine is shared, and a single pass of each
    // in turn measures whoever else was busy at that moment as much as the code.
    let readRate = 0;
    let scanRate = 0;
    let consumeRate = 0;
    let readBytes = 0;
    let records = 0;
    for (let round = 0; round < 3; round++) {
      let t = process.hrtime.bigint();
      readBytes = await readAll(store);
      readRate = Math.max(readRate, readBytes / 1e6 / seconds(t));

      t = process.hrtime.bigint();
      const scan = runQuery(store, {
        topic: 'logs',
        regex: 'id=99999\\b|status=5\\d\\d',
        limit: 1_000_000,
        order: 'oldest',
        maxScanBytes: Number.MAX_SAFE_INTEGER,
        maxScanMs: 600_000,
      });
      let step = await scan.next();
      while (!step.done) step = await scan.next();
      scanRate = Math.max(scanRate, step.value.scannedBytes / 1e6 / seconds(t));

      t = process.hrtime.bigint();
      records = 0;
      const consumed = await readAll(store, (buf) => {
        for (let pos = 0; pos < buf.length; ) {
          const header = readBatchHeader(buf, pos);
          forEachRecord(buf.subarray(pos, pos + header.size), () => {
            records++;
            return true;
          });
          pos += header.size;
        }
      });
      consumeRate = Math.max(consumeRate, consumed / 1e6 / seconds(t));
    }
    row('scan', 'store.read start -> end (best of 3)', readRate, 'MB/s', `${(readBytes / MiB).toFixed(0)} MiB`);

    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = process.hrtime.bigint();
      let n = 0;
      for await (const _ of runQuery(store, {
        topic: 'logs',
        since: Date.now() - 5 * 60_000,
        limit: 100,
        order: 'newest',
      }))
        n++;
      latencies.push(seconds(t) * 1000);
      if (n === 0) throw new Error('the last 5 minutes should hold records');
    }
    latencies.sort((a, b) => a - b);
    row('last 5 minutes', 'median latency (newest 100)', latencies[10]!, 'ms', 'target < 100 ms');
    row('last 5 minutes', 'max latency of 20', latencies[19]!, 'ms');
    row('regex scan', 'full range (best of 3)', scanRate, 'MB/s');
    row('regex scan', 'scan / store.read', scanRate / readRate, 'ratio', 'target >= 0.5');
    row('consume', 'decode every record in process (best of 3)', consumeRate, 'MB/s', `${records} records`);
    row('consume', 'decode / store.read', consumeRate / readRate, 'ratio');
    await store.close();

    // What a downstream program sees: the Consumer client, from earliest, against a collector process serving the
    // same data directory over loopback HTTP.
    const collector = await CollectorProcess.start({ dataDir: dir });
    try {
      const consumer = new Consumer({
        urls: collector.url,
        group: 'bench',
        topics: ['logs'],
        from: 'earliest',
        maxBytes: 4 * MiB,
      });
      const t = process.hrtime.bigint();
      let n = 0;
      for await (const _ of consumer) if (++n === records) break;
      const clientRate = readBytes / 1e6 / seconds(t);
      row('consume', 'Consumer client over HTTP, from earliest', clientRate, 'MB/s', `${n} records`);
      row('consume', 'Consumer client / store.read', clientRate / readRate, 'ratio', 'target >= 0.5');
    } finally {
      await collector.dispose();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
