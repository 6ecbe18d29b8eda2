/**
 * The rotation matrix: {create, copytruncate} × {rotated names in the globs, not} × {no kill, agent SIGKILLed,
 * collector SIGKILLed, both}, with real processes and the real `logrotate`.
 *
 * One cell, in its own temporary directory: a writer appends numbered lines (rotation-kit.ts) to `app.log` at
 * `rate` lines/s; `logrotate -f` rotates it every `rotateEveryMs` (create: rename to app.log.1… and create a new
 * app.log; copytruncate: copy to app.log.1… and truncate app.log); the real collector (flush=always) and the real
 * agent (globs `app.log`, or `app.log` + `app.log.*`) run, and the cell's kill pattern SIGKILLs and restarts them
 * on a schedule drawn from the seed. Then the writer stops, the last lines are given time to arrive (until nothing
 * moves for `settleMs`), and every written line is looked up in the topic.
 *
 * `test/agent/rotation-matrix.test.ts` runs short cells in CI; `npm run soak -- --matrix --seconds 60` runs long
 * ones (`node --import tsx test/soak/rotation-matrix.ts --help`).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type AgentProcess, fetchAll, startAgentProcess, writeAgentConfig } from '../agent/support.ts';
import { CollectorProcess } from '../helpers/collector-process.ts';
import {
  type LineTally,
  logrotateBlock,
  prng,
  type RotationMode,
  runLogrotate,
  sleep,
  sequencesOnDisk,
  tallyLines,
  Writer,
} from './rotation-kit.ts';

export type KillPattern = 'none' | 'agent' | 'collector' | 'both';
export const KILL_PATTERNS: readonly KillPattern[] = ['none', 'agent', 'collector', 'both'];
export const MODES: readonly RotationMode[] = ['create', 'copytruncate'];

export interface CellOptions {
  readonly mode: RotationMode;
  /** True: the agent's globs are `app.log` and `app.log.*`; false: `app.log` only. */
  readonly rotatedInGlob: boolean;
  readonly kill: KillPattern;
  /** How long the writer writes. */
  readonly seconds: number;
  /** Lines per second (≥ 2,000 for the issue's matrix). */
  readonly rate?: number;
  readonly rotateEveryMs?: number;
  /** SIGKILLs during the run (alternating collector/agent for `both`). */
  readonly kills?: number;
  /** The agent's `checkpoint.interval`, in ms. */
  readonly checkpointIntervalMs?: number;
  readonly seed?: number;
  /** Progress lines on stderr. */
  readonly verbose?: boolean;
}

export interface CellReport extends LineTally {
  readonly name: string;
  readonly mode: RotationMode;
  readonly rotatedInGlob: boolean;
  readonly kill: KillPattern;
  readonly seed: number;
  readonly rate: number;
  /**
   * Lost lines still in a file of the log folder at the end: lines the agent had every chance to read. The
   * promise is 0 in every cell.
   */
  readonly lostOnDisk: number;
  /** A few of them, for a look at the logs. */
  readonly lostOnDiskSample: readonly number[];
  /**
   * Lost lines in no file at the end: copytruncate's inherent window (written after logrotate's copy, before its
   * truncate), which no reader can ship. With create rotation the writer's lines always land in some file.
   */
  readonly lostInWindow: number;
  readonly rotations: number;
  readonly logrotateFailures: number;
  readonly truncationsSeen: number;
  readonly kills: { readonly collector: number; readonly agent: number };
  readonly foreign: number;
  readonly checkpointIntervalMs: number;
  /** Seconds from the writer's stop until nothing new arrived. */
  readonly settleSeconds: number;
  /**
   * The most lines the agent acknowledged within one second (sampled from its metrics every 200 ms): what a
   * SIGKILL can make it send again is what was acknowledged since its last checkpoint write.
   */
  readonly maxAckedPerSecond: number;
  /** The agent's `collector.max_request_bytes` over a line's size: the most lines one request can hold. */
  readonly linesPerRequest: number;
}

/** Bytes per line the writer appends (prefix, numbers, 100 bytes of padding). */
const LINE_BYTES = 130;
const MAX_REQUEST_BYTES = 512 * 1024;

const TOPIC = 'matrix';

export function cellName(c: Pick<CellOptions, 'mode' | 'rotatedInGlob' | 'kill'>): string {
  return `${c.mode}/${c.rotatedInGlob ? 'app.log+app.log.*' : 'app.log'}/kill:${c.kill}`;
}

