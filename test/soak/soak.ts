/**
 * The soak: `npm run soak -- --seconds 600` (default 600 s; test/fault/soak.test.ts runs a 60 s variant in CI).
 *
 * What runs, all on 127.0.0.1 in one temporary directory:
 * - four writers, each appending numbered lines at a fixed rate to its own file: `create/a.log`, `create/b.log`
 *   (rotated by rename + create) and `copy/c.log`, `copy/d.log` (rotated by copytruncate). A line is
 *   `soak <file> <seq> <inode> <padding>`: the writer opens the path (O_APPEND, never O_CREAT: logrotate creates the
 *   new file), reads the inode it is about to write to with fstat, writes, closes. So a line names the exact file
 *   (inode) it was written into, and the checker can verify order per source file.
 * - the real `logrotate` (Debian package), with its own config and state file, forced (`-f`) in a loop at random
 *   intervals: `create` for the create set (rotated names `a.log.N` stay inside the agent's `a.log*` glob, as
 *   docs/agent.md recommends), `copytruncate` for the copy set (glob `c.log` only: the agent finds each
 *   copy in the directory by its first bytes and reads from it what it had not read).
 * - the real collector (flush=always) and the real agent, each SIGKILLed and restarted at random moments: a bounded
 *   number of kills on a schedule drawn from `--seed`.
 *
 * Then the writers stop, the last lines are given time to arrive, and the checker fetches both topics and reports,
 * per file: written, received (unique), lost, duplicated (extra copies: at-least-once delivery makes them after an
 * agent SIGKILL), out of order (a line whose first copy comes after the first copy of a later line of the same
 * inode, in offset order). Promised (docs/guarantees.md): lost = 0 for the create set. For the copy set the loss is
 * the inherent copytruncate window (lines written after logrotate's copy and before its truncate, not read by the
 * agent in that instant): measured and reported.
 *
 * `--matrix` runs the rotation matrix instead (test/soak/rotation-matrix.ts: its own flags, default 60 s per cell).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
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
  sequencesOnDisk,
  sleep,
  tallyLines,
  Writer,
} from './rotation-kit.ts';

export interface SoakOptions {
  /** How long the writers write (the final catch-up and check come on top). */
  readonly seconds: number;
  /** Lines per second per writer. */
  readonly rate?: number;
  /** SIGKILLs (collector or agent, chosen at random); default one per 8 s, at most 150. */
  readonly kills?: number;
  readonly seed?: number;
  /** Progress lines on stderr. */
  readonly verbose?: boolean;
}

export interface FileReport extends LineTally {
  readonly mode: RotationMode;
  /**
   * Lost lines still in one of the file's rotated files at the end (logrotate keeps the last 40): the agent's to
   * read, so 0 is promised in both sets. The rest of a copytruncate file's loss is in no file: the inherent window.
   */
  readonly lostOnDisk?: number;
}

export interface SoakReport {
  readonly seconds: number;
  readonly seed: number;
  readonly rate: number;
  readonly files: readonly FileReport[];
  readonly kills: { readonly collector: number; readonly agent: number };
  readonly rotations: number;
  readonly logrotateFailures: number;
  /** Lines that did not parse as soak lines (must be 0). */
  readonly foreign: number;
  /** Seconds from the writers' stop until the create set was complete (or the wait gave up). */
  readonly catchUpSeconds: number;
}

const FILES: readonly { readonly name: string; readonly mode: RotationMode }[] = [
  { name: 'a', mode: 'create' },
  { name: 'b', mode: 'create' },
  { name: 'c', mode: 'copytruncate' },
  { name: 'd', mode: 'copytruncate' },
];
const TOPIC: Record<RotationMode, string> = { create: 'soak-create', copytruncate: 'soak-copy' };

function logrotateConfig(dir: string): string {
  return (
    logrotateBlock(path.join(dir, 'create', '*.log'), 'create') +
    logrotateBlock(path.join(dir, 'copy', '*.log'), 'copytruncate')
  );
}

