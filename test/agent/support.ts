/**
 * Helpers for the agent's end-to-end tests: a real agent child process (`tributary agent --config`), its config,
 * the real collector (test/helpers/collector-process.ts), reading a topic back through the fetch API, and
 * comparing what was written with what arrived.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { CLI, CollectorProcess } from '../helpers/collector-process.ts';
import { makeTempDir } from '../helpers/temp-dirs.ts';

export { CLI };

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A folder removed when the test process exits (test/helpers/temp-dirs.ts). */
export function tempDir(prefix = 'tributary-agent-test-'): Promise<string> {
  return makeTempDir(prefix);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns a truthy value or the deadline passes (then throws with `what`). */
type Falsy = undefined | null | false | 0 | '';

export async function waitFor<T>(
  what: string,
  check: () => Promise<T | Falsy> | T | Falsy,
  timeoutMs = 60_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as T;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${last}` : ''}`);
    await sleep(everyMs);
  }
}

export interface AgentConfigInput {
  readonly dir: string;
  readonly collectorUrl: string | readonly string[];
  readonly sources: readonly Record<string, unknown>[];
  readonly extra?: Record<string, unknown>;
}

/** Writes agent.yaml in `dir` (state in dir/state, metrics on a free port, fast polling for tests). */
export async function writeAgentConfig(input: AgentConfigInput): Promise<string> {
  const config = {
    sources: input.sources,
    collector: {
      urls: typeof input.collectorUrl === 'string' ? [input.collectorUrl] : input.collectorUrl,
      retry: { initial: '50ms', max: '1s' },
      timeout: '10s',
    },
    batch: { max_wait: '50ms' },
    state_dir: path.join(input.dir, 'state'),
    metrics: { listen: '127.0.0.1:0' },
    read: { poll_interval: '50ms', rotate_wait: '1s', retry_open: '500ms' },
    checkpoint: { interval: '100ms' },
    ...input.extra,
  };
  const file = path.join(input.dir, 'agent.yaml');
  await writeFile(file, stringify(config));
  return file;
}

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Parsed JSON log lines so far. */
  readonly logs: Record<string, unknown>[];
  readonly metricsUrl: string;
  /** SIGTERM, then wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, then wait for exit. */
  kill(): Promise<void>;
  /** Peak resident set size so far (VmHWM), in bytes; 0 once exited. */
  peakRss(): number;
  /** One metric's value from /metrics (sum over label sets matching `labels`). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  readonly exited: Promise<number | null>;
}

export async function startAgentProcess(
  configFile: string,
  options: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv; startTimeoutMs?: number } = {},
): Promise<AgentProcess> {
  const child = spawn(process.execPath, [CLI, 'agent', '--config', configFile], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
  });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  let rest = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const text = rest + chunk;
    const lines = text.split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line));
      } catch {
        logs.push({ msg: line });
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const started = await waitFor(
    'the agent to start',
    () => {
      if (done) throw new Error(`agent exited: ${stderr.join('').slice(-2000)}`);
      return logs.find((l) => l.msg === 'agent started');
    },
    options.startTimeoutMs ?? 60_000,
    50,
  ).catch((error: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${error.message}\nstderr: ${stderr.join('').slice(-2000)}`);
  });
  const metricsUrl = String(started!.metrics);
  return {
    child,
    pid: child.pid!,
    logs,
    metricsUrl,
    exited,
    async stop() {
      if (!done) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (!done) child.kill('SIGKILL');
      await exited;
    },
    peakRss() {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
      } catch {
        return 0;
      }
    },
    async metric(name, labels = {}) {
      const text = await (await fetch(metricsUrl)).text();
      let sum = 0;
      for (const line of text.split('\n')) {
        if (!line.startsWith(name)) continue;
        const m = /^([a-z_]+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
        if (!m || m[1] !== name) continue;
        const set = m[2] ?? '';
        if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) sum += Number(m[3]);
      }
      return sum;
    },
  };
}

export interface FetchedRecord {
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
  readonly labels: Record<string, string>;
  readonly value: Buffer;
  readonly timestamp: number;
  readonly fields: Record<string, string> | undefined;
}

/**
 * fetch, once more after a network error (not an HTTP one): a keep-alive connection the server closed just as it
 * was reused fails the first attempt ("fetch failed"), a collector that is down fails the second as well.
 */
