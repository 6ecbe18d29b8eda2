/**
 * The record translation both ways, in process: our batches (plain, gzip, with parsed fields) become Kafka
 * RecordBatch v2 with a valid CRC-32C and the same offsets, keys, values, timestamps and headers; decoding a Kafka
 * batch back gives the same records. The real clients' view is in kcat.test.ts and produce.test.ts.
 */
import test from 'ava';
import { encodeBatch, stampBaseOffset } from '../../shared/batch-codec.ts';
import { decodeProducedRecords, InvalidKafkaBatchError } from '../../collector/kafka/codec/produced-batch.ts';
import { toKafkaRecords } from '../../collector/kafka/codec/record-batch.ts';
import { CorruptBatchError } from '../../shared/errors.ts';

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

/** Records without parsed fields, at the edges of every varint the translation writes. */
function plainRecords(count: number) {
  const sizes = [0, 1, 63, 64, 127, 128, 8191, 8192, 70_000];
  // Timestamps out of order (a negative delta) and far apart (a long one).
  const offsets = [0, -5, 1_000_000_000, 3, -70_000];
  return Array.from({ length: count }, (_v, i) => ({
    timestamp: 1_764_000_000_000 + offsets[i % offsets.length]! + i,
    value: Buffer.alloc(sizes[i % sizes.length]!, 97 + (i % 26)),
  }));
}

test('record batch - plain records translate exactly at every varint edge (lengths, negative and long deltas)', (t) => {
  const records = plainRecords(300);
  const ours = encodeBatch({ key: 'host-a:/var/log/plain.log', labels: { host: 'host-a' }, records });
  stampBaseOffset(ours, 0, 5000);
  const [batch] = decodeProducedRecords(toKafkaRecords(ours), LIMITS, 0);
  t.is(batch!.records.length, 300);
  for (const [i, record] of batch!.records.entries()) {
    t.is(record.timestamp, records[i]!.timestamp, `timestamp of record ${i}`);
    t.true(record.value.equals(records[i]!.value), `value of record ${i}`);
    t.is(record.key, 'host-a:/var/log/plain.log');
    t.deepEqual(record.labels, { host: 'host-a' });
  }
});

test('record batch - plain records translate to the same bytes as the general path (fields) writes them', (t) => {
  const records = plainRecords(150);
  const source = { key: 'host-a:/var/log/plain.log', labels: { host: 'host-a', service: 'api' } };
  const plain = toKafkaRecords(encodeBatch({ ...source, records }));
  // One record with fields sends the whole batch through the general path; the records before it must not change.
  const mixed = toKafkaRecords(
    encodeBatch({ ...source, records: [...records, { timestamp: 1, value: Buffer.from('x'), fields: { a: 'b' } }] }),
  );
  t.true(mixed.subarray(61, plain.length).equals(plain.subarray(61)));
});

test('record batch - a stored record whose length runs past its batch is refused as corrupt', (t) => {
  const ours = encodeBatch({ key: 'k', labels: {}, records: [{ timestamp: 1, value: Buffer.from('value') }] });
  // The last bytes are the only record: length 7 (ts, value length, 5 bytes, field count); claim 9 instead.
  t.is(ours[ours.length - 9], 8);
  ours[ours.length - 9] = 10;
  t.throws(() => toKafkaRecords(ours), { instanceOf: CorruptBatchError });
});

test('record batch - a stored batch with bytes after its last counted record is refused as corrupt', (t) => {
  const ours = encodeBatch({
    key: 'k',
    labels: {},
    records: [
      { timestamp: 1, value: Buffer.from('one') },
      { timestamp: 2, value: Buffer.from('two') },
    ],
  });
  ours.writeInt32BE(1, 19); // recordCount: the second record is now stray bytes
  t.throws(() => toKafkaRecords(ours), { instanceOf: CorruptBatchError, message: /bytes after its last record/ });
});
