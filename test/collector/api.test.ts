/**
 * The HTTP API against the real collector process: produce and fetch in both encodings, gzip, long-poll, partition
 * choice, offsets, topic administration and group offsets.
 */
import test from 'ava';
import { gzipSync } from 'node:zlib';
import { decodeRecords } from '../../shared/batch-codec.ts';
import { CollectorClient } from '../../shared/client/collector-client.ts';
import { OffsetOutOfRangeError, TopicNotFoundError } from '../../shared/errors.ts';
import { partitionForKey } from '../../shared/partitioner.ts';
import { CollectorProcess } from '../helpers/collector-process.ts';
import { batchOf, call, ndjson } from './support.ts';

let collector: CollectorProcess;
let client: CollectorClient;

test.before(async () => {
  collector = await CollectorProcess.start({ config: { topics: { default_partitions: 4 } } });
  client = new CollectorClient({ urls: collector.url });
});

test.after.always(async () => {
  await collector?.dispose();
});

test('api - NDJSON produce then JSON fetch returns the same records with offsets, labels and timestamps', async (t) => {
  const res = await client.produce('rt-ndjson', [
    { key: 'web-1:app.log', value: 'hello', timestamp: 1_764_000_000_000, labels: { host: 'web-1' } },
    { key: 'web-1:app.log', value: 'world', timestamp: '2025-11-24T16:00:00.001Z', labels: { host: 'web-1' } },
    {
      key: 'web-1:app.log',
      value_base64: Buffer.from([0xff, 0x00, 0xfe]).toString('base64'),
      labels: { host: 'web-1' },
    },
  ]);
  t.is(res.record_count, 3);
  t.is(res.partitions.length, 1);
  const p = res.partitions[0]!;
  t.is(p.partition, partitionForKey('web-1:app.log', 4));
  t.is(p.base_offset, 0);
  t.is(p.last_offset, 2);
  const fetched = await client.fetch('rt-ndjson', p.partition, 0);
  t.deepEqual(
    fetched.records.map((r) => [r.offset, r.key, r.labels, r.value ?? `b64:${r.value_base64}`]),
    [
      [0, 'web-1:app.log', { host: 'web-1' }, 'hello'],
      [1, 'web-1:app.log', { host: 'web-1' }, 'world'],
      [2, 'web-1:app.log', { host: 'web-1' }, `b64:${Buffer.from([0xff, 0x00, 0xfe]).toString('base64')}`],
    ],
  );
  t.is(fetched.records[0]!.timestamp, 1_764_000_000_000);
  t.is(fetched.records[1]!.timestamp, Date.parse('2025-11-24T16:00:00.001Z'));
  t.is(fetched.next_offset, 3);
  t.is(fetched.end_offset, 3);
});

test('api - binary produce (plain and gzip) then binary fetch returns the same batches', async (t) => {
  const plain = Buffer.concat([batchOf('host-a:/var/log/a.log', 50, 'a'), batchOf('host-a:/var/log/a.log', 25, 'b')]);
  const r1 = await client.produceBatches('rt-binary', plain);
  t.is(r1.record_count, 75);
  const r2 = await client.produceBatches('rt-binary', gzipSync(batchOf('host-a:/var/log/a.log', 10, 'c')), {
    gzip: true,
  });
  t.is(r2.record_count, 10);
  const partition = partitionForKey('host-a:/var/log/a.log', 4);
  t.deepEqual(
    r2.partitions.map((p) => [p.partition, p.base_offset, p.last_offset]),
    [[partition, 75, 84]],
  );
  const fetched = await client.fetchBatches('rt-binary', partition, 0, { maxBytes: 1024 * 1024 });
  t.is(fetched.nextOffset, 85);
  t.is(fetched.endOffset, 85);
  t.is(fetched.startOffset, 0);
  const records = decodeRecords(fetched.batches);
  t.is(records.length, 85);
  t.deepEqual(
    records.map((r) => r.offset),
    Array.from({ length: 85 }, (_v, i) => i),
  );
  t.is(records[0]!.value.toString(), 'a-0');
  t.is(records[50]!.value.toString(), 'b-0');
  t.is(records[84]!.value.toString(), 'c-9');
  // The same records through JSON, starting mid-batch: records below the offset are skipped.
  const json = await client.fetch('rt-binary', partition, 60);
  t.is(json.records[0]!.offset, 60);
  t.is(json.records[0]!.value, 'b-10');
});

