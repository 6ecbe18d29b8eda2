/**
 * The record translation both ways, in process: our batches (plain, gzip, with parsed fields) become Kafka
 * RecordBatch v2 with a valid CRC-32C and the same offsets, keys, values, timestamps and headers; decoding a Kafka
 * batch back gives the same records. The real clients' view is in kcat.test.ts and produce.test.ts.
 */
import test from 'ava';
import { encodeBatch, stampBaseOffset } from '../../shared/batch-codec.ts';
import { decodeProducedRecords, InvalidKafkaBatchError } from '../../collector/kafka/codec/produced-batch.ts';
import { toKafkaRecords } from '../../collector/kafka/codec/record-batch.ts';

const LIMITS = { maxInflated: 1 << 24, maxValue: 1 << 20 };

for (const compression of ['none', 'gzip'] as const) {
  test(`record batch - a ${compression} batch translates with its offsets, key, values, timestamps and labels`, (t) => {
    const ours = encodeBatch(
      {
        key: 'web-1:/var/log/app.log',
        labels: { host: 'web-1', service: 'api' },
        records: Array.from({ length: 300 }, (_v, i) => ({
          timestamp: 1_764_000_000_000 + i * 7,
          value: Buffer.from(`line ${i}`),
          ...(i % 100 === 5 ? { fields: { level: 'warn' } } : {}),
        })),
      },
      compression,
    );
    stampBaseOffset(ours, 0, 1000);
    const kafka = toKafkaRecords(ours);
    t.is(kafka.readBigInt64BE(0), 1000n);
    t.is(kafka.readInt8(16), 2);
    const [batch] = decodeProducedRecords(kafka, LIMITS, 0);
    t.is(batch!.records.length, 300);
    t.is(batch!.records[3]!.value.toString(), 'line 3');
    t.is(batch!.records[3]!.timestamp, 1_764_000_000_021);
    t.is(batch!.records[3]!.key, 'web-1:/var/log/app.log');
    t.deepEqual(batch!.records[3]!.labels, { host: 'web-1', service: 'api' });
    // A record's parsed fields travel as extra headers after the labels.
    t.deepEqual(batch!.records[105]!.labels, { host: 'web-1', service: 'api', level: 'warn' });
  });
}

test('record batch - a Kafka batch with a flipped byte fails its CRC-32C and is refused', (t) => {
  const ours = encodeBatch({ key: 'k', labels: {}, records: [{ timestamp: 1, value: Buffer.from('v') }] });
  const kafka = Buffer.from(toKafkaRecords(ours));
  kafka[kafka.length - 3]! ^= 0xff;
  const error = t.throws(() => decodeProducedRecords(kafka, LIMITS, 0), { instanceOf: InvalidKafkaBatchError });
  t.regex(error!.message, /CRC-32C/);
});

test('record batch - a value above max_line_bytes is refused with MESSAGE_TOO_LARGE', (t) => {
  const ours = encodeBatch({ key: 'k', labels: {}, records: [{ timestamp: 1, value: Buffer.alloc(2000, 'a') }] });
  const error = t.throws(() => decodeProducedRecords(toKafkaRecords(ours), { ...LIMITS, maxValue: 1000 }, 0), {
    instanceOf: InvalidKafkaBatchError,
  });
  t.is(error!.errorCode, 10);
});
