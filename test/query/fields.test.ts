/**
 * Filters on parsed fields (`field.NAME` matchers) through the HTTP API and the CLI against a real collector; field
 * values keep their JSON types; a matcher naming a label or field no scanned batch has is a note in the API's
 * summary and a warning on the CLI's stderr; every example of `tributary query --help` runs.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { QUERY_EXAMPLES } from '../../shared/cli/query.ts';
import { CLI, CollectorProcess, REPO_ROOT } from '../helpers/collector-process.ts';

const run = promisify(execFile);

/** What the agent sends for JSON lines with `parser: json`: the line, and its members as typed fields. */
function jsonLine(host: string, service: string, line: Record<string, unknown>, timestamp: number): object {
  return {
    key: `${host}:/var/log/app.log`,
    labels: { host, service },
    value: JSON.stringify(line),
    fields: line,
    timestamp,
  };
}

async function fixture(): Promise<CollectorProcess> {
  const collector = await CollectorProcess.start();
  const now = Date.now();
  const lines = [
    jsonLine('web-1', 'api', { level: 'info', status: 200, msg: 'ok' }, now - 4000),
    jsonLine('web-1', 'api', { level: 'error', status: 503, msg: 'upstream timeout' }, now - 3000),
    jsonLine('web-2', 'auth', { level: 'error', status: 203, msg: 'status 5xx' }, now - 2000),
    {
      key: 'web-2:/var/log/plain.log',
      labels: { host: 'web-2', service: 'api' },
      value: 'plain line',
      timestamp: now - 1000,
    },
  ];
  const res = await fetch(`${collector.url}/v1/topics/app/records`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`,
  });
  if (!res.ok) throw new Error(`produce: ${res.status} ${await res.text()}`);
  return collector;
}

interface Hit {
  readonly value: string;
  readonly fields: Record<string, unknown>;
}

interface Answer {
  readonly records: Hit[];
  readonly summary: { readonly notes: string[] };
}

async function apiQuery(url: string, params: [string, string][]): Promise<Answer> {
  const res = await fetch(`${url}/v1/topics/app/query?${new URLSearchParams(params)}`);
  const lines = (await res.text())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  if (!res.ok) throw new Error(JSON.stringify(lines));
  const summary = lines.pop()!.summary as Answer['summary'];
  return { records: lines as unknown as Hit[], summary };
}

test('fields - field matchers filter on parsed fields; values keep their JSON types', async (t) => {
  const collector = await fixture();
  t.teardown(() => collector.dispose());
  const errors = await apiQuery(collector.url, [
    ['where', 'field.level=error'],
    ['order', 'oldest'],
  ]);
  t.deepEqual(
    errors.records.map((r) => r.fields.msg),
    ['upstream timeout', 'status 5xx'],
  );
  t.is(errors.records[0]!.fields.status, 503, 'a number stays a number');
  t.deepEqual(errors.summary.notes, []);

  const server = await apiQuery(collector.url, [['where', 'field.status>=500']]);
  t.deepEqual(
    server.records.map((r) => r.fields.status),
    [503],
  );
  const notInfo = await apiQuery(collector.url, [
    ['where', 'field.level!=info'],
    ['where', 'service=api'],
  ]);
  // As for labels (Prometheus, Loki): a record without the field compares as "" — the plain line is kept.
  t.deepEqual(
    notInfo.records.map((r) => r.value),
    ['plain line', JSON.stringify({ level: 'error', status: 503, msg: 'upstream timeout' })],
  );
  const regex = await apiQuery(collector.url, [['where', 'field.msg=~"up.*"']]);
  t.is(regex.records.length, 1);
  const bad = await fetch(`${collector.url}/v1/topics/app/query?where=${encodeURIComponent('field.status>=abc')}`);
  t.is(bad.status, 400);
  t.regex(((await bad.json()) as { error: { message: string } }).error.message, /compares numbers/);
});

test('fields - a matcher on a name no scanned batch has is a note, and a warning from the CLI', async (t) => {
  const collector = await fixture();
  t.teardown(() => collector.dispose());
  const api = await apiQuery(collector.url, [
    ['where', 'level=error'],
    ['where', 'field.lvl=error'],
  ]);
  t.is(api.records.length, 0);
  t.is(api.summary.notes.length, 2);
  t.regex(api.summary.notes[0]!, /no scanned batch has the label 'level'.*write field\.level/);
  t.regex(api.summary.notes[1]!, /no scanned record has the field 'lvl'/);

  const cli = await run('node', [CLI, 'query', 'app', '--where', 'level=error'], {
    env: { ...process.env, TRIBUTARY_URL: collector.url, NO_COLOR: '1' },
  });
  t.is(cli.stdout, '');
  t.regex(cli.stderr, /warning: no scanned batch has the label 'level'/);

  const fields = await run('node', [CLI, 'query', 'app', '--where', 'field.level=error', '--output', 'raw'], {
    env: { ...process.env, TRIBUTARY_URL: collector.url, NO_COLOR: '1' },
  });
  t.is(fields.stdout.trim().split('\n').length, 2);
  t.is(fields.stderr, '');
});

test('fields - every example of `tributary query --help` runs against a collector', async (t) => {
  const collector = await fixture();
  const bin = await mkdtemp(path.join(os.tmpdir(), 'tributary-bin-'));
  t.teardown(async () => {
    await collector.dispose();
    await rm(bin, { recursive: true, force: true });
  });
  await writeFile(path.join(bin, 'tributary'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  await chmod(path.join(bin, 'tributary'), 0o755);
  const help = await run('node', [CLI, 'query', '--help']);
  for (const example of QUERY_EXAMPLES) {
    t.true(help.stdout.includes(example), `--help shows: ${example}`);
    const result = await run('sh', ['-c', example], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, TRIBUTARY_URL: collector.url, NO_COLOR: '1' },
    });
    t.false(/error/i.test(result.stderr), `${example}: ${result.stderr}`);
  }
  const fieldExample = QUERY_EXAMPLES.find((e) => e.includes('field.status'))!;
  const { stdout } = await run('sh', ['-c', `${fieldExample} --output raw`], {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, TRIBUTARY_URL: collector.url },
  });
  t.is(stdout.trim(), JSON.stringify({ level: 'error', status: 503, msg: 'upstream timeout' }));
});

test('fields - every command in the examples of docs/query.md runs against a collector', async (t) => {
  const collector = await fixture();
  const bin = await mkdtemp(path.join(os.tmpdir(), 'tributary-bin-'));
  t.teardown(async () => {
    await collector.dispose();
    await rm(bin, { recursive: true, force: true });
  });
  await writeFile(path.join(bin, 'tributary'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  await chmod(path.join(bin, 'tributary'), 0o755);
  const doc = await readFile(path.join(REPO_ROOT, 'docs/query.md'), 'utf8');
  const commands = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)]
    .flatMap((m) => m[1]!.split('\n'))
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l.startsWith('tributary '));
  t.true(commands.length >= 8, `found ${commands.length} examples`);
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, TRIBUTARY_URL: collector.url, NO_COLOR: '1' };
  for (const command of commands) {
    if (command.startsWith('tributary tail ')) {
      // Follows until stopped: it must show its history and still be running after a few seconds.
      const child = spawn('sh', ['-c', `exec ${command}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = once(child, 'exit');
      const early = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 8000))]);
      child.kill('SIGINT');
      await exited;
      t.false(early, `${command} exited early: ${stderr}`);
      t.false(/error/i.test(stderr), `${command}: ${stderr}`);
      continue;
    }
    const result = await run('sh', ['-c', command], { env });
    t.false(/error/i.test(result.stderr), `${command}: ${result.stderr}`);
  }
});
