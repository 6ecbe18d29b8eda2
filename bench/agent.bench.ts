import { type BenchRow, printRows } from './bench-row.ts';
/**
 * Agent benchmark: lines from log files to the collector's acknowledgement, on loopback, side by side with rsyslog.
 *
 *   node --import tsx bench/agent.bench.ts [--quick] [--lines N] [--sink] [--compare-tsx | --runners tsx,dist,…]
 *
 * `--sink`: send to a bare HTTP sink in this process (CRC check, append to a file, 200) instead of the collector,
 * to measure the agent alone. `--compare-tsx`: run row 1 twice, the agent through tsx from the sources and then
 * compiled (dist/), side by side; `--runners` gives the list (e.g. tsx,dist,dist,tsx: alternated rounds, for a
 * machine whose load drifts during the run); otherwise the agent runs compiled, as shipped.
 *
 * Rows:
 * 1. one file of ~200-byte lines (1 GiB full, 40 MB quick), written before the agent starts, agent -> collector to
 *    the last acknowledgement: lines/s, MB/s, agent CPU seconds per GiB, agent peak RSS. Every line is then read
 *    back from the collector and checked (a bitmap over sequence numbers).
 * 2. the same file through rsyslog (bench/rsyslog/run.sh: imfile inotify -> omfwd TCP -> imtcp -> omfile, configured
 *    and timed as the tuned reference ../shared/peers/rsyslog-e2e.sh), same run.
 * 3. 100 files written concurrently while the agent runs.
 * 4. latency: 10,000 lines/s written for a while; write -> visible through a long-polling fetch, p50/p99.
 *
 * The agent runs as a child process (`tributary agent`), like in production; so does the collector.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, open, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { openSync, readFileSync as readWhole, writeSync, closeSync } from 'node:fs';
import { forEachRecord, readBatchHeader, splitBatches } from '../shared/batch-codec.ts';
import { startTestCollector } from '../test/agent/support.ts';
import { REPO, type Runner, tributaryArgs } from './tributary-command.ts';

export type { BenchRow } from './bench-row.ts';

const LINE_BYTES = 200;
const GIB = 1024 ** 3;

function line(seq: number, fill: string): string {
  // `0000000042 xxxx…\n`: 200 bytes, the sequence number first (check-lines.mjs and our check parse it).
  return `${String(seq).padStart(10, '0')} ${fill}\n`;
}

async function writeLinesFile(file: string, first: number, count: number): Promise<void> {
  const fill = 'x'.repeat(LINE_BYTES - 12);
  const handle = await open(file, 'w');
  try {
    const per = 20_000;
    for (let i = 0; i < count; i += per) {
      const parts: string[] = [];
      for (let j = i; j < Math.min(count, i + per); j++) parts.push(line(first + j, fill));
      await handle.write(parts.join(''));
    }
  } finally {
    await handle.close();
  }
}

interface RunningAgent {
  readonly child: ChildProcess;
  readonly metricsUrl: string;
  acked(): Promise<number>;
  cpuSeconds(): number;
  peakRssBytes(): number;
  stop(): Promise<void>;
}

async function startAgent(
  dir: string,
  include: string[],
  collectorUrl: string,
  topic: string,
  runner: Runner = 'dist',
): Promise<RunningAgent> {
  await mkdir(dir, { recursive: true });
  const config = path.join(dir, 'agent.yaml');
  await writeFile(
    config,
    stringify({
      sources: [{ include, topic }],
      collector: { urls: [collectorUrl], retry: { initial: '50ms', max: '1s' } },
      state_dir: path.join(dir, 'state'),
      metrics: { listen: '127.0.0.1:0' },
    }),
  );
  const child = spawn(process.execPath, [...tributaryArgs(runner), 'agent', '--config', config], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const metricsUrl = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      const m = /"metrics":"(http:[^"]+)"/.exec(text);
      if (m) resolve(m[1]!);
      if (text.length > 1e6) text = text.slice(-1e5);
    });
    child.once('exit', (code) => reject(new Error(`agent exited with ${code}`)));
  });
  const ticks = 100; // USER_HZ on Linux
  let lastCpu = 0;
  let peak = 0;
  const sample = () => {
    try {
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      lastCpu = (Number(stat[11]) + Number(stat[12])) / ticks;
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024);
    } catch {
      // exited
    }
  };
  return {
    child,
    metricsUrl,
    async acked() {
      sample();
      const text = await (await fetch(metricsUrl)).text();
      return Number(/^tributary_agent_lines_acknowledged_total (\S+)$/m.exec(text)?.[1] ?? 0);
    },
    cpuSeconds: () => {
      sample();
      return lastCpu;
    },
    peakRssBytes: () => {
      sample();
      return peak;
    },
    async stop() {
      sample();
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

async function waitAcked(agent: RunningAgent, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await agent.acked()) < count) {
    if (Date.now() > deadline) throw new Error(`only ${await agent.acked()} of ${count} lines acknowledged in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Reads the topic back through the binary fetch API and checks every sequence number 0..count-1 arrived. */
