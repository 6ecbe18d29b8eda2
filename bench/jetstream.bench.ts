import { type BenchRow, printRows } from './bench-row.ts';
/**
 * Produce throughput of the storage backends, side by side in one run: the file store (flush=always), the
 * JetStream store on one nats-server (replicas 1), and on a three-node loopback cluster (replicas 3), there also
 * with two store instances (two collectors) appending to the same partitions at once. Each case
 * appends ~100 KB batches (500 records of 200 bytes: one batch per JetStream message) to 4 partitions, 4 appends
 * in flight per partition, through LogStore.append in this process (no HTTP), so the numbers compare the backends.
 *
 *   npx tsx bench/jetstream.bench.ts [--quick] [--mib N]
 *
 * All servers run on 127.0.0.1 on this machine (2 cores shared by every process): a cluster's three servers and
 * the client compete for the same cores, so the cluster figure is a floor, not what three machines would give.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { JetStreamLogStore } from '../collector/storage/jetstream/index.ts';
import { FileLogStore } from '../collector/storage/file/index.ts';
import type { LogStore } from '../collector/storage/log-store.ts';
import { BatchBuilder } from '../shared/batch-codec.ts';
import { startNatsCluster, startNatsServer } from '../test/helpers/nats-server.ts';

export type { BenchRow } from './bench-row.ts';

const SELF = fileURLToPath(import.meta.url);
const RECORD_BYTES = 200;
const RECORDS_PER_BATCH = 500;
const PARTITIONS = 4;
const IN_FLIGHT = 4;

function makeBatch(): Buffer {
  const b = new BatchBuilder('bench-host:/var/log/app.log', { host: 'bench-host', service: 'app' });
  const value = Buffer.alloc(RECORD_BYTES - 1, 'x');
  const now = Date.now();
  for (let i = 0; i < RECORDS_PER_BATCH; i++) b.add(now + i, value);
  return b.finish('none');
}

/**
 * Appends `mib` MiB to a fresh topic. With several stores (collectors), the appends in flight on each partition are
 * spread over them, so they contend for the same partitions (each lost race is a re-stamp and a retry).
 */
async function produce(
  stores: readonly LogStore[],
  mib: number,
): Promise<{ bytes: number; records: number; seconds: number; note?: string }> {
  const first = stores[0]!;
  await first.createTopic('bench', { partitions: PARTITIONS, flush: { mode: 'always' } });
  const template = makeBatch();
  const total = Math.ceil((mib * 1024 * 1024) / template.length);
  let issued = 0;
  let bytes = 0;
  const perStore = stores.map(() => 0);
  const started = performance.now();
  const worker = async (store: LogStore, partition: number) => {
    while (issued < total) {
      issued++;
      const batch = Buffer.from(template); // append stamps offsets in place
      await store.appendChecked('bench', partition, [batch]);
      bytes += batch.length;
      perStore[stores.indexOf(store)]! += batch.length;
    }
  };
  const workers = [];
  for (let p = 0; p < PARTITIONS; p++) {
    for (let i = 0; i < IN_FLIGHT; i++) workers.push(worker(stores[i % stores.length]!, p));
  }
  await Promise.all(workers);
  const seconds = (performance.now() - started) / 1000;
  const shares = perStore.map((b) => `${Math.round((100 * b) / bytes)} %`).join(' / ');
  return {
    bytes,
    records: total * RECORDS_PER_BATCH,
    seconds,
    ...(stores.length > 1 ? { note: `bytes appended per collector: ${shares}` } : {}),
  };
}

export async function run(opts: { quick: boolean; mib?: number }): Promise<BenchRow[]> {
  const mib = opts.mib ?? (opts.quick ? 32 : 256);
  const bench = 'jetstream';
  const label = `${mib} MiB in ~100 KB batches (${RECORDS_PER_BATCH} x ${RECORD_BYTES} B), ${PARTITIONS} partitions x ${IN_FLIGHT} in flight`;
  const results: { name: string; bytes: number; records: number; seconds: number; note?: string }[] = [];

  const dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-bench-js-'));
  try {
    const file = await FileLogStore.open({ dataDir: dir, retentionCheckIntervalMs: 0 });
    try {
      results.push({ name: 'file backend, flush=always', ...(await produce([file], mib)) });
    } finally {
      await file.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  const single = await startNatsServer();
  try {
    const store = await JetStreamLogStore.open({ connection: { servers: single.servers }, replicas: 1 });
    try {
      results.push({ name: 'jetstream backend, 1 node, replicas 1', ...(await produce([store], mib)) });
    } finally {
      await store.close();
    }
  } finally {
    await single.stop();
  }

  const cluster = await startNatsCluster(3);
  try {
    const open = (name: string) =>
      JetStreamLogStore.open({ connection: { servers: cluster.servers }, replicas: 3, timeoutMs: 20_000, name });
    const store = await open('bench-a');
    try {
      results.push({ name: 'jetstream backend, 3-node cluster, replicas 3', ...(await produce([store], mib)) });
      await store.deleteTopic('bench');
      // Two collectors appending to the same partitions at once: what optimistic offset assignment costs.
      const other = await open('bench-b');
      try {
        results.push({
          name: 'jetstream backend, 3-node cluster, replicas 3, 2 collectors on the same partitions',
          ...(await produce([store, other], mib)),
        });
      } finally {
        await other.close();
      }
    } finally {
      await store.close();
    }
  } finally {
    await cluster.stop();
  }

  const base = results[0]!.bytes / results[0]!.seconds;
  const rows: BenchRow[] = [];
  for (const r of results) {
    rows.push({
      bench,
      case: `${r.name}: ${label}`,
      metric: 'throughput',
      value: r.bytes / 1e6 / r.seconds,
      unit: 'MB/s',
      ...(r.note ? { note: r.note } : {}),
    });
    rows.push({ bench, case: `${r.name}: ${label}`, metric: 'records', value: r.records / r.seconds, unit: 'rec/s' });
    rows.push({
      bench,
      case: `${r.name}: ${label}`,
      metric: 'vs file backend',
      value: r.bytes / r.seconds / base,
      unit: 'x',
    });
  }
  return rows;
}

if (process.argv[1] === SELF) {
  const args = process.argv.slice(2);
  const mibArg = args.indexOf('--mib');
  const rows = await run({
    quick: args.includes('--quick'),
    ...(mibArg >= 0 ? { mib: Number(args[mibArg + 1]) } : {}),
  });
  printRows(rows);
}
