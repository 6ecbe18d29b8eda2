/**
 * Idempotent produce over HTTP with the real collector process: an agent whose request was stored but whose answer
 * it never got (the collector SIGKILLed between its fsync and its reply) sends the same bytes again to the restarted
 * collector; the batches are acknowledged with their first offsets and stored once.
 */
import test from 'ava';
import { encodeBatch } from '../../shared/batch-codec.ts';
import { BATCH_CONTENT_TYPE } from '../../shared/wire.ts';
import { CollectorProcess } from '../helpers/collector-process.ts';
import { call } from './support.ts';

interface ProduceAnswer {
  readonly partitions: { base_offset: number; last_offset: number; record_count: number; duplicate_batches?: number }[];
}

const producer = (sequence: number) => ({ id: 90_000_000_001, sequence });

/** The body an agent would send: two batches of one file, stamped with its producer id and sequences. */
function request(firstSequence: number): Buffer {
  return Buffer.concat(
    [0, 1].map((i) =>
      encodeBatch(
        {
          key: 'web-1:/var/log/app.log',
          labels: { host: 'web-1' },
          records: [{ timestamp: 1_764_000_000_000, value: Buffer.from(`line ${firstSequence + i}`) }],
        },
        'gzip',
        producer(firstSequence + i),
      ),
    ),
  );
}

async function produce(url: string, body: Buffer): Promise<ProduceAnswer['partitions'][number]> {
  const res = await call(`${url}/v1/topics/app/records`, {
    method: 'POST',
    body,
    headers: { 'content-type': BATCH_CONTENT_TYPE },
  });
  if (res.status !== 200) throw new Error(`produce answered ${res.status}: ${res.text}`);
  return (res.json as ProduceAnswer).partitions[0]!;
}

test('idempotent produce - a request resent after a collector SIGKILL is acknowledged and stored once', async (t) => {
  const collector = await CollectorProcess.start({ config: { topics: { default_partitions: 1 } } });
  t.teardown(() => collector.dispose());
  t.like(await produce(collector.url, request(0)), { base_offset: 0, last_offset: 1, record_count: 2 });
  // The answer above stands for one the agent never received: kill the collector, start it on the same data.
  await collector.kill();
  await collector.restart();
  const resent = await produce(collector.url, request(0));
  t.deepEqual(resent, { partition: 0, base_offset: 0, last_offset: 1, record_count: 2, duplicate_batches: 2 });
  const metrics = (await call(`${collector.url}/metrics`)).text;
  t.regex(metrics, /^tributary_collector_produce_duplicate_batches_total\{topic="app"\} 2$/m);
  t.notRegex(metrics, /^tributary_collector_records_appended_total\{topic="app"\}/m, 'the resend appended nothing');
  t.like(await produce(collector.url, request(2)), { base_offset: 2, last_offset: 3 });

  const read = await call(`${collector.url}/v1/topics/app/partitions/0/records?offset=0&format=json`);
  const records = (read.json as { records: { offset: number; value: string }[] }).records;
  t.deepEqual(
    records.map((r) => [r.offset, r.value]),
    [
      [0, 'line 0'],
      [1, 'line 1'],
      [2, 'line 2'],
      [3, 'line 3'],
    ],
  );
});