/**
 * True when the agent has nothing left to send: every open file read and acknowledged to its end, nothing in flight
 * (a loaded machine can be minutes behind; lines it has not sent yet are late, not lost).
 */
async function caughtUp(agent: AgentProcess): Promise<boolean> {
  try {
    const behind = await agent.metric('tributary_agent_bytes_behind');
    const unacked = await agent.metric('tributary_agent_unacked_bytes');
    return behind === 0 && unacked === 0;
  } catch {
    return false;
  }
}

/**
 * With MATRIX_DEBUG_DIR set, each agent's log lines are kept there (a look at a failing cell), with the agent's
 * checkpoint file and the log folder's files (inode, size, first and last line) as they were at that moment.
 */
async function debugDump(name: string, logs: readonly Record<string, unknown>[], cellDir: string): Promise<void> {
  const dir = process.env.MATRIX_DEBUG_DIR;
  if (!dir) return;
  await writeFile(path.join(dir, `${name}.ndjson`), logs.map((l) => JSON.stringify(l)).join('\n'));
  const checkpoints = await readFile(path.join(cellDir, 'state', 'checkpoints.json'), 'utf8').catch(() => '(none)');
  const files: string[] = [];
  for (const entry of await readdir(path.join(cellDir, 'logs'))) {
    const filePath = path.join(cellDir, 'logs', entry);
    const [st, text] = await Promise.all([stat(filePath), readFile(filePath, 'utf8').catch(() => '')]);
    const lines = text.split('\n').filter(Boolean);
    files.push(
      `${entry} ino=${st.ino} size=${st.size} first=${lines[0]?.slice(0, 20)} last=${lines.at(-1)?.slice(0, 20)}`,
    );
  }
  await writeFile(path.join(dir, `${name}.state.txt`), `${checkpoints}\n\n${files.join('\n')}\n`);
}

