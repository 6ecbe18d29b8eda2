/**
 * The Kafka listener against the HTTP API, side by side in one run, on one topic of ~200-byte records:
 *
 *   npm run bench -- --only kafka [--quick]        (1 GiB; --quick: 64 MiB; KAFKA_BENCH_MIB=N overrides)
 *
 * Fetch (from the beginning to the end, 4 partitions, MB/s of stored batch bytes):
 *   1. raw parallel HTTP binary fetch: one keep-alive loop per partition, `Accept: application/vnd.tributary.batch`
 *   2. our HTTP `Consumer` (tributary/client), from earliest
 *   3. kcat (librdkafka) consuming every partition from the beginning to /dev/null
 *   4. Confluent's Python Consumer, every partition assigned from the beginning, counting messages
 *   Targets: kcat >= 0.5x raw HTTP fetch and >= 3x the HTTP Consumer.
 * Produce (the same records, MB/s of line bytes):
 *   5. kcat producing the lines from a file (librdkafka batching, acks=all)
 *   6. HTTP produce of the same lines as 1 MiB binary batches, 4 requests in flight
 *   Target: kcat >= 0.5x HTTP produce.
 * The collector is a child process (`tributary collector`), flush=always, on a temporary directory.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { BatchBuilder } from '../shared/batch-codec.ts';
import { CollectorClient } from '../shared/client/collector-client.ts';
import { Consumer } from '../shared/client/consumer.ts';
import { CollectorProcess } from '../test/helpers/collector-process.ts';
import { freePort } from '../test/helpers/ports.ts';
import type { BenchRow } from './bench-row.ts';

const MiB = 1024 * 1024;
const PARTITIONS = 4;
const RECORD = 200;

const seconds = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e9;

/**
 * Runs a command to its end. `toDevNull`: its standard output is /dev/null itself (stdio 'ignore'), as with a
 * shell's `>/dev/null`, so no process of ours spends CPU reading what a consumer prints.
 */
function exec(
  command: string,
  args: readonly string[],
  { toDevNull = false } = {},
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', toDevNull ? 'ignore' : 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('close', (code) => resolve({ code, stderr, stdout }));
  });
}

function line(i: number): Buffer {
  const head = `${new Date(1_764_000_000_000 + i).toISOString()} level=info host=bench msg="request ${i} served" `;
  return Buffer.from(head.padEnd(RECORD - 1, 'x').slice(0, RECORD - 1));
}

/** HTTP produce of `count` lines as ~1 MiB binary batches, one key per partition, 4 requests in flight. */
async function httpProduce(url: string, topic: string, count: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const target = new URL(`${url}/v1/topics/${topic}/records`);
  const post = (body: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(
        target,
        { method: 'POST', agent, headers: { 'content-type': 'application/vnd.tributary.batch' } },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const perBatch = Math.floor(MiB / (RECORD + 4));
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: 4 }, async (_v, worker) => {
      for (;;) {
        const first = next;
        if (first >= count) return;
        next = Math.min(count, first + perBatch);
        const builder = new BatchBuilder(
          `bench-${worker}:/var/log/app.log`,
          { host: 'bench', service: 'app' },
          MiB + 4096,
        );
        const ts = Date.now();
        for (let i = first; i < next; i++) builder.add(ts, line(i));
        await post(builder.finish());
      }
    }),
  );
  agent.destroy();
  return seconds(started);
}

/** Reads every partition from its start to its end with binary HTTP fetches, in parallel; returns the seconds. */
async function rawFetch(url: string, topic: string, ends: readonly number[]): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: PARTITIONS });
  const get = (p: number, offset: number) =>
    new Promise<number>((resolve, reject) => {
      const req = http.get(
        `${url}/v1/topics/${topic}/partitions/${p}/records?offset=${offset}&max_bytes=${4 * MiB}`,
        { agent, headers: { accept: 'application/vnd.tributary.batch' } },
        (res) => {
          res.on('data', () => {});
          res.on('end', () => resolve(Number(res.headers['tributary-next-offset'])));
        },
      );
      req.on('error', reject);
    });
  const started = process.hrtime.bigint();
  await Promise.all(
    ends.map(async (end, p) => {
      for (let offset = 0; offset < end; ) offset = await get(p, offset);
    }),
  );
  agent.destroy();
  return seconds(started);
}

const PYTHON_CONSUMER = `
import sys, time
from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
c = Consumer({'bootstrap.servers': sys.argv[1], 'group.id': 'bench-python', 'enable.auto.commit': False,
              'fetch.max.bytes': 67108864, 'max.partition.fetch.bytes': 16777216})
c.assign([TopicPartition(sys.argv[2], p, OFFSET_BEGINNING) for p in range(int(sys.argv[3]))])
want = int(sys.argv[4])
n = 0
t = time.time()
while n < want:
    for m in c.consume(num_messages=10000, timeout=1.0):
        if not m.error():
            n += 1
print(n, time.time() - t)
c.close()
`;