async function verifyAll(url: string, topic: string, count: number): Promise<{ missing: number; duplicates: number }> {
  const seen = new Uint8Array(count);
  let duplicates = 0;
  const { partitions } = (await (await fetch(`${url}/v1/topics/${topic}`)).json()) as {
    partitions: { partition: number; end_offset: number }[];
  };
  for (const p of partitions) {
    let offset = 0;
    while (offset < p.end_offset) {
      const res = await fetch(
        `${url}/v1/topics/${topic}/partitions/${p.partition}/records?offset=${offset}&max_bytes=16777216`,
        {
          headers: { accept: 'application/vnd.tributary.batch' },
        },
      );
      if (!res.ok) throw new Error(`fetch: ${res.status} ${await res.text()}`);
      const body = Buffer.from(await res.arrayBuffer());
      let pos = 0;
      let next = offset;
      while (pos < body.length) {
        const header = readBatchHeader(body, pos);
        forEachRecord(body.subarray(pos, pos + header.size), (r) => {
          if (r.offset < offset) return true;
          const seq = Number(r.value.toString('latin1', 0, 10));
          if (seq >= 0 && seq < count) {
            if (seen[seq]) duplicates++;
            seen[seq] = 1;
          }
          next = r.offset + 1;
          return true;
        });
        pos += header.size;
      }
      if (next === offset) break;
      offset = next;
    }
  }
  let missing = 0;
  for (let i = 0; i < count; i++) if (!seen[i]) missing++;
  return { missing, duplicates };
}

/** Where the agent sends: the real collector (default), or a bare HTTP sink that only measures the agent. */
interface Target {
  readonly kind: 'collector' | 'sink';
  readonly url: string;
  verify(topic: string, count: number): Promise<{ missing: number; duplicates: number }>;
  /** Calls `onRecord(seq, at)` as each record of `topic` becomes acknowledged (sink) or fetchable (collector). */
  watch(topic: string, onRecord: (seq: number, at: number) => void): { stop(): Promise<void> };
  close(): Promise<void>;
}

async function collectorTarget(): Promise<Target> {
  const collector = await startTestCollector();
  return {
    kind: 'collector',
    url: collector.url,
    verify: (topic, count) => verifyAll(collector.url, topic, count),
    watch(topic, onRecord) {
      let stopping = false;
      const loop = (async () => {
        let offset = 0;
        while (!stopping) {
          const res = await fetch(
            `${collector.url}/v1/topics/${topic}/partitions/0/records?offset=${offset}&wait_ms=500&max_bytes=4194304`,
            { headers: { accept: 'application/vnd.tributary.batch' } },
          ).catch(() => undefined);
          if (!res?.ok) {
            await new Promise((r) => setTimeout(r, 20));
            continue;
          }
          const body = Buffer.from(await res.arrayBuffer());
          const now = performance.now();
          let pos = 0;
          while (pos < body.length) {
            const header = readBatchHeader(body, pos);
            forEachRecord(body.subarray(pos, pos + header.size), (r) => {
              if (r.offset < offset) return true;
              onRecord(Number(r.value.toString('latin1', 0, 10)), now);
              offset = r.offset + 1;
              return true;
            });
            pos += header.size;
          }
        }
      })();
      return {
        stop: async () => {
          stopping = true;
          await loop;
        },
      };
    },
    close: () => collector.close(),
  };
}