test('api - NDJSON with gzip content encoding', async (t) => {
  const body = gzipSync(ndjson([{ key: 'k', value: 'zipped' }]));
  const res = await call(`${collector.url}/v1/topics/rt-gzip/records`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' },
  });
  t.is(res.status, 200, res.text);
  const fetched = await client.fetch('rt-gzip', partitionForKey('k', 4), 0);
  t.is(fetched.records[0]!.value, 'zipped');
});

test('api - long-poll fetch waits, then wakes as soon as a record is appended', async (t) => {
  const key = 'poller';
  const partition = partitionForKey(key, 4);
  await client.produce('longpoll', [{ key, value: 'first' }]);
  const started = Date.now();
  const pending = client.fetch('longpoll', partition, 1, { waitMs: 20_000 });
  await new Promise((r) => setTimeout(r, 500));
  await client.produce('longpoll', [{ key, value: 'second' }]);
  const res = await pending;
  const elapsed = Date.now() - started;
  t.deepEqual(
    res.records.map((r) => r.value),
    ['second'],
  );
  t.true(elapsed >= 400, `answered after ${elapsed} ms, before the append`);
  t.true(elapsed < 15_000, `answered after ${elapsed} ms: the append did not wake the long-poll`);
  // With nothing arriving, the long-poll answers empty after wait_ms.
  const t0 = Date.now();
  const empty = await client.fetch('longpoll', partition, 2, { waitMs: 300 });
  t.deepEqual(empty.records, []);
  t.is(empty.next_offset, 2);
  t.true(Date.now() - t0 >= 250);
});

test('api - the partition of a key is stable across requests and follows fmix32(crc32(key)) mod partitions', async (t) => {
  const keys = Array.from({ length: 40 }, (_v, i) => `host-${i}:/var/log/app-${i % 7}.log`);
  for (let round = 0; round < 3; round++) {
    const res = await client.produce(
      'stable',
      keys.map((key) => ({ key, value: `${key}#${round}` })),
    );
    t.is(res.record_count, keys.length);
  }
  for (let p = 0; p < 4; p++) {
    const fetched = await client.fetch('stable', p, 0, { maxBytes: 1024 * 1024 });
    for (const r of fetched.records) t.is(partitionForKey(r.key, 4), p, `key ${r.key} landed in partition ${p}`);
    // Order per key is kept: rounds appear in order.
    const rounds = new Map<string, number[]>();
    for (const r of fetched.records) rounds.set(r.key, [...(rounds.get(r.key) ?? []), Number(r.value!.split('#')[1])]);
    for (const [key, seen] of rounds) t.deepEqual(seen, [0, 1, 2], `order of ${key}`);
  }
  const total = (await client.describeTopic('stable')).partitions.reduce((n, p) => n + p.end_offset, 0);
  t.is(total, keys.length * 3);
});

test('api - offsets: earliest, latest and by timestamp', async (t) => {
  const key = 'clock';
  const partition = partitionForKey(key, 4);
  await client.produce('offsets', [
    { key, value: 'a', timestamp: 1000 },
    { key, value: 'b', timestamp: 2000 },
  ]);
  await client.produce('offsets', [{ key, value: 'c', timestamp: 5000 }]);
  const of = async (at: string | number) =>
    (await client.offsets('offsets', at)).find((p) => p.partition === partition)!.offset;
  t.is(await of('earliest'), 0);
  t.is(await of('latest'), 3);
  t.is(await of(4000), 2); // first batch whose newest record is at or after 4000
  t.is(await of(new Date(1500).toISOString()), 0);
  t.is(await of(9000), 3);
  const bad = await call(`${collector.url}/v1/topics/offsets/offsets?at=yesterday`);
  t.is(bad.status, 400);
});

