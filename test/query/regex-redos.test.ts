/**
 * A client regex can never freeze the collector. Against a real collector process holding long lines, the classic
 * catastrophic-backtracking patterns are queried while /healthz is polled: every health answer comes within 100 ms,
 * every query answers, and a query with a small `max_scan_ms` answers within it (partial, with a cursor) and is
 * logged as slow. What RE2 cannot express is a 400 that names the construct.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import test from 'ava';
import { CollectorProcess } from '../helpers/collector-process.ts';

/**
 * Every /healthz answer during a query comes within 100 ms more than the slowest answer of the idle collector just
 * before it. On a quiet machine (CI) idle answers take a few ms, so the limit is about 100 ms; on a loaded one the
 * scheduler alone delays a process by tens or hundreds of ms, which the idle baseline measures. A measurement is
 * taken up to ATTEMPTS times: a freeze fails every attempt, a burst of load on the machine rarely twice.
 */
const HEALTH_LIMIT_MS = 100;
const ATTEMPTS = 3;
const LONG_LINE = 64 * 1024;

async function produce(url: string, topic: string, values: string[]): Promise<void> {
  const res = await fetch(`${url}/v1/topics/${topic}/records`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: `${values.map((value) => JSON.stringify({ key: 'k', value, labels: { host: 'h' } })).join('\n')}\n`,
  });
  if (!res.ok) throw new Error(`produce: ${res.status} ${await res.text()}`);
}

interface QueryAnswer {
  readonly status: number;
  readonly ms: number;
  readonly records: { value: string }[];
  readonly summary: {
    count: number;
    partial: boolean;
    cursor: string | null;
    scanned_bytes: number;
    duration_ms: number;
  };
  readonly error?: { code: string; message: string };
}

async function query(url: string, topic: string, params: Record<string, string>): Promise<QueryAnswer> {
  const started = performance.now();
  const res = await fetch(`${url}/v1/topics/${topic}/query?${new URLSearchParams(params)}`, {
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  const ms = performance.now() - started;
  if (!res.ok) return { status: res.status, ms, records: [], summary: undefined as never, ...JSON.parse(text) };
  const lines = text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const summary = lines.pop()!.summary as QueryAnswer['summary'];
  return { status: res.status, ms, records: lines as unknown as { value: string }[], summary };
}

/**
 * Polls /healthz back to back from a separate process (in this one, the test's own work on a large answer would
 * delay the polls it measures) until stopped; resolves once the first answer came.
 */
const POLLER = `
let done = false;
process.stdin.on('end', () => { done = true; }).resume();
const latencies = [];
while (!done) {
  const started = performance.now();
  const res = await fetch(process.argv[1] + '/healthz', { signal: AbortSignal.timeout(30000) });
  await res.arrayBuffer();
  latencies.push(performance.now() - started);
  if (latencies.length === 1) process.stderr.write('polling\\n');
  await new Promise((r) => setTimeout(r, 10));
}
process.stdout.write(JSON.stringify(latencies));
`;

interface HealthPoller {
  /** Stops polling; the latency of every answer, in ms. */
  stop(): Promise<number[]>;
}

async function pollHealth(url: string): Promise<HealthPoller> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', POLLER, url], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const exited = once(child, 'exit');
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('polling')) resolve();
    });
    void exited.then(() => reject(new Error(`the /healthz poller exited: ${err}`)));
  });
  return {
    async stop() {
      child.stdin.end();
      await exited;
      clearTimeout(timer);
      return JSON.parse(out) as number[];
    },
  };
}

/** The slowest /healthz answer of the idle collector over two seconds. */
async function idleHealth(url: string): Promise<number> {
  const poller = await pollHealth(url);
  await new Promise((r) => setTimeout(r, 2000));
  return Math.max(...(await poller.stop()));
}

