/**
 * Producing through the Kafka listener with real clients: kcat with every compression codec, Confluent's Python
 * Producer (idempotent, delivery reports), kafkajs with gzip, and acks=0. What they produced is read back over the
 * HTTP API: same partition, offsets, key, value, and headers as labels.
 */
import test from 'ava';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { CollectorClient } from '../../shared/client/collector-client.ts';
import { waitFor } from '../collector/support.ts';
import { withKcat, withPythonKafka, type KafkaCollector, PYTHON, run, startKafkaCollector } from './support.ts';

let kafka: KafkaCollector;
let client: CollectorClient;

test.before(async () => {
  kafka = await startKafkaCollector({ config: { topics: { default_partitions: 2 } } });
  client = new CollectorClient({ urls: kafka.collector.url });
});

test.after.always(async () => {
  await kafka?.collector.dispose();
});

async function allRecords(topic: string) {
  const info = await client.describeTopic(topic);
  const out = [];
  for (const p of info.partitions) {
    let offset = p.start_offset;
    while (offset < p.end_offset) {
      const page = await client.fetch(topic, p.partition, offset);
      out.push(...page.records.map((r) => ({ ...r, partition: p.partition })));
      offset = page.next_offset;
    }
  }
  return out;
}

for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
  withKcat.test(
    `produce - kcat produces lines compressed with ${codec}: stored with key and headers as labels`,
    async (t) => {
      const topic = `kcat-produce-${codec}`;
      const lines = Array.from({ length: 200 }, (_v, i) => `${codec} line ${i} ${'x'.repeat(i % 50)}`);
      const result = await run(
        'kcat',
        ['-b', kafka.bootstrap, '-P', '-t', topic, '-k', 'host-a:/var/log/app.log', '-H', 'service=api', '-z', codec],
        `${lines.join('\n')}\n`,
      );
      t.is(result.code, 0, result.stderr);
      const records = await allRecords(topic);
      t.deepEqual(
        records.map((r) => r.value),
        lines,
      );
      t.true(records.every((r) => r.key === 'host-a:/var/log/app.log' && r.labels.service === 'api'));
      t.deepEqual(
        records.map((r) => r.offset),
        lines.map((_l, i) => i),
      );
    },
  );
}

withPythonKafka.test(
  'produce - Python Producer (idempotent) gets a delivery report with the offset of every message',
  async (t) => {
    const script = `
import json, sys
from confluent_kafka import Producer
p = Producer({'bootstrap.servers': sys.argv[1], 'enable.idempotence': True, 'compression.type': 'gzip', 'linger.ms': 5})
reports = []
def report(err, msg):
    reports.append({'err': str(err) if err else None, 'partition': msg.partition(), 'offset': msg.offset(), 'value': msg.value().decode()})
for i in range(300):
    p.produce('py-produce', key=f'py-{i % 3}', value=f'python {i}', headers=[('origin', b'python')], on_delivery=report)
    p.poll(0)
left = p.flush(60)
print(json.dumps({'left': left, 'reports': reports}))
`;
    const result = await run(PYTHON, ['-c', script, kafka.bootstrap], '', 120_000);
    t.is(result.code, 0, result.stderr);
    const { left, reports } = JSON.parse(result.stdout) as {
      left: number;
      reports: { err: string | null; partition: number; offset: number; value: string }[];
    };
    t.is(left, 0);
    t.is(reports.length, 300);
    t.deepEqual(
      reports.filter((r) => r.err !== null),
      [],
    );
    const records = await allRecords('py-produce');
    t.is(records.length, 300);
    // Each delivery report names where the message is: the same partition and offset over HTTP.
    const stored = new Map(records.map((r) => [`${r.partition}:${r.offset}`, r]));
    for (const report of reports) {
      const record = stored.get(`${report.partition}:${report.offset}`);
      t.is(record?.value, report.value);
      t.is(record?.labels.origin, 'python');
    }
  },
);

test('produce - kafkajs producer with gzip: acknowledged offsets hold the records', async (t) => {
  const client = new Kafka({ brokers: [kafka.bootstrap], clientId: 'kafkajs-test', logLevel: logLevel.NOTHING });
  const producer = client.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  try {
    const answers = await producer.send({
      topic: 'kafkajs-gzip',
      compression: CompressionTypes.GZIP,
      messages: Array.from({ length: 100 }, (_v, i) => ({
        key: 'kjs:/app.log',
        value: `kafkajs ${i}`,
        headers: { team: 'core' },
        timestamp: String(1_764_000_000_000 + i),
      })),
    });
    t.is(answers.length, 1);
    t.is(answers[0]!.errorCode, 0);
    const records = await allRecords('kafkajs-gzip');
    t.is(records.length, 100);
    t.is(records[0]!.offset, Number(answers[0]!.baseOffset));
    t.deepEqual(
      records.map((r) => r.value),
      Array.from({ length: 100 }, (_v, i) => `kafkajs ${i}`),
    );
    t.is(records[5]!.timestamp, 1_764_000_000_005);
    t.deepEqual(records[0]!.labels, { team: 'core' });
  } finally {
    await producer.disconnect();
  }
});

withKcat.test('produce - acks=0 gets no answer, and the records are stored', async (t) => {
  const lines = Array.from({ length: 10 }, (_v, i) => `fire and forget ${i}`);
  const result = await run(
    'kcat',
    ['-b', kafka.bootstrap, '-P', '-t', 'acks-zero', '-k', 'k', '-X', 'acks=0'],
    `${lines.join('\n')}\n`,
  );
  t.is(result.code, 0, result.stderr);
  const records = await waitFor('the acks=0 records', async () => {
    const got = await allRecords('acks-zero').catch(() => []);
    return got.length === 10 ? got : undefined;
  });
  t.deepEqual(
    records.map((r) => r.value),
    lines,
  );
});
