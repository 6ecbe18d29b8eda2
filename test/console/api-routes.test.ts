/**
 * console - the API routes the console added (docs/api.md): label names and values, volume per bucket split by
 * level, the context of a record from its own source, and whoami. Against a real collector process.
 */
import test from 'ava';
import { CollectorProcess } from '../helpers/collector-process.ts';
import { api, type ProducedRecord, produce } from './support.ts';

const ADMIN = 'admin-token-routes-1';
const WRITER = 'writer-token-routes-2';

interface Volume {
  start: number;
  step_ms: number;
  levels: string[];
  buckets: { start: number; counts: Record<string, number> }[];
  total: number;
  partial: boolean;
}

test('console API - labels, volume, record context and whoami', async (t) => {
  t.timeout(120_000);
  const collector = await CollectorProcess.start({
    config: {
      tokens: [
        { name: 'ops', token: ADMIN, role: 'admin' },
        { name: 'shipper', token: WRITER, role: 'produce' },
      ],
    },
  });
  t.teardown(() => collector.dispose());
  const url = collector.url;
  await api(url, '/v1/topics', ADMIN, { method: 'POST', body: JSON.stringify({ name: 'app', partitions: 2 }) });
  // Two sources interleaved in time; a minute of history at 10 s intervals, aligned to a minute.
  const base = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000;
  const records: ProducedRecord[] = [];
  for (let i = 0; i < 6; i++) {
    records.push({
      key: 'web-1:/var/log/api.log',
      value: `api line ${i}${i % 3 === 0 ? ' timeout' : ''}`,
      timestamp: base + i * 10_000,
      labels: { host: 'web-1', service: 'api', level: i % 2 === 0 ? 'error' : 'info' },
    });
    records.push({
      key: 'db-1:/var/log/db.log',
      value: `db line ${i}`,
      timestamp: base + i * 10_000 + 1,
      labels: { host: 'db-1', service: 'db' },
    });
  }
  // produced one at a time so each record is its own batch, interleaving the two sources in their partitions
  for (const r of records) await produce(url, 'app', [r], ADMIN);
  const since = new Date(base - 60_000).toISOString();

  const names = await api<{ names: string[]; partial: boolean }>(url, `/v1/topics/app/labels?since=${since}`, ADMIN);
  t.deepEqual(names.names, ['host', 'level', 'service']);
  t.false(names.partial);
  const services = await api<{ values: string[] }>(url, `/v1/topics/app/labels/service/values?since=${since}`, ADMIN);
  t.deepEqual(services.values, ['api', 'db']);
  const hosts = await api<{ values: string[] }>(
    url,
    `/v1/topics/app/labels/host/values?since=${since}&where=${encodeURIComponent('service=db')}`,
    ADMIN,
  );
  t.deepEqual(hosts.values, ['db-1']);
  const old = await api<{ names: string[] }>(url, '/v1/topics/app/labels?since=2h&until=1h', ADMIN);
  t.deepEqual(old.names, [], 'nothing outside the range');

  // Volume: one-minute buckets over [base, base + 1 min): 6 + 6 records; split by level.
  const until = new Date(base + 60_000).toISOString();
  const volume = await api<Volume>(
    url,
    `/v1/topics/app/volume?since=${new Date(base).toISOString()}&until=${until}&buckets=6`,
    ADMIN,
  );
  t.is(volume.step_ms, 10_000);
  t.is(volume.total, 12);
  t.deepEqual(volume.levels, ['', 'error', 'info']);
  t.is(volume.buckets.length, 6);
  t.deepEqual(volume.buckets[0]!.counts, { error: 1, '': 1 });
  t.deepEqual(volume.buckets[1]!.counts, { info: 1, '': 1 });
  const filtered = await api<Volume>(
    url,
    `/v1/topics/app/volume?since=${new Date(base).toISOString()}&until=${until}&buckets=6&grep=timeout&where=${encodeURIComponent('service=~"a.*"')}`,
    ADMIN,
  );
  t.is(filtered.total, 2);
  t.deepEqual(
    filtered.buckets.map((b) => b.counts),
    [{ error: 1 }, {}, {}, { info: 1 }, {}, {}],
  );

  // Context: the lines around api line 3 come from its own source only.
  const hits = (await (
    await fetch(`${url}/v1/topics/app/query?grep=api%20line%203&since=${since}`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    }).then((r) => r.text())
  )
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))) as { partition?: number; offset?: number }[];
  const hit = hits[0]!;
  const context = await api<{ before: { value: string }[]; record: { value: string }; after: { value: string }[] }>(
    url,
    `/v1/topics/app/partitions/${hit.partition}/context?offset=${hit.offset}&before=2&after=5`,
    ADMIN,
  );
  t.is(context.record.value, 'api line 3 timeout');
  t.deepEqual(
    context.before.map((r) => r.value),
    ['api line 1', 'api line 2'],
  );
  t.deepEqual(
    context.after.map((r) => r.value),
    ['api line 4', 'api line 5'],
  );

  // whoami: any valid token, whatever its role; never the token itself.
  t.deepEqual(await api(url, '/v1/whoami', WRITER), { name: 'shipper', role: 'produce', authentication: true });
  t.is((await fetch(`${url}/v1/whoami`)).status, 401);
  t.is((await fetch(`${url}/v1/whoami`, { headers: { authorization: 'Bearer nope' } })).status, 401);
  // the aggregate routes need the read role
  t.is((await fetch(`${url}/v1/topics/app/volume`, { headers: { authorization: `Bearer ${WRITER}` } })).status, 403);

  // Bad input: a clear 400 naming the problem.
  const bad = async (path: string) => {
    const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const body = (await response.json()) as { error: { code: string; message: string } };
    t.is(response.status, 400, path);
    t.is(body.error.code, 'invalid_argument', path);
    return body.error.message;
  };
  t.regex(await bad('/v1/topics/app/labels/bad%20name/values'), /not a label name/);
  t.regex(await bad('/v1/topics/app/volume?buckets=0'), /buckets/);
  t.regex(await bad('/v1/topics/app/volume?since=1h&until=2h'), /since must be earlier/);
  t.regex(await bad('/v1/topics/app/volume?regex=(unclosed'), /not a valid regular expression/);
  t.regex(await bad('/v1/topics/app/partitions/0/context?offset=0&before=501'), /before/);
  const outside = await fetch(`${url}/v1/topics/app/partitions/0/context?offset=999`, {
    headers: { authorization: `Bearer ${ADMIN}` },
  });
  t.is(outside.status, 416);
});
