import { type BenchRow, printRows } from './bench-row.ts';
/**
 * Produce over HTTP vs the storage engine's own append, side by side in one run.
 *
 *   node --import tsx bench/produce-http.bench.ts [--quick] [--mib N]
 *
 * Rows:
 * 1. storage engine: FileLogStore.append in this process, 1 MiB batches of ~200-byte records, CONCURRENCY appends in
 *    flight over PARTITIONS partitions, flush=always: MB/s. This is the ceiling the HTTP path can reach.
 * 2. HTTP produce: the real collector as a child process (`tributary collector`), a separate load process (this
 *    file with --load) posting the same 1 MiB binary batches over loopback keep-alive connections, CONCURRENCY
 *    requests in flight, each answered after its batch is durable: MB/s and the ratio to row 1 (target >= 50%).
 * 3. latency at half of the peak: the load process sends at half the request rate of row 2, open loop (on a
 *    schedule, not waiting for answers), and reports p50 / p99 from send to acknowledgement.
 *
 * Both sides use the same flush policy (always: fsync before the ack), the same batch bytes and the same
 * concurrency, so the ratio isolates what HTTP, body handling and validation cost.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { BatchBuilder } from '../shared/batch-codec.ts';
import { partitionForKey } from '../shared/partitioner.ts';
import { CollectorProcess } from '../test/helpers/collector-process.ts';

export type { BenchRow } from './bench-row.ts';

const PARTITIONS = 4;
const CONCURRENCY = 8;
const BATCH_BYTES = 1024 * 1024;
const RECORD_BYTES = 200;
const SELF = fileURLToPath(import.meta.url);
const REPO = path.resolve(path.dirname(SELF), '..');

/** One ~1 MiB batch per partition, keys chosen so that batch i lands in partition i. */
function buildBatches(): Buffer[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < PARTITIONS; i++) {
    const key = `bench-host:/var/log/app-${i}.log`;
    if (partitionForKey(key, PARTITIONS) === keys.length) keys.push(key);
  }
  const value = Buffer.alloc(RECORD_BYTES - 1, 'x');
  return keys.map((key) => {
    const builder = new BatchBuilder(key, { host: 'bench-host', service: 'app' }, BATCH_BYTES + 64 * 1024);
    const ts = Date.now();
    while (builder.recordBytes + RECORD_BYTES + 4 < BATCH_BYTES - 200) builder.add(ts, value);
    return builder.finish();
  });
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

// ---------------------------------------------------------------------------------------------------------------
// Row 1: the storage engine alone.

async function storageBaseline(totalBatches: number): Promise<{ seconds: number; bytes: number }> {
  const { FileLogStore } = await import('../collector/storage/file/index.ts');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-bench-store-'));
  const store = await FileLogStore.open({
    dataDir: dir,
    defaults: {
      partitions: PARTITIONS,
      retentionMs: null,
      retentionBytes: null,
      segmentBytes: 1024 ** 3,
      segmentMs: 7 * 86_400_000,
      flush: { mode: 'always' },
    },
    events: {},
  });
  try {
    await store.createTopic('bench', { partitions: PARTITIONS });
    const batches = buildBatches();
    let next = 0;
    let bytes = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = next++; i < totalBatches; i = next++) {
          const p = i % PARTITIONS;
          // A fresh buffer per append, as a request body would be (append stamps the base offset in place).
          const copy = Buffer.from(batches[p]!);
          await store.appendChecked('bench', p, [copy]);
          bytes += copy.length;
        }
      }),
    );
    return { seconds: (performance.now() - started) / 1000, bytes };
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The load process (this file run with --load): closed loop (throughput) or open loop at a rate (latency).

interface LoadResult {
  readonly seconds: number;
  readonly bytes: number;
  readonly requests: number;
  readonly failures: number;
  readonly latenciesMs: number[];
}