test('api - fetch outside the partition range is 416 naming the valid range; unknown partition 404', async (t) => {
  await client.produce('ranges', [{ key: 'x', value: '1' }]);
  const partition = partitionForKey('x', 4);
  const res = await call(`${collector.url}/v1/topics/ranges/partitions/${partition}/records?offset=99`);
  t.is(res.status, 416);
  t.regex(res.text, /\[0, 1\)/);
  t.like(JSON.parse(res.text), { error: { code: 'offset_out_of_range', start_offset: 0, end_offset: 1 } });
  // The client rebuilds the error from the body's fields, not from its message.
  const thrown = await t.throwsAsync(client.fetch('ranges', partition, 99), { instanceOf: OffsetOutOfRangeError });
  t.deepEqual([thrown?.startOffset, thrown?.endOffset], [0, 1]);
  t.is((await call(`${collector.url}/v1/topics/ranges/partitions/9/records?offset=0`)).status, 404);
  t.is((await call(`${collector.url}/v1/topics/missing-topic/partitions/0/records?offset=0`)).status, 404);
  t.is((await call(`${collector.url}/v1/topics/ranges/partitions/0/records`)).status, 400);
});

test('api - topics: create, list, describe, delete; duplicate is 409; bad names 400', async (t) => {
  const created = await client.createTopic({ name: 'admin-made', partitions: 2, retention_ms: 3_600_000 });
  t.is(created.config.partitions, 2);
  t.is(created.config.retention_ms, 3_600_000);
  t.is(created.partitions.length, 2);
  t.true((await client.listTopics()).some((x) => x.name === 'admin-made'));
  const again = await call(`${collector.url}/v1/topics`, {
    method: 'POST',
    body: JSON.stringify({ name: 'admin-made' }),
    headers: { 'content-type': 'application/json' },
  });
  t.is(again.status, 409);
  await client.produce('admin-made', [{ key: 'k', value: 'v' }]);
  const described = await client.describeTopic('admin-made');
  t.is(
    described.partitions.reduce((n, p) => n + p.end_offset, 0),
    1,
  );
  await client.deleteTopic('admin-made');
  await t.throwsAsync(client.describeTopic('admin-made'), { instanceOf: TopicNotFoundError });
  const badName = await call(`${collector.url}/v1/topics`, {
    method: 'POST',
    body: JSON.stringify({ name: '../etc' }),
    headers: { 'content-type': 'application/json' },
  });
  t.is(badName.status, 400);
  t.regex(badName.text, /invalid topic name/);
  t.is((await call(`${collector.url}/v1/topics/a%2Fb/records`, { method: 'POST', body: 'x' })).status, 400);
});

test('api - group offsets: commit, fetch with end offset and lag, list, delete', async (t) => {
  const key = 'grp';
  const partition = partitionForKey(key, 4);
  await client.produce('grouped', [
    { key, value: '1' },
    { key, value: '2' },
    { key, value: '3' },
  ]);
  await client.commitOffsets('readers', { offsets: [{ topic: 'grouped', partition, offset: 1, metadata: 'm' }] });
  const offsets = await client.groupOffsets('readers');
  t.is(offsets.length, 1);
  t.like(offsets[0], { topic: 'grouped', partition, offset: 1, metadata: 'm', end_offset: 3, lag: 2 });
  t.true((await client.listGroups()).includes('readers'));
  const bad = await call(`${collector.url}/v1/groups/readers/offsets`, {
    method: 'POST',
    body: JSON.stringify({ offsets: [{ topic: 'grouped', partition: 99, offset: 0 }] }),
    headers: { 'content-type': 'application/json' },
  });
  t.is(bad.status, 404);
  await client.deleteGroup('readers');
  t.false((await client.listGroups()).includes('readers'));
});

test('api - health and readiness; unknown routes are 404 with an error body', async (t) => {
  t.is((await call(`${collector.url}/healthz`)).status, 200);
  t.is((await call(`${collector.url}/readyz`)).status, 200);
  const missing = await call(`${collector.url}/v1/nope`);
  t.is(missing.status, 404);
  t.regex(missing.text, /no route GET \/v1\/nope/);
});