export async function run({ quick }: { quick: boolean }): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const row = (c: string, metric: string, value: number, unit: string, note?: string) =>
    rows.push({ bench: 'kafka', case: c, metric, value, unit, ...(note ? { note } : {}) });
  const mib = Number(process.env.KAFKA_BENCH_MIB ?? (quick ? 64 : 1024));
  const count = Math.floor((mib * MiB) / RECORD);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-kafka-bench-'));
  const kafkaPort = await freePort();
  const collector = await CollectorProcess.start({
    config: {
      kafka: { listen: `127.0.0.1:${kafkaPort}`, max_request_bytes: '64MiB' },
      topics: { default_partitions: PARTITIONS },
    },
  });
  const bootstrap = `127.0.0.1:${kafkaPort}`;
  try {
    const client = new CollectorClient({ urls: collector.url });
    await client.createTopic({ name: 'bench-fetch', partitions: PARTITIONS });
    const httpSeconds = await httpProduce(collector.url, 'bench-fetch', count);
    const lineMB = (count * (RECORD - 1)) / 1e6;
    const info = await client.describeTopic('bench-fetch');
    const storedMB = info.partitions.reduce((n, p) => n + p.size_bytes, 0) / 1e6;
    const ends = info.partitions.map((p) => p.end_offset);

    const raw = storedMB / (await rawFetch(collector.url, 'bench-fetch', ends));
    row('fetch', 'raw parallel HTTP binary fetch', raw, 'MB/s', `${storedMB.toFixed(0)} MB stored`);

    const consumer = new Consumer({
      urls: collector.url,
      group: 'bench-http',
      topics: ['bench-fetch'],
      from: 'earliest',
      maxBytes: 4 * MiB,
    });
    let t = process.hrtime.bigint();
    let n = 0;
    for await (const _ of consumer) if (++n === count) break;
    await consumer.close();
    const httpConsumer = storedMB / seconds(t);
    row('fetch', 'HTTP Consumer (tributary/client)', httpConsumer, 'MB/s');

    t = process.hrtime.bigint();
    // librdkafka's own fetch sizes (1 MiB a partition): with 16 MiB a partition, answers of up to 64 MiB filled
    // its local queue and it stopped fetching while it drained it, which halved the rate (57-69 against 132-158 MB/s
    // on 256 MB, quiet machine); neither process was busy in between.
    const consume = ['-b', bootstrap, '-C', '-t', 'bench-fetch', '-o', 'beginning', '-e', '-q', '-f', '%o\n'];
    const kcat = await exec('kcat', consume, { toDevNull: true });
    const kcatFetch = storedMB / seconds(t);
    if (kcat.code !== 0) throw new Error(`kcat consume failed: ${kcat.stderr}`);
    row('fetch', 'kcat consume to /dev/null', kcatFetch, 'MB/s');
    row('fetch', 'kcat / raw HTTP fetch', kcatFetch / raw, 'ratio', 'target >= 0.5');
    row('fetch', 'kcat / HTTP Consumer', kcatFetch / httpConsumer, 'ratio', 'target >= 3');

    const py = await exec('/usr/bin/python3', [
      '-c',
      PYTHON_CONSUMER,
      bootstrap,
      'bench-fetch',
      String(PARTITIONS),
      String(count),
    ]);
    if (py.code !== 0) throw new Error(`python consumer failed: ${py.stderr}`);
    const [pyCount, pySeconds] = py.stdout.trim().split(' ').map(Number) as [number, number];
    row('fetch', 'Python Consumer (confluent-kafka)', storedMB / pySeconds, 'MB/s', `${pyCount} records`);

    // Produce: the same lines through kcat, against the HTTP produce measured above.
    const file = path.join(dir, 'lines.txt');
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(file);
      out.on('error', reject);
      let i = 0;
      const write = () => {
        let ok = true;
        while (i < count && ok) ok = out.write(Buffer.concat([line(i++), Buffer.from('\n')]));
        if (i < count) out.once('drain', write);
        else out.end(resolve);
      };
      write();
    });
    await client.createTopic({ name: 'bench-produce', partitions: PARTITIONS });
    t = process.hrtime.bigint();
    const produced = await exec('kcat', [
      ...['-b', bootstrap, '-P', '-t', 'bench-produce', '-l', file, '-X', 'acks=all'],
      ...['-X', 'linger.ms=20', '-X', 'batch.size=1000000', '-X', 'message.max.bytes=1000000'],
    ]);
    const kcatProduce = lineMB / seconds(t);
    if (produced.code !== 0) throw new Error(`kcat produce failed: ${produced.stderr}`);
    const httpProduceRate = lineMB / httpSeconds;
    row('produce', 'HTTP produce, 1 MiB binary batches', httpProduceRate, 'MB/s', `${lineMB.toFixed(0)} MB of lines`);
    row('produce', 'kcat produce (librdkafka, acks=all)', kcatProduce, 'MB/s');
    row('produce', 'kcat / HTTP produce', kcatProduce / httpProduceRate, 'ratio', 'target >= 0.5');
  } finally {
    await collector.dispose();
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