async function loadMain(args: string[]): Promise<void> {
  const get = (name: string) => args[args.indexOf(name) + 1]!;
  const url = get('--url');
  const requests = Number(get('--requests'));
  const rate = args.includes('--rate') ? Number(get('--rate')) : 0;
  const batches = buildBatches();
  const latencies: number[] = [];
  let failures = 0;
  let bytes = 0;
  // node:http with a keep-alive agent: undici's fetch copies a Buffer body twice, which would make the load
  // process, not the collector, the bottleneck on a 2-core machine.
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY * 4 });
  const target = new URL(`${url}/v1/topics/bench/records`);
  const post = (body: Buffer) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(
        target,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/vnd.tributary.batch', 'content-length': body.length },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const send = async (i: number) => {
    const body = batches[i % PARTITIONS]!;
    const t0 = performance.now();
    const status = await post(body).catch(() => 0);
    if (status !== 200) failures++;
    else bytes += body.length;
    latencies.push(performance.now() - t0);
  };
  // Warm up connections and the JIT.
  for (let i = 0; i < CONCURRENCY; i++) await send(i);
  latencies.length = 0;
  bytes = 0;
  const started = performance.now();
  if (rate > 0) {
    const pending: Promise<void>[] = [];
    for (let i = 0; i < requests; i++) {
      const due = started + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      pending.push(send(i));
    }
    await Promise.all(pending);
  } else {
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = next++; i < requests; i = next++) await send(i);
      }),
    );
  }
  const result: LoadResult = {
    seconds: (performance.now() - started) / 1000,
    bytes,
    requests,
    failures,
    latenciesMs: latencies,
  };
  agent.destroy();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function runLoad(url: string, requests: number, rate?: number): Promise<LoadResult> {
  const args = [
    '--import',
    'tsx',
    SELF,
    '--load',
    '--url',
    url,
    '--requests',
    String(requests),
    ...(rate ? ['--rate', String(rate)] : []),
  ];
  const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`the load process exited with ${code}`);
  return JSON.parse(out.trim().split('\n').pop()!) as LoadResult;
}

// ---------------------------------------------------------------------------------------------------------------

export async function run(opts: { quick: boolean; mib?: number }): Promise<BenchRow[]> {
  const mib = opts.mib ?? (opts.quick ? 64 : 512);
  const rows: BenchRow[] = [];
  const bench = 'produce-http';
  const label = `${mib} x 1 MiB batches of ${RECORD_BYTES}-byte records, ${PARTITIONS} partitions, ${CONCURRENCY} in flight, flush=always`;

  const store = await storageBaseline(mib);
  const storeMBs = store.bytes / 1e6 / store.seconds;
  rows.push({
    bench,
    case: `storage append (in process), ${label}`,
    metric: 'throughput',
    value: storeMBs,
    unit: 'MB/s',
  });

  const collector = await CollectorProcess.start({
    config: {
      log_level: 'warn',
      topics: { default_partitions: PARTITIONS, flush: 'always' },
      limits: { max_body_bytes: 4 * 1024 * 1024, max_records_per_request: 100_000 },
    },
  });
  try {
    const peak = await runLoad(collector.url, mib);
    const httpMBs = peak.bytes / 1e6 / peak.seconds;
    const caseHttp = `HTTP produce (collector process, separate load process), ${label}`;
    rows.push({
      bench,
      case: caseHttp,
      metric: 'throughput',
      value: httpMBs,
      unit: 'MB/s',
      note: peak.failures > 0 ? `${peak.failures} requests FAILED` : 'every request acknowledged',
    });
    rows.push({
      bench,
      case: 'HTTP produce / storage append',
      metric: 'throughput ratio',
      value: httpMBs / storeMBs,
      unit: 'x',
      note: 'target >= 0.5',
    });
    const peakRate = peak.requests / peak.seconds;
    const halfRate = peakRate / 2;
    const seconds = opts.quick ? 4 : 15;
    const latency = await runLoad(collector.url, Math.max(10, Math.round(halfRate * seconds)), halfRate);
    const sorted = [...latency.latenciesMs].sort((a, b) => a - b);
    const caseLat = `HTTP produce at half of peak (${halfRate.toFixed(1)} req/s, ${((halfRate * BATCH_BYTES) / 1e6).toFixed(0)} MB/s), open loop`;
    rows.push({ bench, case: caseLat, metric: 'latency p50', value: percentile(sorted, 50), unit: 'ms' });
    rows.push({
      bench,
      case: caseLat,
      metric: 'latency p99',
      value: percentile(sorted, 99),
      unit: 'ms',
      note: latency.failures > 0 ? `${latency.failures} requests FAILED` : `${sorted.length} requests`,
    });
  } finally {
    await collector.dispose();
  }
  return rows;
}

if (process.argv[1] === SELF) {
  const args = process.argv.slice(2);
  if (args.includes('--load')) {
    await loadMain(args);
  } else {
    const mibArg = args.indexOf('--mib');
    const rows = await run({
      quick: args.includes('--quick'),
      ...(mibArg >= 0 ? { mib: Number(args[mibArg + 1]) } : {}),
    });
    printRows(rows);
  }
}