/**
 * A bare produce endpoint: checks each batch's structure and CRC (splitBatches), appends the bytes to a file per
 * topic and answers 200 (no fsync, like rsyslog's omfile). It isolates the agent's own cost from the collector's.
 */
async function sinkTarget(dir: string): Promise<Target> {
  const files = new Map<string, number>();
  const watchers = new Map<string, (seq: number, at: number) => void>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const topic = /^\/v1\/topics\/([^/]+)\/records$/.exec(req.url ?? '')?.[1];
      if (req.method !== 'POST' || !topic) {
        res.writeHead(404).end();
        return;
      }
      const body = Buffer.concat(chunks);
      const batches = splitBatches(body);
      let fd = files.get(topic);
      if (fd === undefined) {
        fd = openSync(path.join(dir, `${topic}.batches`), 'a');
        files.set(topic, fd);
      }
      writeSync(fd, body);
      const watch = watchers.get(topic);
      if (watch) {
        const now = performance.now();
        for (const b of batches) {
          forEachRecord(b.bytes, (r) => {
            watch(Number(r.value.toString('latin1', 0, 10)), now);
            return true;
          });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    kind: 'sink',
    url,
    async verify(topic, count) {
      const seen = new Uint8Array(count);
      let duplicates = 0;
      const bytes = readWhole(path.join(dir, `${topic}.batches`));
      let pos = 0;
      while (pos < bytes.length) {
        const header = readBatchHeader(bytes, pos);
        forEachRecord(bytes.subarray(pos, pos + header.size), (r) => {
          const seq = Number(r.value.toString('latin1', 0, 10));
          if (seq >= 0 && seq < count) {
            if (seen[seq]) duplicates++;
            seen[seq] = 1;
          }
          return true;
        });
        pos += header.size;
      }
      let missing = 0;
      for (let i = 0; i < count; i++) if (!seen[i]) missing++;
      return { missing, duplicates };
    },
    watch(topic, onRecord) {
      watchers.set(topic, onRecord);
      return { stop: async () => void watchers.delete(topic) };
    },
    async close() {
      for (const fd of files.values()) closeSync(fd);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function rsyslog(
  file: string,
  lines: number,
): Promise<{ seconds: number; cpu: number; rss: number; ok: boolean }> {
  const { stdout } = await promisify(execFile)(path.join(REPO, 'bench/rsyslog/run.sh'), [file, String(lines)], {
    maxBuffer: 1 << 20,
  });
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as {
    seconds: number;
    agent_cpu_s: number;
    agent_peak_rss_mb: number;
    all_lines_arrived: boolean;
  };
  return { seconds: r.seconds, cpu: r.agent_cpu_s, rss: r.agent_peak_rss_mb * 2 ** 20, ok: r.all_lines_arrived };
}

export async function run(opts: {
  quick: boolean;
  lines?: number;
  sink?: boolean;
  /** Row 1 for each runner, in this order (default: dist only). */
  runners?: readonly Runner[];
}): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const lines = opts.lines ?? (opts.quick ? 200_000 : Math.floor(GIB / LINE_BYTES));
  const work = path.join(os.tmpdir(), `tributary-agent-bench-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const input = path.join(work, 'input', 'big.log');
  await mkdir(path.dirname(input));
  await writeLinesFile(input, 0, lines);
  const bytes = (await stat(input)).size;
  const size = `${(bytes / 1e6).toFixed(0)} MB`;
  let target: Target | undefined;
  try {
    // 1. One big file (per runner: through tsx, compiled).
    target = opts.sink ? await sinkTarget(work) : await collectorTarget();
    const to = target.kind === 'sink' ? 'agent -> bare sink' : 'agent -> collector';
    let seconds = Number.NaN;
    for (const [round, runner] of (opts.runners ?? ['dist']).entries()) {
      const topic = `bench-one-${round}-${runner}`;
      const started = performance.now();
      const agent = await startAgent(path.join(work, `agent-1-${round}-${runner}`), [input], target.url, topic, runner);
      await waitAcked(agent, lines, 3_600_000);
      seconds = (performance.now() - started) / 1000;
      const cpu = agent.cpuSeconds();
      const rss = agent.peakRssBytes();
      await agent.stop();
      const check = await target.verify(topic, lines);
      const c1 = `${to} (${runner}${opts.runners && opts.runners.length > 2 ? `, round ${round + 1}` : ''}): one file, ${size}, ${lines} lines`;
      rows.push({ bench: 'agent', case: c1, metric: 'throughput', value: lines / seconds, unit: 'lines/s' });
      rows.push({ bench: 'agent', case: c1, metric: 'throughput', value: bytes / 1e6 / seconds, unit: 'MB/s' });
      rows.push({ bench: 'agent', case: c1, metric: 'agent CPU', value: cpu / (bytes / GIB), unit: 's/GiB' });
      rows.push({
        bench: 'agent',
        case: c1,
        metric: 'agent peak RSS',
        value: rss / 2 ** 20,
        unit: 'MiB',
        note: 'target <= 150',
      });
      rows.push({
        bench: 'agent',
        case: c1,
        metric: 'lines missing / duplicated',
        value: check.missing + check.duplicates,
        unit: 'lines',
        note: `missing ${check.missing}, duplicates ${check.duplicates}`,
      });
    }

    // 2. rsyslog, same file, same run.
    const rs = await rsyslog(input, lines);
    const c2 = `rsyslog, same file`;
    rows.push({
      bench: 'agent',
      case: c2,
      metric: 'throughput',
      value: lines / rs.seconds,
      unit: 'lines/s',
      note: rs.ok ? 'every line arrived' : 'LINES MISSING',
    });
    rows.push({ bench: 'agent', case: c2, metric: 'throughput', value: bytes / 1e6 / rs.seconds, unit: 'MB/s' });
    rows.push({ bench: 'agent', case: c2, metric: 'agent CPU', value: rs.cpu / (bytes / GIB), unit: 's/GiB' });
    rows.push({ bench: 'agent', case: c2, metric: 'agent peak RSS', value: rs.rss / 2 ** 20, unit: 'MiB' });
    rows.push({
      bench: 'agent',
      case: `tributary (${(opts.runners ?? ['dist']).at(-1)}) / rsyslog`,
      metric: 'throughput ratio',
      value: rs.seconds / seconds,
      unit: 'x',
      note: 'target >= 1.5',
    });

    // 3. 100 files written concurrently while the agent runs.
    const files = 100;
    const perFile = Math.floor(lines / files);
    const dir100 = path.join(work, 'input100');
    await mkdir(dir100);
    const agent100 = await startAgent(path.join(work, 'agent-100'), [`${dir100}/*.log`], target.url, 'bench-many');
    const t100 = performance.now();
    await writeConcurrently(dir100, files, perFile);
    await waitAcked(agent100, files * perFile, 3_600_000);
    const s100 = (performance.now() - t100) / 1000;
    const cpu100 = agent100.cpuSeconds();
    const rss100 = agent100.peakRssBytes();
    await agent100.stop();
    const c3 = `${to}: 100 files written concurrently, ${((files * perFile * LINE_BYTES) / 1e6).toFixed(0)} MB`;
    rows.push({ bench: 'agent', case: c3, metric: 'throughput', value: (files * perFile) / s100, unit: 'lines/s' });
    rows.push({
      bench: 'agent',
      case: c3,
      metric: 'throughput',
      value: (files * perFile * LINE_BYTES) / 1e6 / s100,
      unit: 'MB/s',
    });
    rows.push({
      bench: 'agent',
      case: c3,
      metric: 'agent CPU',
      value: cpu100 / ((files * perFile * LINE_BYTES) / GIB),
      unit: 's/GiB',
    });
    rows.push({ bench: 'agent', case: c3, metric: 'agent peak RSS', value: rss100 / 2 ** 20, unit: 'MiB' });

    // 4. Latency at 10,000 lines/s.
    const lat = await latency(work, target, opts.quick ? 5 : 20);
    const c4 = `${to}: 10,000 lines/s for ${opts.quick ? 5 : 20} s, write -> ${target.kind === 'sink' ? 'ack' : 'fetchable'}`;
    rows.push({ bench: 'agent', case: c4, metric: 'latency p50', value: lat.p50, unit: 'ms' });
    rows.push({ bench: 'agent', case: c4, metric: 'latency p99', value: lat.p99, unit: 'ms', note: 'target < 1000' });
    rows.push({
      bench: 'agent',
      case: c4,
      metric: 'lines seen',
      value: lat.seen,
      unit: 'lines',
      note: `of ${lat.written}`,
    });
  } finally {
    await target?.close();
    await rm(work, { recursive: true, force: true });
  }
  return rows;
}

async function writeConcurrently(dir: string, files: number, perFile: number): Promise<void> {
  const fill = 'y'.repeat(LINE_BYTES - 12);
  const handles = await Promise.all(Array.from({ length: files }, (_, f) => open(path.join(dir, `f${f}.log`), 'a')));
  try {
    const step = 500;
    for (let i = 0; i < perFile; i += step) {
      await Promise.all(
        handles.map((h, f) => {
          const parts: string[] = [];
          for (let j = i; j < Math.min(perFile, i + step); j++) parts.push(line(f * perFile + j, fill));
          return h.write(parts.join(''));
        }),
      );
    }
  } finally {
    await Promise.all(handles.map((h) => h.close()));
  }
}

/** Writes 10,000 lines/s into one file; records when each line becomes acknowledged (sink) or fetchable. */
async function latency(
  work: string,
  target: Target,
  seconds: number,
): Promise<{ p50: number; p99: number; seen: number; written: number }> {
  const dir = path.join(work, 'latency');
  await mkdir(dir);
  const file = path.join(dir, 'lat.log');
  await writeFile(file, '');
  const agent = await startAgent(path.join(work, 'agent-lat'), [file], target.url, 'bench-latency');
  const writtenAt: number[] = [];
  const delays: number[] = [];
  const watcher = target.watch('bench-latency', (seq, at) => {
    const written = writtenAt[seq];
    if (written !== undefined) delays.push(at - written);
  });
  const handle = await open(file, 'a');
  const fill = 'z'.repeat(LINE_BYTES - 12);
  const start = performance.now();
  let seq = 0;
  while (performance.now() - start < seconds * 1000) {
    const due = Math.floor(((performance.now() - start) / 1000) * 10_000);
    const parts: string[] = [];
    const now = performance.now();
    while (seq < due) {
      writtenAt[seq] = now;
      parts.push(line(seq++, fill));
    }
    if (parts.length > 0) await handle.write(parts.join(''));
    await new Promise((r) => setTimeout(r, 5));
  }
  await handle.close();
  const deadline = Date.now() + 15_000;
  while (delays.length < writtenAt.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await watcher.stop();
  await agent.stop();
  delays.sort((a, b) => a - b);
  const q = (p: number) => delays[Math.min(delays.length - 1, Math.floor(p * delays.length))] ?? Number.NaN;
  return { p50: q(0.5), p99: q(0.99), seen: delays.length, written: writtenAt.length };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const quick = process.argv.includes('--quick');
  const sink = process.argv.includes('--sink');
  const listed = process.argv.indexOf('--runners');
  const runners: Runner[] =
    listed > 0
      ? (process.argv[listed + 1] ?? '').split(',').map((r) => {
          if (r !== 'tsx' && r !== 'dist') throw new Error(`--runners takes tsx and dist, got '${r}'`);
          return r;
        })
      : process.argv.includes('--compare-tsx')
        ? ['tsx', 'dist']
        : ['dist'];
  const i = process.argv.indexOf('--lines');
  const lines = i > 0 ? Number(process.argv[i + 1]) : undefined;
  const rows = await run({ quick, sink, runners, ...(lines ? { lines } : {}) });
  printRows(rows);
}