/** Compares what the writers wrote with what the collector stored (records in offset order). */
export function check(
  written: ReadonlyMap<string, number>,
  values: readonly string[],
): { files: FileReport[]; foreign: number } {
  const ordered = new Map(FILES.map(({ name }) => [name, written.get(name) ?? 0]));
  const { files, foreign } = tallyLines('soak', ordered, values);
  return {
    files: files.map((f, i) => ({
      ...f,
      file: `${FILES[i]!.mode === 'create' ? 'create' : 'copy'}/${f.file}.log`,
      mode: FILES[i]!.mode,
    })),
    foreign,
  };
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const seconds = options.seconds;
  const rate = options.rate ?? 50;
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = prng(seed);
  const say = (msg: string) => {
    if (options.verbose) process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
  };
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-soak-'));
  await mkdir(path.join(dir, 'create'));
  await mkdir(path.join(dir, 'copy'));
  for (const { name, mode } of FILES) {
    await writeFile(path.join(dir, mode === 'create' ? 'create' : 'copy', `${name}.log`), '');
  }
  const rotateConfig = path.join(dir, 'logrotate.conf');
  const rotateState = path.join(dir, 'logrotate.state');
  await writeFile(rotateConfig, logrotateConfig(dir), { mode: 0o644 });

  let collector: CollectorProcess | undefined;
  let agent: AgentProcess | undefined;
  const writers: Writer[] = [];
  let rotating = true;
  let rotations = 0;
  let logrotateFailures = 0;
  const kills = { collector: 0, agent: 0 };
  try {
    collector = await CollectorProcess.start({
      config: { topics: { flush: 'always', default_partitions: 1 } },
      readyTimeoutMs: 180_000,
    });
    const agentDir = path.join(dir, 'agent');
    await mkdir(agentDir);
    const agentConfig = await writeAgentConfig({
      dir: agentDir,
      collectorUrl: collector.url,
      sources: [
        { name: 'create', include: [path.join(dir, 'create', '*.log*')], topic: TOPIC.create },
        { name: 'copy', include: [path.join(dir, 'copy', '*.log')], topic: TOPIC.copytruncate },
      ],
      extra: { read: { poll_interval: '50ms', rotate_wait: '2s', retry_open: '500ms' } },
    });
    agent = await startAgentProcess(agentConfig, { startTimeoutMs: 180_000 });
    say(`seed ${seed}; collector ${collector.url}; dir ${dir}`);

    for (const { name, mode } of FILES) {
      writers.push(
        new Writer({
          prefix: 'soak',
          file: name,
          filePath: path.join(dir, mode === 'create' ? 'create' : 'copy', `${name}.log`),
          rate,
        }),
      );
    }

    const rotation = (async () => {
      while (rotating) {
        await sleep(1000 + random() * 3000);
        if (!rotating) break;
        const result = await runLogrotate(rotateConfig, rotateState);
        if (result.code === 0) rotations++;
        else {
          logrotateFailures++;
          say(`logrotate exited ${result.code}: ${result.stderr.trim()}`);
        }
      }
    })();

    // The kill schedule: moments drawn up front, at least 3 s apart, none in the first or last 5 s.
    const killCount = Math.min(options.kills ?? Math.ceil(seconds / 8), 150);
    const span = Math.max(seconds - 10, 1);
    const moments = Array.from({ length: killCount }, () => 5 + random() * span).sort((x, y) => x - y);
    const started = Date.now();
    for (const moment of moments) {
      const wait = started + moment * 1000 - Date.now();
      if (wait > 0) await sleep(wait);
      const target = random() < 0.5 ? 'collector' : 'agent';
      const down = random() * 1500;
      if (target === 'collector') {
        await collector.kill();
        kills.collector++;
        await sleep(down);
        await collector.restart();
      } else {
        await agent.kill();
        kills.agent++;
        await sleep(down);
        agent = await startAgentProcess(agentConfig, { startTimeoutMs: 180_000 });
      }
      say(`SIGKILL ${target} (#${kills.collector + kills.agent}), down ${Math.round(down)} ms`);
    }
    const rest = started + seconds * 1000 - Date.now();
    if (rest > 0) await sleep(rest);

    const written = new Map<string, number>();
    for (const w of writers) written.set(w.file, await w.stop());
    rotating = false;
    await rotation;
    say(`writers stopped: ${JSON.stringify(Object.fromEntries(written))}; ${rotations} rotations`);

    // Catch up: wait until every create-set line is there, giving up after 60 s without progress.
    const stopAt = Date.now();
    const createWritten = FILES.filter((f) => f.mode === 'create').reduce((n, f) => n + (written.get(f.name) ?? 0), 0);
    let lastCount = -1;
    let lastProgress = Date.now();
    for (;;) {
      const values = (await fetchAll(collector.url, TOPIC.create)).map((r) => r.value.toString('utf8'));
      const unique = new Set(values).size;
      if (unique >= createWritten) break;
      if (unique !== lastCount) {
        lastCount = unique;
        lastProgress = Date.now();
      } else if (Date.now() - lastProgress > 60_000) {
        say(`no progress for 60 s at ${unique}/${createWritten} create-set lines: checking as is`);
        break;
      }
      await sleep(500);
    }
    // The copy set: lines lost in the copytruncate window never come; give the rest a moment.
    await sleep(3000);
    const catchUpSeconds = (Date.now() - stopAt) / 1000;

    const values = [
      ...(await fetchAll(collector.url, TOPIC.create)),
      ...(await fetchAll(collector.url, TOPIC.copytruncate)),
    ].map((r) => r.value.toString('utf8'));
    const checked = check(written, values);
    const files: FileReport[] = [];
    for (const f of checked.files) {
      const onDisk = await sequencesOnDisk(path.dirname(path.join(dir, f.file)), 'soak', path.basename(f.file, '.log'));
      files.push({ ...f, lostOnDisk: f.lostSequences.filter((seq) => onDisk.has(seq)).length });
    }
    const { foreign } = checked;
    return { seconds, seed, rate, files, kills, rotations, logrotateFailures, foreign, catchUpSeconds };
  } finally {
    rotating = false;
    for (const w of writers) await w.stop();
    await agent?.kill();
    await collector?.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatReport(report: SoakReport): string {
  const rows = report.files.map(
    (f) =>
      `| ${f.file.padEnd(12)} | ${f.mode.padEnd(12)} | ${String(f.written).padStart(7)} | ${String(f.received).padStart(8)} | ` +
      `${String(f.lost).padStart(5)} | ${`${((100 * f.lost) / Math.max(f.written, 1)).toFixed(2)} %`.padStart(8)} | ` +
      `${String(f.lostOnDisk ?? '-').padStart(12)} | ` +
      `${String(f.duplicates).padStart(10)} | ${String(f.outOfOrder).padStart(12)} |`,
  );
  return [
    `soak: ${report.seconds} s, ${report.rate} lines/s per file, seed ${report.seed}; ` +
      `SIGKILLs: collector ${report.kills.collector}, agent ${report.kills.agent}; logrotate runs ${report.rotations} ` +
      `(${report.logrotateFailures} failed); catch-up ${report.catchUpSeconds.toFixed(1)} s; foreign lines ${report.foreign}`,
    '| file         | rotation     | written | received |  lost |   lost % | lost on disk | duplicates | out of order |',
    '| ------------ | ------------ | ------- | -------- | ----- | -------- | ------------ | ---------- | ------------ |',
    ...rows,
  ].join('\n');
}

/**
 * Fails when a promise is broken: create-set loss, a lost line that is still on disk, disorder, foreign lines. The
 * copytruncate window (lines in no file) is reported only.
 */
export function violations(report: SoakReport): string[] {
  const out: string[] = [];
  for (const f of report.files) {
    if ((f.lostOnDisk ?? 0) > 0) out.push(`${f.file}: ${f.lostOnDisk} lines lost that are still on disk`);
    if (f.mode === 'create' && f.lost > 0)
      out.push(`${f.file}: ${f.lost} lines lost (e.g. ${f.lostSample.join(', ')})`);
    // copytruncate with kills: lines read again from the copy after a restart can come after newer lines of the
    // original (reported in the table; docs/guarantees.md, "Not covered by a test").
    if (f.mode === 'create' && f.outOfOrder > 0) out.push(`${f.file}: ${f.outOfOrder} lines out of order`);
  }
  if (report.foreign > 0) out.push(`${report.foreign} stored lines were not written by the soak`);
  return out;
}

function parseArgs(argv: readonly string[]): SoakOptions {
  const value = (flag: string): number | undefined => {
    const i = argv.indexOf(flag);
    if (i < 0) return undefined;
    const n = Number(argv[i + 1]);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} needs a positive number, got ${argv[i + 1]}`);
    return n;
  };
  const seed = value('--seed');
  const rate = value('--rate');
  const kills = value('--kills');
  return {
    seconds: value('--seconds') ?? 600,
    verbose: true,
    ...(seed === undefined ? {} : { seed }),
    ...(rate === undefined ? {} : { rate }),
    ...(kills === undefined ? {} : { kills }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv.includes('--matrix')) {
  await import('./rotation-matrix.ts').then((m) => m.main(process.argv.slice(2)));
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const options = parseArgs(process.argv.slice(2));
  const report = await runSoak(options);
  process.stdout.write(`${formatReport(report)}\n`);
  const broken = violations(report);
  if (broken.length > 0) {
    process.stdout.write(`BROKEN:\n  ${broken.join('\n  ')}\n`);
    process.exitCode = 1;
  }
}
