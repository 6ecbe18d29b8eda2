/**
 * `tributary topics …` and `tributary groups …` as child processes against a running collector with tokens:
 * --url/--token flags, TRIBUTARY_URL/TRIBUTARY_TOKEN fallbacks, tables for people and --output json.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { CollectorClient } from '../../shared/client/collector-client.ts';
import { CLI, CollectorProcess, REPO_ROOT } from '../helpers/collector-process.ts';
import { ADMIN_TOKEN, READ_TOKEN, TOKENS } from './support.ts';

let collector: CollectorProcess;

test.before(async () => {
  collector = await CollectorProcess.start({ config: { tokens: TOKENS } });
});

test.after.always(async () => {
  await collector?.dispose();
});

async function tributary(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, TRIBUTARY_URL: '', TRIBUTARY_TOKEN: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const status = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  return { status, stdout, stderr };
}

test.serial('cli - topics create, list, describe and delete', async (t) => {
  const admin = ['--url', collector.url, '--token', ADMIN_TOKEN];
  const created = await tributary(['topics', 'create', 'weblogs', '--partitions', '3', '--retention', '2d', ...admin]);
  t.is(created.status, 0, created.stderr);
  t.regex(created.stdout, /created topic weblogs with 3 partition\(s\)/);

  const client = new CollectorClient({ urls: collector.url, token: ADMIN_TOKEN });
  await client.produce('weblogs', [
    { key: 'a', value: '1' },
    { key: 'b', value: '2' },
  ]);

  // Reader token through the environment.
  const env = { TRIBUTARY_URL: collector.url, TRIBUTARY_TOKEN: READ_TOKEN };
  const list = await tributary(['topics', 'list'], env);
  t.is(list.status, 0, list.stderr);
  t.regex(list.stdout, /^TOPIC\s+PARTITIONS\s+RECORDS\s+SIZE\s+RETENTION$/m);
  t.regex(list.stdout, /^weblogs\s+3\s+2\s+\S+ \S+\s+2d$/m);

  const json = await tributary(['topics', 'describe', 'weblogs', '--output', 'json'], env);
  t.is(json.status, 0, json.stderr);
  const described = JSON.parse(json.stdout) as { name: string; partitions: { end_offset: number }[] };
  t.is(described.name, 'weblogs');
  t.is(described.partitions.length, 3);
  t.is(
    described.partitions.reduce((n, p) => n + p.end_offset, 0),
    2,
  );
  const table = await tributary(['topics', 'describe', 'weblogs'], env);
  t.regex(table.stdout, /topic weblogs: 3 partition\(s\), 2 record\(s\)/);
  t.regex(table.stdout, /^PARTITION\s+START\s+END\s+RECORDS\s+SIZE\s+SEGMENTS$/m);

  // The reader may not delete: the CLI says why and exits 1.
  const denied = await tributary(['topics', 'delete', 'weblogs'], env);
  t.is(denied.status, 1);
  t.regex(denied.stderr, /needs role 'admin'/);

  const deleted = await tributary(['topics', 'delete', 'weblogs', ...admin]);
  t.is(deleted.status, 0, deleted.stderr);
  const missing = await tributary(['topics', 'describe', 'weblogs'], env);
  t.is(missing.status, 1);
  t.regex(missing.stderr, /topic 'weblogs' does not exist/);
});

test.serial('cli - groups list and describe show committed offset, end offset and lag', async (t) => {
  const client = new CollectorClient({ urls: collector.url, token: ADMIN_TOKEN });
  await client.createTopic({ name: 'orders', partitions: 1 });
  await client.produce(
    'orders',
    Array.from({ length: 10 }, (_v, i) => ({ key: 'k', value: String(i) })),
  );
  await client.commitOffsets('billing', { offsets: [{ topic: 'orders', partition: 0, offset: 4 }] });
  const env = { TRIBUTARY_URL: collector.url, TRIBUTARY_TOKEN: READ_TOKEN };
  const list = await tributary(['groups', 'list'], env);
  t.is(list.status, 0, list.stderr);
  t.regex(list.stdout, /^billing\s+orders\s+1\s+6$/m);
  const describe = await tributary(['groups', 'describe', 'billing'], env);
  t.is(describe.status, 0, describe.stderr);
  t.regex(describe.stdout, /^orders\s+0\s+4\s+10\s+6\s+\d{4}-/m);
  const json = await tributary(['groups', 'describe', 'billing', '-o', 'json'], env);
  const parsed = JSON.parse(json.stdout) as { offsets: { offset: number; end_offset: number; lag: number }[] };
  t.like(parsed.offsets[0], { offset: 4, end_offset: 10, lag: 6 });
});

test.serial('cli - an unreachable collector is a clear error', async (t) => {
  const r = await tributary(['topics', 'list', '--url', 'http://127.0.0.1:1']);
  t.is(r.status, 1);
  t.regex(r.stderr, /cannot reach the collector at http:\/\/127\.0\.0\.1:1/);
});
