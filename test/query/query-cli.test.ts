import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { CLI, CollectorProcess } from '../helpers/collector-process.ts';

const run = promisify(execFile);

async function produce(url: string, lines: object[]): Promise<void> {
  const res = await fetch(`${url}/v1/topics/app/records`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`,
  });
  if (!res.ok) throw new Error(`produce: ${res.status} ${await res.text()}`);
}

test('query cli - text and json output, label matchers and grep against a real collector', async (t) => {
  const collector = await CollectorProcess.start();
  t.teardown(() => collector.dispose());
  const now = Date.now();
  await produce(collector.url, [
    {
      key: 'web-1:/var/log/api.log',
      value: 'GET /health 200',
      labels: { host: 'web-1', service: 'api' },
      timestamp: now - 3000,
    },
    {
      key: 'web-2:/var/log/api.log',
      value: 'ERROR upstream timeout',
      labels: { host: 'web-2', service: 'api' },
      timestamp: now - 2000,
    },
    {
      key: 'db-1:/var/log/db.log',
      value: 'error: disk slow',
      labels: { host: 'db-1', service: 'db' },
      timestamp: now - 1000,
    },
  ]);
  const env = { ...process.env, NO_COLOR: '1', TRIBUTARY_URL: collector.url };
  const text = await run('node', [CLI, 'query', 'app', '--since', '10m', '--grep', 'error', '-i'], { env });
  const lines = text.stdout.trim().split('\n');
  t.is(lines.length, 2);
  t.regex(lines[0]!, /host=db-1 service=db error: disk slow$/, 'newest first, plain text in a pipe');
  t.regex(lines[1]!, /host=web-2 service=api ERROR upstream timeout$/);

  const json = await run(
    'node',
    [CLI, 'query', 'app', '--where', 'service=~"a.*"', '--oldest-first', '--output', 'json'],
    { env },
  );
  const records = json.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.deepEqual(
    records.map((r) => r.value),
    ['GET /health 200', 'ERROR upstream timeout'],
  );

  const bad = await run('node', [CLI, 'query', 'app', '--where', 'host'], { env }).catch((e) => e);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /name=value/);
  const missing = await run('node', [CLI, 'query', 'nope'], { env }).catch((e) => e);
  t.regex(missing.stderr, /topic 'nope' does not exist/);
});

test('tail cli - shows a newly produced matching line live', async (t) => {
  const collector = await CollectorProcess.start();
  t.teardown(() => collector.dispose());
  await produce(collector.url, [{ key: 'a', value: 'before', labels: { host: 'h' } }]);
  const child = spawn('node', [CLI, 'tail', 'app', '-n', '0', '--grep', 'needle', '--output', 'raw'], {
    env: { ...process.env, NO_COLOR: '1', TRIBUTARY_URL: collector.url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  // The tail is connected once a line produced after its start shows: on a loaded machine the CLI takes seconds to
  // start, so produce a warm-up line until one shows.
  const deadline = Date.now() + 60_000;
  while (!out.includes('needle warm-up') && Date.now() < deadline) {
    await produce(collector.url, [{ key: 'a', value: 'needle warm-up', labels: { host: 'h' } }]);
    await new Promise((r) => setTimeout(r, 500));
  }
  const sent = Date.now();
  await produce(collector.url, [
    { key: 'a', value: 'hay', labels: { host: 'h' } },
    { key: 'b', value: 'a needle here', labels: { host: 'h2' } },
  ]);
  while (!out.includes('a needle here') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const latency = Date.now() - sent;
  t.true(out.includes('a needle here'), `tail printed: ${JSON.stringify(out)}`);
  t.false(out.includes('hay'));
  t.false(out.includes('before'));
  // Live, not polled: the follow wakes on the append (waitForAppend). The latency is measured as a benchmark would;
  // the bound is generous because the machine running the suite may be loaded.
  t.true(latency < 5000, `shown after ${latency} ms`);
  child.kill('SIGINT');
});

test('tail cli - -n shows the last matching lines, then new ones, none twice', async (t) => {
  const collector = await CollectorProcess.start();
  t.teardown(() => collector.dispose());
  const now = Date.now();
  await produce(
    collector.url,
    Array.from({ length: 6 }, (_, i) => ({
      key: 'a',
      value: `old ${i}`,
      labels: { host: 'h' },
      timestamp: now - 600_000 + i,
    })),
  );
  await produce(collector.url, [{ key: 'a', value: 'recent', labels: { host: 'h' }, timestamp: now }]);
  const child = spawn('node', [CLI, 'tail', 'app', '-n', '3', '--output', 'raw'], {
    env: { ...process.env, NO_COLOR: '1', TRIBUTARY_URL: collector.url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const waitFor = async (text: string): Promise<void> => {
    const deadline = Date.now() + 30_000;
    while (!out.includes(text) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  };
  await waitFor('recent');
  await produce(collector.url, [{ key: 'a', value: 'live', labels: { host: 'h' } }]);
  await waitFor('live');
  t.deepEqual(out.trim().split('\n'), ['old 4', 'old 5', 'recent', 'live']);
  child.kill('SIGINT');

  const since = spawn('node', [CLI, 'tail', 'app', '--since', '5m', '--output', 'raw'], {
    env: { ...process.env, NO_COLOR: '1', TRIBUTARY_URL: collector.url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => since.kill('SIGKILL'));
  out = '';
  since.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor('live');
  await new Promise((r) => setTimeout(r, 500));
  since.kill('SIGINT');
  t.deepEqual(out.trim().split('\n'), ['recent', 'live'], 'the lines since 5 minutes ago, then following');
});
