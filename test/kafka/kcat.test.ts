/**
 * kcat (librdkafka) against the Kafka listener of a real collector process: metadata, and consuming what the HTTP
 * API and an agent produced, with key, headers (our labels) and timestamp, at the offsets the HTTP API shows.
 */
import { appendFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { CollectorClient } from '../../shared/client/collector-client.ts';
import { startAgentProcess, writeAgentConfig } from '../agent/support.ts';
import { waitFor } from '../collector/support.ts';
import { withKcat, headersOf, type KafkaCollector, kcatConsume, run, startKafkaCollector } from './support.ts';

let kafka: KafkaCollector;
let client: CollectorClient;

test.before(async () => {
  kafka = await startKafkaCollector({ config: { topics: { default_partitions: 3 } } });
  client = new CollectorClient({ urls: kafka.collector.url });
});

test.after.always(async () => {
  await kafka?.collector.dispose();
});

withKcat.test(
  'kcat - metadata lists the collector as the broker at the advertised address, and each topic with its partitions',
  async (t) => {
    await client.createTopic({ name: 'kcat-meta', partitions: 4 });
    const result = await run('kcat', ['-b', kafka.bootstrap, '-L', '-J']);
    t.is(result.code, 0, result.stderr);
    const metadata = JSON.parse(result.stdout) as {
      brokers: { id: number; name: string }[];
      topics: { topic: string; partitions: { partition: number; leader: number }[] }[];
    };
    t.deepEqual(
      metadata.brokers.map((b) => b.name),
      [kafka.bootstrap],
    );
    const topic = metadata.topics.find((x) => x.topic === 'kcat-meta');
    t.truthy(topic);
    t.deepEqual(topic!.partitions.map((p) => p.partition).sort(), [0, 1, 2, 3]);
  },
);

withKcat.test(
  'kcat - consumes what HTTP produced: same offsets, key, value, timestamp, and labels as headers',
  async (t) => {
    const produced = await client.produce('kcat-http', [
      {
        key: 'web-1:/var/log/app.log',
        value: 'first line',
        timestamp: 1_764_000_000_000,
        labels: { host: 'web-1', service: 'app' },
      },
      {
        key: 'web-1:/var/log/app.log',
        value: 'second line',
        timestamp: 1_764_000_000_005,
        labels: { host: 'web-1', service: 'app' },
      },
      { key: 'db-1:/var/log/pg.log', value: 'checkpoint', timestamp: 1_764_000_000_010, labels: { host: 'db-1' } },
    ]);
    t.is(produced.record_count, 3);
    const messages = await kcatConsume(kafka.bootstrap, 'kcat-http');
    t.is(messages.length, 3);
    const byValue = new Map(messages.map((m) => [m.payload, m]));
    const first = byValue.get('first line')!;
    t.is(first.key, 'web-1:/var/log/app.log');
    t.is(first.ts, 1_764_000_000_000);
    t.is(first.tstype, 'create');
    t.deepEqual(headersOf(first), { host: 'web-1', service: 'app' });
    const second = byValue.get('second line')!;
    t.is(second.offset, first.offset + 1);
    t.is(second.partition, first.partition);
    t.is(second.ts, 1_764_000_000_005);
    const pg = byValue.get('checkpoint')!;
    t.is(pg.key, 'db-1:/var/log/pg.log');
    t.deepEqual(headersOf(pg), { host: 'db-1' });
    // The offsets are the ones the HTTP API reported.
    for (const p of produced.partitions) {
      const inPartition = messages.filter((m) => m.partition === p.partition).map((m) => m.offset);
      t.deepEqual(
        inPartition,
        Array.from({ length: p.record_count }, (_v, i) => p.base_offset + i),
      );
    }
  },
);

withKcat.test(
  'kcat - reads from an offset in the middle of a batch (the batch is returned whole, kcat skips what precedes)',
  async (t) => {
    const records = Array.from({ length: 50 }, (_v, i) => ({
      key: 'mid:/a.log',
      value: `line-${i}`,
      timestamp: 1_764_000_000_000 + i,
    }));
    const produced = await client.produce('kcat-mid', records);
    const partition = produced.partitions[0]!.partition;
    const result = await run('kcat', [
      ...['-b', kafka.bootstrap, '-C', '-t', 'kcat-mid', '-p', String(partition), '-o', '20', '-e', '-q'],
      ...['-f', '%o %s\n'],
    ]);
    t.is(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    t.is(lines.length, 30);
    t.is(lines[0], '20 line-20');
    t.is(lines[29], '49 line-49');
  },
);

withKcat.test(
  'kcat - consumes what an agent shipped from a log file: key host:path, the line as value, labels as headers',
  async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-kafka-agent-'));
    const log = path.join(dir, 'logs', 'service.log');
    await mkdir(path.dirname(log), { recursive: true });
    const lines = Array.from({ length: 20 }, (_v, i) => `agent line ${i}`);
    await appendFile(log, `${lines.join('\n')}\n`);
    const config = await writeAgentConfig({
      dir,
      collectorUrl: kafka.collector.url,
      sources: [{ name: 'svc', include: [`${path.dirname(log)}/*.log`], topic: 'kcat-agent' }],
    });
    const agent = await startAgentProcess(config);
    try {
      const messages = await waitFor('kcat to see the 20 lines', async () => {
        const got = await kcatConsume(kafka.bootstrap, 'kcat-agent').catch(() => []);
        return got.length >= 20 ? got : undefined;
      });
      t.deepEqual(
        messages.map((m) => m.payload),
        lines,
      );
      t.true(
        messages.every((m) => m.key?.endsWith(`:${log}`)),
        messages[0]!.key ?? 'null key',
      );
      const headers = headersOf(messages[0]!);
      t.is(headers.path, log);
      t.truthy(headers.host);
    } finally {
      await agent.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
);