/** Runs a query while /healthz is polled. */
async function queryPolled(
  url: string,
  params: Record<string, string>,
): Promise<{ answer: QueryAnswer; health: number[] }> {
  const poller = await pollHealth(url);
  const answer = await query(url, 'redos', params).finally(() => undefined);
  return { answer, health: await poller.stop() };
}

test('regex - classic ReDoS patterns against long lines never hold up /healthz', async (t) => {
  const collector = await CollectorProcess.start();
  t.teardown(() => collector.dispose());
  // The lines of the original report (28 `a` then `b`), long runs of `a` ending in `!` (the worst case for every
  // pattern below: a backtracking engine tries every way to split the run before it fails) and one run ending in
  // `a`: 16 MiB of text a backtracking engine could not finish in a lifetime.
  await produce(collector.url, 'redos', ['a'.repeat(28) + 'b', 'a'.repeat(28) + 'b', 'a'.repeat(28) + 'b']);
  for (let round = 0; round < 4; round++) {
    await produce(
      collector.url,
      'redos',
      Array.from({ length: 64 }, () => `${'a'.repeat(LONG_LINE)}!`),
    );
  }
  await produce(collector.url, 'redos', [`x${'a'.repeat(LONG_LINE)}`]);

  // [pattern, matching lines]: 3 short lines end in `b`, 256 long ones in `!`, one long one in `a`.
  const patterns: [string, number][] = [
    ['(a+)+$', 1],
    ['(a|aa)+$', 1],
    ['(a|a)+$', 1],
    ['(.*a){12}$', 1],
    ['^(\\w+\\s?)*$', 4],
    ['(a*)*b$', 3],
  ];
  for (const [regex, matching] of patterns) {
    let report = '';
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const idle = await idleHealth(collector.url);
      const { answer, health } = await queryPolled(collector.url, { regex, limit: '1000', order: 'oldest' });
      t.is(answer.status, 200, regex);
      t.false(answer.summary.partial, `${regex}: finished within the default budget`);
      t.is(answer.summary.count, matching, regex);
      const slowest = Math.max(...health);
      report = `${regex}: ${answer.ms.toFixed(0)} ms; /healthz up to ${slowest.toFixed(0)} ms over ${health.length} answers (idle: up to ${idle.toFixed(0)} ms)`;
      t.log(report);
      if (slowest < idle + HEALTH_LIMIT_MS) break;
      if (attempt === ATTEMPTS) t.fail(report);
    }
  }
});

test('regex - a pattern too big for its DFA on a 1 MiB line is stopped after 50 ms with a 400 saying why, and /healthz never waits', async (t) => {
  const collector = await CollectorProcess.start();
  t.teardown(() => collector.dispose());
  // Linear in the line, times the program's size: (?:a?){1000}a{1000}$ compiles to 3,003 instructions, overflows
  // RE2's DFA budget on this line, and its NFA took 40 s on it, all on the event loop, before the watchdog.
  await produce(collector.url, 'redos', [`${'a'.repeat(1_000_000)}b`, 'a short line']);
  const regex = '(?:a?){1000}a{1000}$';
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const idle = await idleHealth(collector.url);
    const { answer, health } = await queryPolled(collector.url, { regex, limit: '10' });
    t.is(answer.status, 400);
    t.is(answer.error?.code, 'invalid_argument');
    t.regex(answer.error?.message ?? '', /took more than 50 ms on one text of 1000001 characters.*3003 instructions/);
    const slowest = Math.max(...health);
    const report = `${regex}: 400 after ${answer.ms.toFixed(0)} ms; /healthz up to ${slowest.toFixed(0)} ms over ${health.length} answers (idle: up to ${idle.toFixed(0)} ms)`;
    t.log(report);
    if (slowest < idle + HEALTH_LIMIT_MS && answer.ms < 5000) break;
    if (attempt === ATTEMPTS) t.fail(report);
  }
  // A small pattern on the same line is answered, its highlight given up if finding where it matches runs out of time.
  const small = await query(collector.url, 'redos', { regex: '(a+)+b$', limit: '10' });
  t.is(small.status, 200);
  t.is(small.summary.count, 1);
});

