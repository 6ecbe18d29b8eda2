/**
 * The produce path (collector/produce/produce.ts) as the other front ends call it: plain records in, stored records
 * out, on a real file store. HTTP and NATS produce go through it too (api, limits and nats/ingest tests).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { parseCollectorConfig } from '../../collector/config.ts';
import { CollectorMetrics } from '../../collector/metrics.ts';
import { ProducePath } from '../../collector/produce/produce.ts';
import type { PlainRecord } from '../../collector/produce/record-batches.ts';
import { TopicAccess } from '../../collector/produce/topic-access.ts';
import { FileLogStore } from '../../collector/storage/file/index.ts';
import { decodeRecords } from '../../shared/batch-codec.ts';
import { ForbiddenError, LimitExceededError, PartitionNotFoundError } from '../../shared/errors.ts';
import { partitionForKey } from '../../shared/partitioner.ts';

const PRODUCER = { name: 'agents', role: 'produce' } as const;
const READER = { name: 'dashboards', role: 'read' } as const;

async function fixture(t: import('ava').ExecutionContext, config: Record<string, unknown> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-produce-'));
  const store = await FileLogStore.open({ dataDir: dir, retentionCheckIntervalMs: 0 });
  t.teardown(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const { options } = parseCollectorConfig({ topics: { default_partitions: 4 }, ...config });
  const metrics = new CollectorMetrics();
  const topics = new TopicAccess({ store, collector: options });
  const path = new ProducePath({ store, topics, metrics, limits: options.limits });
  const stored = async (topic: string, partition: number) =>
    decodeRecords((await store.read(topic, partition, 0, 1 << 20)).batches).map((r) => ({
      key: r.key,
      value: r.value.toString(),
      labels: r.labels,
      fields: r.fields,
      timestamp: r.timestamp,
    }));
  return { store, metrics, path, stored };
}

const record = (key: string, value: string, extra: Partial<PlainRecord> = {}): PlainRecord => ({
  key,
  labels: { app: key },
  timestamp: 1_764_000_000_000,
  value: Buffer.from(value),
  ...extra,
});

test('produce - plain records land in the partition of their key, in order, with labels, fields and timestamps', async (t) => {
  const { path, stored, metrics } = await fixture(t);
  const records = [
    record('web', 'a1', { fields: { level: 'info' } }),
    record('db', 'b1'),
    record('web', 'a2', { timestamp: 1_764_000_000_500 }),
  ];
  const result = await path.produceRecords(PRODUCER, 'syslog', records, { encoding: 'syslog' });
  t.is(result.recordCount, 3);
  const web = partitionForKey('web', 4);
  const db = partitionForKey('db', 4);
  const webRecords = await stored('syslog', web);
  t.deepEqual(
    webRecords.filter((r) => r.key === 'web').map((r) => [r.value, r.timestamp, r.fields]),
    [
      ['a1', 1_764_000_000_000, { level: 'info' }],
      ['a2', 1_764_000_000_500, undefined],
    ],
  );
  t.deepEqual(webRecords[0]!.labels, { app: 'web' });
  t.true((await stored('syslog', db)).some((r) => r.value === 'b1'));
  t.deepEqual(
    result.partitions.map((p) => p.partition),
    [...new Set([web, db])].sort((a, b) => a - b),
  );
  t.regex(await metrics.registry.metrics(), /produce_duration_seconds_count\{encoding="syslog"\} 1\n/);
});

test('produce - a named partition takes every batch; a partition the topic lacks stores nothing', async (t) => {
  const { path, stored, store } = await fixture(t);
  const result = await path.produceRecords(PRODUCER, 'kafka-in', [record('x', '1'), record('y', '2')], {
    encoding: 'kafka',
    partition: 2,
  });
  t.deepEqual(result.partitions, [{ partition: 2, baseOffset: 0, lastOffset: 1, recordCount: 2 }]);
  t.deepEqual(
    (await stored('kafka-in', 2)).map((r) => r.value),
    ['1', '2'],
  );
  await t.throwsAsync(
    path.produceRecords(PRODUCER, 'kafka-in', [record('x', '3')], { encoding: 'kafka', partition: 4 }),
    {
      instanceOf: PartitionNotFoundError,
    },
  );
  t.deepEqual(
    (await store.describeTopic('kafka-in')).partitions.map((p) => p.endOffset),
    [0, 0, 2, 0],
  );
});

test('produce - a caller without the produce role, too many records or too long a value store nothing', async (t) => {
  const { path, store } = await fixture(t, { limits: { max_records_per_request: 3, max_line_bytes: 16 } });
  await t.throwsAsync(path.produceRecords(READER, 'otlp', [record('k', 'v')], { encoding: 'otlp' }), {
    instanceOf: ForbiddenError,
  });
  t.false(store.hasTopic('otlp'), 'a refused caller does not even create the topic');
  const four = ['1', '2', '3', '4'].map((v) => record('k', v));
  await t.throwsAsync(path.produceRecords(PRODUCER, 'otlp', four, { encoding: 'otlp' }), {
    instanceOf: LimitExceededError,
    message: /max_records_per_request/,
  });
  await t.throwsAsync(
    path.produceRecords(PRODUCER, 'otlp', [record('k', 'ok'), record('k', 'x'.repeat(17))], { encoding: 'otlp' }),
    { instanceOf: LimitExceededError, message: /record 1 .*max_line_bytes/ },
  );
  t.false(store.hasTopic('otlp'), 'nothing was appended, no topic created');
  await t.throwsAsync(path.produceRecords(PRODUCER, 'otlp', [], { encoding: 'otlp' }), {
    message: /no records/,
  });
});