export async function runCell(options: CellOptions): Promise<CellReport> {
  const rate = options.rate ?? 2000;
  const rotateEveryMs = options.rotateEveryMs ?? 700;
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const checkpointIntervalMs = options.checkpointIntervalMs ?? 100;
  const random = prng(seed);
  const name = cellName(options);
  const say = (msg: string) => {
    if (options.verbose) process.stderr.write(`[${new Date().toISOString().slice(11, 23)} ${name}] ${msg}\n`);
  };
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-matrix-'));
  const logs = path.join(dir, 'logs');
  const file = path.join(logs, 'app.log');
  await mkdir(logs);
  await writeFile(file, '');
  const rotateConfig = path.join(dir, 'logrotate.conf');
  const rotateState = path.join(dir, 'logrotate.state');
  await writeFile(rotateConfig, logrotateBlock(file, options.mode, 1000), { mode: 0o644 });

  let collector: CollectorProcess | undefined;
  let agent: AgentProcess | undefined;
  let writer: Writer | undefined;
  let rotating = true;
  let sampling = true;
  let rotations = 0;
  let logrotateFailures = 0;
  const kills = { collector: 0, agent: 0 };
  try {
    collector = await CollectorProcess.start({
      config: { topics: { flush: 'always', default_partitions: 1 } },
      readyTimeoutMs: 180_000,
    });
    const agentConfig = await writeAgentConfig({
      dir,
      collectorUrl: collector.url,
      sources: [{ name: 'app', include: options.rotatedInGlob ? [file, `${file}.*`] : [file], topic: TOPIC }],
      extra: {
        read: { poll_interval: '50ms', rotate_wait: '1s', retry_open: '500ms' },
        checkpoint: { interval: `${checkpointIntervalMs}ms` },
        collector: {
          urls: [collector.url],
          retry: { initial: '50ms', max: '1s' },
          timeout: '10s',
          max_request_bytes: MAX_REQUEST_BYTES,
        },
      },
    });
    agent = await startAgentProcess(agentConfig, { startTimeoutMs: 180_000 });
    writer = new Writer({ prefix: 'm', file: 'app', filePath: file, rate, padding: 100 });
    // Acknowledgements per second, sampled from the live agent's metrics.
    const samples: { at: number; acked: number; pid: number }[] = [];
    const sampler = (async () => {
      while (sampling) {
        const current = agent;
        try {
          const acked = await current!.metric('tributary_agent_lines_acknowledged_total');
          samples.push({ at: Date.now(), acked, pid: current!.pid });
        } catch {
          // killed meanwhile
        }
        await sleep(200);
      }
    })();
    const maxAckedPerSecond = () => {
      let best = 0;
      for (let i = 0; i < samples.length; i++) {
        for (let j = i + 1; j < samples.length && samples[j]!.at - samples[i]!.at <= 1200; j++) {
          if (samples[j]!.pid === samples[i]!.pid) best = Math.max(best, samples[j]!.acked - samples[i]!.acked);
        }
      }
      return best;
    };
    const started = Date.now();
    const stopAt = started + options.seconds * 1000;

    const rotation = (async () => {
      while (rotating) {
        await sleep(rotateEveryMs * (0.75 + random() * 0.5));
        if (!rotating) break;
        const result = await runLogrotate(rotateConfig, rotateState);
        if (result.code === 0) rotations++;
        else {
          logrotateFailures++;
          say(`logrotate exited ${result.code}: ${result.stderr.trim()}`);
        }
      }
    })();

    if (options.kill !== 'none') {
      const count = options.kills ?? Math.max(2, Math.floor(options.seconds / 2.5));
      // Spread over the run, each at least `gap` after the previous restart (a slow restart delays the next kill
      // rather than killing a process that has not had the time to acknowledge anything).
      const gap = Math.max(options.seconds - 2, 1) / count;
      await sleep(1000);
      for (let k = 0; k < count; k++) {
        await sleep(gap * 1000 * (0.5 + random() * 0.5));
        const target = options.kill === 'both' ? (k % 2 === 0 ? 'agent' : 'collector') : options.kill;
        const down = 200 + random() * 1200;
        if (target === 'collector') {
          await collector.kill();
          kills.collector++;
          await sleep(down);
          await collector.restart();
        } else {
          await agent.kill();
          await debugDump(`agent-${kills.agent}`, agent.logs, dir);
          kills.agent++;
          await sleep(down);
          agent = await startAgentProcess(agentConfig, { startTimeoutMs: 180_000 });
        }
        say(`SIGKILL ${target}, down ${Math.round(down)} ms`);
      }
    }
    const rest = stopAt - Date.now();
    if (rest > 0) await sleep(rest);
    rotating = false;
    await rotation;
    const written = await writer.stop();
    say(`writer stopped at ${written} lines; ${rotations} rotations`);

    // Settle: until every line is there, or nothing new arrived for 5 s (lost lines never come).
    const settleFrom = Date.now();
    let lastCount = -1;
    let lastProgress = Date.now();
    let values: string[] = [];
    for (;;) {
      values = (await fetchAll(collector.url, TOPIC)).map((r) => r.value.toString('utf8'));
      const unique = new Set(values).size;
      if (unique >= written) {
        // Everything is there; a moment more for duplicates still in flight.
        await sleep(500);
        values = (await fetchAll(collector.url, TOPIC)).map((r) => r.value.toString('utf8'));
        break;
      }
      if (unique !== lastCount) {
        lastCount = unique;
        lastProgress = Date.now();
      } else if (Date.now() - lastProgress > 5000 && (await caughtUp(agent))) break;
      else if (Date.now() - lastProgress > 60_000) break;
      if (Date.now() - settleFrom > 300_000) break;
      await sleep(250);
    }
    const settleSeconds = (Date.now() - settleFrom) / 1000;
    sampling = false;
    await sampler;
    const { files, foreign } = tallyLines('m', new Map([['app', written]]), values);
    const tally = files[0]!;
    // logrotate keeps every rotated file (rotate 1000): a line written is in one of them unless a truncate took it.
    const onDisk = await sequencesOnDisk(logs, 'm', 'app');
    const lostOnDisk = tally.lostSequences.filter((seq) => onDisk.has(seq));
    await debugDump('agent-last', agent.logs, dir);
    if (process.env.MATRIX_DEBUG_DIR) {
      await writeFile(path.join(process.env.MATRIX_DEBUG_DIR, 'values.txt'), values.join('\n'));
    }
    return {
      ...tally,
      lostOnDisk: lostOnDisk.length,
      lostOnDiskSample: lostOnDisk.slice(0, 10),
      lostInWindow: tally.lost - lostOnDisk.length,
      name,
      mode: options.mode,
      rotatedInGlob: options.rotatedInGlob,
      kill: options.kill,
      seed,
      rate,
      rotations,
      logrotateFailures,
      truncationsSeen: writer.truncationsSeen,
      kills,
      foreign,
      checkpointIntervalMs,
      settleSeconds,
      maxAckedPerSecond: maxAckedPerSecond(),
      linesPerRequest: Math.ceil(MAX_REQUEST_BYTES / LINE_BYTES),
    };
  } finally {
    rotating = false;
    sampling = false;
    await writer?.stop();
    await agent?.kill();
    await collector?.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

export function allCells(): Pick<CellOptions, 'mode' | 'rotatedInGlob' | 'kill'>[] {
  const out: Pick<CellOptions, 'mode' | 'rotatedInGlob' | 'kill'>[] = [];
  for (const mode of MODES)
    for (const rotatedInGlob of [false, true])
      for (const kill of KILL_PATTERNS) out.push({ mode, rotatedInGlob, kill });
  return out;
}

/**
 * Runs `cells` with at most `concurrency` at a time; reports in the order given. A cell that fails to run (a process
 * that did not start in time) is reported on stderr and left out; the others run to their end and clean up.
 */
export async function runMatrix(
  cells: readonly CellOptions[],
  concurrency: number,
  onReport?: (r: CellReport) => void,
): Promise<CellReport[]> {
  const reports: (CellReport | undefined)[] = new Array(cells.length);
  let next = 0;
  const worker = async () => {
    while (next < cells.length) {
      const i = next++;
      try {
        reports[i] = await runCell(cells[i]!);
        onReport?.(reports[i]!);
      } catch (error) {
        process.stderr.write(`${cellName(cells[i]!)}: could not run: ${(error as Error).message}\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, cells.length) }, worker));
  return reports.filter((r): r is CellReport => r !== undefined);
}

export function formatCells(reports: readonly CellReport[]): string {
  const pct = (n: number, of: number) => `${((100 * n) / Math.max(of, 1)).toFixed(3)} %`;
  // The copytruncate window as time: lines in no file, at the writer's rate, per rotation.
  const windowMs = (r: CellReport) => ((1000 * r.lostInWindow) / r.rate / Math.max(r.rotations, 1)).toFixed(1);
  return [
    '| cell                                          | written | lost |  lost % | lost on disk | window ms/rotation |   dup | kills (a/c) | acked/s max | rotations | out of order | seed       |',
    '| --------------------------------------------- | ------- | ---- | ------- | ------------ | ------------------ | ----- | ----------- | ----------- | --------- | ------------ | ---------- |',
    ...reports.map(
      (r) =>
        `| ${r.name.padEnd(45)} | ${String(r.written).padStart(7)} | ${String(r.lost).padStart(4)} | ` +
        `${pct(r.lost, r.written).padStart(7)} | ${String(r.lostOnDisk).padStart(12)} | ${windowMs(r).padStart(18)} | ` +
        `${String(r.duplicates).padStart(5)} | ` +
        `${`${r.kills.agent}/${r.kills.collector}`.padStart(11)} | ${String(r.maxAckedPerSecond).padStart(11)} | ` +
        `${String(r.rotations).padStart(9)} | ${String(r.outOfOrder).padStart(12)} | ${String(r.seed).padEnd(10)} |`,
    ),
  ].join('\n');
}

function parseArgs(argv: readonly string[]) {
  const value = (flag: string): number | undefined => {
    const i = argv.indexOf(flag);
    if (i < 0) return undefined;
    const n = Number(argv[i + 1]);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} needs a positive number, got ${argv[i + 1]}`);
    return n;
  };
  const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
  return {
    seconds: value('--seconds') ?? 60,
    concurrency: value('--concurrency') ?? 2,
    seed: value('--seed'),
    rate: value('--rate'),
    only,
  };
}

/** The command line: `node --import tsx test/soak/rotation-matrix.ts --help` (or `npm run soak -- --matrix …`). */
export async function main(argv: readonly string[]): Promise<void> {
  if (argv.includes('--help')) {
    process.stdout.write(
      'rotation-matrix.ts [--seconds 60] [--concurrency 2] [--seed N] [--rate 2000] [--only <cell substring>]\n',
    );
    return;
  }
  const args = parseArgs(argv);
  const cells = allCells()
    .filter((c) => !args.only || cellName(c).includes(args.only))
    .map(
      (c): CellOptions => ({
        ...c,
        seconds: args.seconds,
        verbose: true,
        ...(args.seed === undefined ? {} : { seed: args.seed }),
        ...(args.rate === undefined ? {} : { rate: args.rate }),
      }),
    );
  const reports = await runMatrix(cells, args.concurrency, (r) =>
    process.stderr.write(`${formatCells([r]).split('\n')[2]}\n`),
  );
  process.stdout.write(`${formatCells(reports)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