async function fetchOnceMore(url: string): Promise<Response> {
  try {
    return await fetch(url);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    await sleep(200);
    return fetch(url);
  }
}

/** Every record of `topic`, all partitions, through the JSON fetch API (docs/api.md). [] if the topic is absent. */
export async function fetchAll(baseUrl: string, topic: string): Promise<FetchedRecord[]> {
  const described = await fetchOnceMore(`${baseUrl}/v1/topics/${topic}`);
  if (described.status === 404) return [];
  if (!described.ok) throw new Error(`describe ${topic}: ${described.status} ${await described.text()}`);
  const { partitions } = (await described.json()) as { partitions: { partition: number; end_offset: number }[] };
  const out: FetchedRecord[] = [];
  for (const p of partitions) {
    let offset = 0;
    const start = (await (
      await fetchOnceMore(`${baseUrl}/v1/topics/${topic}/offsets?at=earliest`)
    )
      .json()
      .catch(() => null)) as {
      partitions?: { partition: number; offset: number }[];
    } | null;
    offset = start?.partitions?.find((x) => x.partition === p.partition)?.offset ?? 0;
    while (offset < p.end_offset) {
      const res = await fetchOnceMore(
        `${baseUrl}/v1/topics/${topic}/partitions/${p.partition}/records?offset=${offset}&max_bytes=4194304`,
      );
      if (!res.ok) throw new Error(`fetch ${topic}/${p.partition}@${offset}: ${res.status} ${await res.text()}`);
      const body = (await res.json()) as {
        records: {
          offset: number;
          timestamp: number;
          key: string;
          labels: Record<string, string>;
          value?: string;
          value_base64?: string;
          fields?: Record<string, string>;
        }[];
        next_offset: number;
      };
      for (const r of body.records) {
        if (r.offset < offset) continue;
        out.push({
          partition: p.partition,
          offset: r.offset,
          key: r.key,
          labels: r.labels,
          timestamp: r.timestamp,
          fields: r.fields,
          value: r.value !== undefined ? Buffer.from(r.value, 'utf8') : Buffer.from(r.value_base64 ?? '', 'base64'),
        });
      }
      if (body.next_offset <= offset) break;
      offset = body.next_offset;
    }
  }
  return out;
}

export interface Tally {
  readonly expected: number;
  readonly received: number;
  readonly missing: string[];
  /** Lines received more than once (count of extra copies). */
  readonly duplicates: number;
  readonly unexpected: string[];
}

/** Compares the lines written with the record values received. */
export function tally(expected: Iterable<string>, records: readonly FetchedRecord[]): Tally {
  const want = new Map<string, number>();
  let n = 0;
  for (const line of expected) {
    want.set(line, 0);
    n++;
  }
  let duplicates = 0;
  const unexpected: string[] = [];
  for (const r of records) {
    const v = r.value.toString('utf8');
    const seen = want.get(v);
    if (seen === undefined) unexpected.push(v);
    else {
      if (seen > 0) duplicates++;
      want.set(v, seen + 1);
    }
  }
  const missing = [...want].filter(([, c]) => c === 0).map(([l]) => l);
  return { expected: n, received: records.length, missing, duplicates, unexpected };
}

export interface TestCollector {
  readonly url: string;
  /** Stops the collector process (the agent sees it down). */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** The real collector as a child process (test/helpers/collector-process.ts), fresh data directory. */
export async function startTestCollector(config: Record<string, unknown> = {}): Promise<TestCollector> {
  const proc = await CollectorProcess.start({ config });
  return {
    url: proc.url,
    stop: async () => {
      await proc.stop();
    },
    // restart() stops (a no-op when stopped) and launches on the same port and data directory.
    start: () => proc.restart(),
    close: () => proc.dispose(),
  };
}
