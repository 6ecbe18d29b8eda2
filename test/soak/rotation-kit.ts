/**
 * What the soak (soak.ts) and the rotation matrix (rotation-matrix.ts) share: a seeded PRNG, a writer that appends
 * numbered lines at a fixed rate the way an application does, and the real `logrotate` run with its own config and
 * state file.
 *
 * A line is `<prefix> <file> <seq> <inode> <padding>`: the writer opens the path (O_APPEND, never O_CREAT: logrotate
 * creates the new file), reads the inode it is about to write to with fstat, writes, closes. So a line names the
 * exact file (inode) it was written into, and a checker can verify order per source file.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { open, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export type RotationMode = 'create' | 'copytruncate';

/** mulberry32: a small seeded PRNG, so a run's schedule can be replayed with its seed. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface WriterOptions {
  /** First word of every line (tells one run's lines from another's). */
  readonly prefix: string;
  /** Second word: the file's short name. */
  readonly file: string;
  readonly filePath: string;
  /** Lines per second. */
  readonly rate: number;
  /** Bytes of padding per line. */
  readonly padding?: number;
  /** Milliseconds between writes (each write appends the lines due). */
  readonly tickMs?: number;
}

/** Appends numbered lines to one path at a fixed rate until stopped; returns how many it wrote. */
export class Writer {
  written = 0;
  /** Writes that landed at an offset below the previous write's end: the file was truncated in between. */
  truncationsSeen = 0;
  private stopped = false;
  private readonly done: Promise<void>;
  private readonly pad: string;
  private lastEnd = new Map<number, number>();

  constructor(readonly options: WriterOptions) {
    this.pad = 'p'.repeat(options.padding ?? 60);
    this.done = this.loop();
  }

  get file(): string {
    return this.options.file;
  }

  private async loop(): Promise<void> {
    const started = Date.now();
    while (!this.stopped) {
      const due = Math.floor(((Date.now() - started) / 1000) * this.options.rate);
      if (due > this.written) await this.write(due - this.written);
      await sleep(this.options.tickMs ?? 20);
    }
  }

  private async write(count: number): Promise<void> {
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      // No O_CREAT: between logrotate's rename and its create the path is absent; the lines wait for the new file.
      handle = await open(this.options.filePath, constants.O_WRONLY | constants.O_APPEND);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    try {
      const { ino, size } = await handle.stat();
      if (size < (this.lastEnd.get(ino) ?? 0)) this.truncationsSeen++;
      let text = '';
      for (let i = 0; i < count; i++) {
        text += `${this.options.prefix} ${this.options.file} ${this.written + i} ${ino} ${this.pad}\n`;
      }
      const { bytesWritten } = await handle.write(text);
      this.lastEnd.set(ino, size + bytesWritten);
      this.written += count;
    } finally {
      await handle.close();
    }
  }

  async stop(): Promise<number> {
    this.stopped = true;
    await this.done;
    return this.written;
  }
}

/** One logrotate block: rotated names `<file>.N`, `keep` of them kept, never compressed. */
export function logrotateBlock(glob: string, mode: RotationMode, keep = 40): string {
  return `${glob} {\n  rotate ${keep}\n  missingok\n  nocompress\n  ifempty\n  ${mode === 'create' ? 'create 0644' : 'copytruncate'}\n}\n`;
}

/** `logrotate -f -s <state> <config>`: a forced rotation of every block of the config. */
export function runLogrotate(config: string, state: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('logrotate', ['-f', '-s', state, config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', (error) => resolve({ code: -1, stderr: String(error) }));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

/** Throws under CI=true when logrotate is missing; false outside CI (the caller skips with the reason). */
export function hasLogrotate(spawnSync: typeof import('node:child_process').spawnSync): boolean {
  if (spawnSync('sh', ['-c', 'command -v logrotate'], { encoding: 'utf8' }).status === 0) return true;
  if (process.env.CI === 'true') throw new Error('logrotate (Debian package logrotate) is required under CI=true');
  return false;
}

export interface LineTally {
  readonly file: string;
  readonly written: number;
  /** Distinct lines stored. */
  readonly received: number;
  readonly lost: number;
  /** Extra copies. */
  readonly duplicates: number;
  /** First copies that come after the first copy of a later line of the same inode, in offset order. */
  readonly outOfOrder: number;
  /** A few lost sequence numbers, for a look at the logs. */
  readonly lostSample: readonly number[];
  /** Every lost sequence number. */
  readonly lostSequences: readonly number[];
}

/**
 * Compares what the writers wrote (`written`: file -> lines) with the stored values (in offset order) whose first
 * word is `prefix`. Values of another shape are counted as `foreign`.
 */
export function tallyLines(
  prefix: string,
  written: ReadonlyMap<string, number>,
  values: readonly string[],
): { files: LineTally[]; foreign: number } {
  const shape = new RegExp(`^${prefix} (\\w+) (\\d+) (\\d+) `);
  const seen = new Map<string, Map<number, number>>();
  const lastSeqByInode = new Map<string, number>();
  const outOfOrder = new Map<string, number>();
  let foreign = 0;
  for (const value of values) {
    const m = shape.exec(value);
    if (!m) {
      foreign++;
      continue;
    }
    const [, file, seqText, ino] = m as unknown as [string, string, string, string];
    const seq = Number(seqText);
    const counts = seen.get(file) ?? new Map<number, number>();
    seen.set(file, counts);
    const copies = counts.get(seq) ?? 0;
    counts.set(seq, copies + 1);
    if (copies > 0) continue; // order is judged on first copies: a replay after a kill is a duplicate, not disorder
    const key = `${file}:${ino}`;
    const last = lastSeqByInode.get(key) ?? -1;
    if (seq < last) outOfOrder.set(file, (outOfOrder.get(file) ?? 0) + 1);
    else lastSeqByInode.set(key, seq);
  }
  const files = [...written].map(([file, total]): LineTally => {
    const counts = seen.get(file) ?? new Map<number, number>();
    const lost: number[] = [];
    for (let s = 0; s < total; s++) if (!counts.has(s)) lost.push(s);
    let duplicates = 0;
    for (const c of counts.values()) duplicates += c - 1;
    return {
      file,
      written: total,
      received: counts.size,
      lost: lost.length,
      duplicates,
      outOfOrder: outOfOrder.get(file) ?? 0,
      lostSample: lost.slice(0, 10),
      lostSequences: lost,
    };
  });
  return { files, foreign };
}

/**
 * The sequence numbers of `file`'s lines (prefix `prefix`) found in any file of `dir` at this moment. A line lost
 * by the pipeline but still on disk was the agent's to read; a line on disk nowhere was destroyed before anyone
 * could read it (copytruncate: written after logrotate's copy and before its truncate).
 */
export async function sequencesOnDisk(dir: string, prefix: string, file: string): Promise<Set<number>> {
  const shape = new RegExp(`^${prefix} ${file} (\\d+) `, 'gm');
  const found = new Set<number>();
  for (const entry of await readdir(dir)) {
    const text = await readFile(path.join(dir, entry), 'utf8').catch(() => '');
    for (const m of text.matchAll(shape)) found.add(Number(m[1]));
  }
  return found;
}
