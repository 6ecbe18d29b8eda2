/**
 * Authentication against the real collector: the matrix of no token, wrong token, wrong role and right role for a
 * produce, a read and an admin route; public health and metrics; refusal to listen openly without tokens.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { CLI, CollectorProcess, REPO_ROOT } from '../helpers/collector-process.ts';
import { ADMIN_TOKEN, call, errorOf, ndjson, PRODUCE_TOKEN, READ_TOKEN, TOKENS } from './support.ts';

let collector: CollectorProcess;

test.before(async () => {
  collector = await CollectorProcess.start({ config: { tokens: TOKENS, log_level: 'debug' } });
  const setup = await call(`${collector.url}/v1/topics`, {
    method: 'POST',
    token: ADMIN_TOKEN,
    body: JSON.stringify({ name: 'secured', partitions: 1 }),
    headers: { 'content-type': 'application/json' },
  });
  if (setup.status !== 201) throw new Error(`setup failed: ${setup.text}`);
});

test.after.always(async () => {
  await collector?.dispose();
});

const produce = (token?: string, topic = 'secured') =>
  call(`${collector.url}/v1/topics/${topic}/records`, {
    method: 'POST',
    body: ndjson([{ key: 'k', value: 'v' }]),
    headers: { 'content-type': 'application/x-ndjson' },
    ...(token ? { token } : {}),
  });
const read = (token?: string) =>
  call(`${collector.url}/v1/topics/secured/partitions/0/records?offset=0`, token ? { token } : {});
const create = (name: string, token?: string) =>
  call(`${collector.url}/v1/topics`, {
    method: 'POST',
    body: JSON.stringify({ name }),
    headers: { 'content-type': 'application/json' },
    ...(token ? { token } : {}),
  });

const WRONG = 'not-a-configured-token-at-all';

const matrix: [string, (token?: string) => ReturnType<typeof call>, (string | undefined)[], string[]][] = [
  ['produce', produce, [PRODUCE_TOKEN, ADMIN_TOKEN], [READ_TOKEN]],
  ['read', read, [READ_TOKEN, ADMIN_TOKEN], [PRODUCE_TOKEN]],
  [
    'admin',
    (token) => create(`made-${Math.random().toString(36).slice(2, 8)}`, token),
    [ADMIN_TOKEN],
    [READ_TOKEN, PRODUCE_TOKEN],
  ],
];

for (const [role, op, allowed, forbidden] of matrix) {
  test(`auth - ${role} route: no token 401, wrong token 401, wrong role 403, right role 2xx`, async (t) => {
    const none = await op();
    t.is(none.status, 401);
    t.is(errorOf(none).code, 'unauthenticated');
    const wrong = await op(WRONG);
    t.is(wrong.status, 401);
    t.is(errorOf(wrong).code, 'unauthenticated');
    for (const token of forbidden) {
      const res = await op(token);
      t.is(res.status, 403, `token ${token}`);
      t.is(errorOf(res).code, 'forbidden');
      t.regex(errorOf(res).message, new RegExp(`needs role '${role}'`));
    }
    for (const token of allowed) {
      const res = await op(token);
      t.true(res.status >= 200 && res.status < 300, `token ${token}: ${res.status} ${res.text}`);
    }
  });
}

test('auth - a malformed Authorization header is 401', async (t) => {
  const res = await call(`${collector.url}/v1/topics`, { headers: { authorization: `Basic ${READ_TOKEN}` } });
  t.is(res.status, 401);
});

test('auth - rejected produces store nothing', async (t) => {
  // Its own topic: the matrix tests run concurrently and produce to 'secured'.
  const created = await create('untouched', ADMIN_TOKEN);
  t.is(created.status, 201);
  t.is((await produce(undefined, 'untouched')).status, 401);
  t.is((await produce(WRONG, 'untouched')).status, 401);
  t.is((await produce(READ_TOKEN, 'untouched')).status, 403);
  const after = (await call(`${collector.url}/v1/topics/untouched`, { token: READ_TOKEN })).json as {
    partitions: { end_offset: number }[];
  };
  t.is(after.partitions[0]!.end_offset, 0);
  // Nor is a topic auto-created by a rejected produce.
  t.is((await produce(READ_TOKEN, 'never-created')).status, 403);
  t.is((await call(`${collector.url}/v1/topics/never-created`, { token: READ_TOKEN })).status, 404);
});

test('auth - health, readiness and metrics are public', async (t) => {
  t.is((await call(`${collector.url}/healthz`)).status, 200);
  t.is((await call(`${collector.url}/readyz`)).status, 200);
  t.is((await call(`${collector.url}/metrics`)).status, 200);
});

test('auth - tokens never appear in the logs', async (t) => {
  await produce(PRODUCE_TOKEN);
  await produce(READ_TOKEN);
  await read(WRONG);
  for (const token of [ADMIN_TOKEN, PRODUCE_TOKEN, READ_TOKEN, WRONG]) t.false(collector.logs.includes(token));
});

test('auth - without tokens, listening on a non-loopback address is refused unless allow_unauthenticated', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-auth-'));
  try {
    const file = path.join(dir, 'collector.yaml');
    await writeFile(file, stringify({ listen: { host: '0.0.0.0', port: 0 }, data_dir: path.join(dir, 'data') }));
    const run = spawnSync(process.execPath, [CLI, 'collector', '--config', file], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    t.is(run.status, 1, run.stderr);
    t.regex(run.stderr, /refusing to listen on 0\.0\.0\.0 without authentication/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