test('regex - max_scan_ms is a hard budget: a long scan stops within it and is logged as slow', async (t) => {
  const collector = await CollectorProcess.start({ config: { log_level: 'warn' } });
  t.teardown(() => collector.dispose());
  for (let round = 0; round < 8; round++) {
    await produce(
      collector.url,
      'redos',
      Array.from({ length: 64 }, () => `${'a'.repeat(LONG_LINE)}b`),
    );
  }
  const budget = 200;
  let answer: QueryAnswer | undefined;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const idle = await idleHealth(collector.url);
    answer = await query(collector.url, 'redos', {
      regex: '(a|aa)+$',
      limit: '10',
      order: 'oldest',
      max_scan_ms: String(budget),
    });
    t.is(answer.status, 200);
    t.true(answer.summary.partial, 'stopped at its budget');
    t.truthy(answer.summary.cursor, 'with a cursor to continue');
    // Past the budget the scan stops before its next line (64 KiB: a few ms); the idle /healthz latency stands for
    // what the machine's load adds.
    const report = `the scan took ${answer.summary.duration_ms} ms of a ${budget} ms budget, answered after ${answer.ms.toFixed(0)} ms (idle /healthz: up to ${idle.toFixed(0)} ms)`;
    t.log(report);
    if (answer.summary.duration_ms < budget + idle + 50) break;
    if (attempt === ATTEMPTS) t.fail(report);
  }

  // Following the cursor reaches the end: each page moves forward.
  let cursor = answer!.summary.cursor;
  let pages = 1;
  while (cursor && pages < 200) {
    const next = await query(collector.url, 'redos', {
      regex: '(a|aa)+$',
      limit: '10',
      order: 'oldest',
      max_scan_ms: String(budget),
      cursor,
    });
    cursor = next.summary.cursor;
    pages++;
  }
  t.is(cursor, null, `the cursor reached the end in ${pages} pages`);

  const deadline = Date.now() + 10_000;
  while (!collector.logs.includes('slow query') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const line = collector.logs.split('\n').find((l) => l.includes('slow query'));
  t.truthy(line, `the collector logged the slow query:\n${collector.logs}`);
  const logged = JSON.parse(line!) as Record<string, unknown>;
  t.is(logged.topic, 'redos');
  t.true(typeof logged.duration_ms === 'number');
  t.true((logged.scanned_bytes as number) > 0);
  t.is(logged.regex, '(a|aa)+$');
});

test('regex - what a linear-time engine cannot express is a 400 naming the construct', async (t) => {
  const collector = await CollectorProcess.start();
  t.teardown(() => collector.dispose());
  await produce(collector.url, 'redos', ['abab']);
  const cases: [string, RegExp][] = [
    ['(ab)\\1', /backreferences/],
    ['a(?=b)', /lookahead or lookbehind/],
    ['(?<!x)b', /lookahead or lookbehind/],
    ['(', /not a valid regular expression \(RE2 syntax\): missing closing \)/],
  ];
  for (const [regex, message] of cases) {
    const answer = await query(collector.url, 'redos', { regex });
    t.is(answer.status, 400, regex);
    t.is(answer.error?.code, 'invalid_argument');
    t.regex(answer.error?.message ?? '', message);
  }
  const matcher = await query(collector.url, 'redos', { where: 'host=~(h)\\1' });
  t.is(matcher.status, 400);
  t.regex(matcher.error?.message ?? '', /the matcher host=~ .*backreferences/);
  // RE2 syntax that JavaScript also has keeps working: classes, \b, named groups, inline case folding.
  const ok = await query(collector.url, 'redos', { regex: '(?<pair>ab)\\b|(?i)ABAB' });
  t.is(ok.status, 200);
  t.is(ok.summary.count, 1);
});
