import { type BenchRow, printRows } from './bench-row.ts';
/**
 * Start-up and idle cost of the `tributary` command, compiled (dist/) against run through tsx, side by side in one
 * run:
 *
 *   node --import tsx bench/startup.bench.ts [--quick]      (or: npm run bench -- --only startup)
 *
 * Rows, for each runner: `tributary --help` wall time and `tributary query` wall time (a real collector child
 * process with 2,000 lines in its topic; the query returns 100), each the median of several runs; and an idle
 * agent's RSS (VmRSS) 3 s after its metrics endpoint came up, tailing one empty file.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { startTestCollector } from '../test/agent/support.ts';
import { REPO, type Runner, tributaryArgs } from './tributary-command.ts';

export type { BenchRow } from './bench-row.ts';

const RUNNERS: readonly Runner[] = ['tsx', 'dist'];

function medianWallMs(args: string[], runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const r = spawnSync(process.execPath, args, { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
    times.push(performance.now() - started);
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited with ${r.status}: ${r.stderr}`);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

async function idleAgentRss(runner: Runner, dir: string): Promise<number> {
  const log = path.join(dir, `${runner}.log`);
  await writeFile(log, '');
  const config = path.join(dir, `${runner}-agent.yaml`);
  await writeFile(
    config,
    stringify({
      sources: [{ include: [log], topic: 'idle' }],
      collector: { urls: ['http://127.0.0.1:9'] },
      state_dir: path.join(dir, `${runner}-state`),
      metrics: { listen: '127.0.0.1:0' },
    }),
  );
  const child = spawn(process.execPath, [...tributaryArgs(runner), 'agent', '--config', config], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error('the agent did not start in 60 s')), 60_000);
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
        if (/"metrics":"http:/.test(text)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`agent exited with ${code}`)));
    });
    await new Promise((r) => setTimeout(r, 3000));
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) * 1024;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

export async function run(opts: { quick: boolean }): Promise<BenchRow[]> {
  const runs = opts.quick ? 3 : 7;
  const rows: BenchRow[] = [];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-startup-bench-'));
  const collector = await startTestCollector();
  try {
    const lines = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ key: 'k', value: `line ${i} GET /x` }));
    const res = await fetch(`${collector.url}/v1/topics/startup/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: `${lines.join('\n')}\n`,
    });
    if (!res.ok) throw new Error(`produce: ${res.status} ${await res.text()}`);
    const measured = new Map<Runner, { help: number; query: number; rss: number }>();
    for (const runner of RUNNERS) {
      const help = medianWallMs([...tributaryArgs(runner), '--help'], runs);
      const query = medianWallMs(
        [...tributaryArgs(runner), 'query', 'startup', '--url', collector.url, '--grep', 'GET', '-o', 'raw'],
        runs,
      );
      const rss = await idleAgentRss(runner, dir);
      measured.set(runner, { help, query, rss });
      const c = `tributary via ${runner === 'dist' ? 'dist/ (compiled)' : 'tsx (sources)'}`;
      rows.push({
        bench: 'startup',
        case: c,
        metric: '--help wall time',
        value: help,
        unit: 'ms',
        note: `median of ${runs}`,
      });
      rows.push({
        bench: 'startup',
        case: c,
        metric: 'query wall time',
        value: query,
        unit: 'ms',
        note: `median of ${runs}`,
      });
      rows.push({ bench: 'startup', case: c, metric: 'idle agent RSS', value: rss / 2 ** 20, unit: 'MiB' });
    }
    const tsx = measured.get('tsx')!;
    const dist = measured.get('dist')!;
    rows.push({
      bench: 'startup',
      case: 'dist / tsx',
      metric: '--help wall time',
      value: dist.help / tsx.help,
      unit: 'x',
    });
    rows.push({
      bench: 'startup',
      case: 'dist / tsx',
      metric: 'query wall time',
      value: dist.query / tsx.query,
      unit: 'x',
    });
    rows.push({ bench: 'startup', case: 'dist / tsx', metric: 'idle agent RSS', value: dist.rss / tsx.rss, unit: 'x' });
  } finally {
    await collector.close();
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const rows = await run({ quick: process.argv.includes('--quick') });
  printRows(rows);
}
