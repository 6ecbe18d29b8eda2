import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import {
  BatchBuilder,
  decodeRecords,
  encodeBatch,
  forEachRecord,
  JSON_FIELDS,
  readBatchHeader,
  readBatchSource,
  splitBatches,
  stampBaseOffset,
} from '../../shared/batch-codec.ts';
import { CorruptBatchError } from '../../shared/errors.ts';

// The golden vector of docs/storage.md: changing these bytes breaks every stored log and every deployed agent.
const GOLDEN_INPUT = {
  key: 'web-1:/var/log/app.log',
  labels: { host: 'web-1', service: 'api' },
  records: [
    { timestamp: 1764000000000, value: Buffer.from('hello') },
    { timestamp: 1764000000250, value: Buffer.from('level=warn msg=x'), fields: { level: 'warn' } },
    { timestamp: 1763999999999, value: Buffer.from([0xff, 0x00, 0x0a]) },
  ],
};
const GOLDEN_HEX =
  '00000000000000000000007a01cd01794f0000000000030000019ab697e8000000019ab697e8fa16' +
  '7765622d313a2f7661722f6c6f672f6170702e6c6f670204686f7374057765622d310773657276696365036170' +
  '6908000568656c6c6f001ff403106c6576656c3d7761726e206d73673d7801056c6576656c047761726e0601' +
  '03ff000a00';

test('batch codec - encodes the golden vector byte for byte', (t) => {
  t.is(encodeBatch(GOLDEN_INPUT).toString('hex'), GOLDEN_HEX);
});

test('batch codec - decodes the golden vector', (t) => {
  const bytes = Buffer.from(GOLDEN_HEX, 'hex');
  const header = readBatchHeader(bytes);
  t.like(header, {
    baseOffset: 0,
    size: 134,
    recordCount: 3,
    compression: 'none',
    firstTimestamp: 1764000000000,
    maxTimestamp: 1764000000250,
    lastOffset: 2,
  });
  t.deepEqual(readBatchSource(bytes).labels, { host: 'web-1', service: 'api' });
  const records = decodeRecords(bytes);
  t.deepEqual(
    records.map((r) => [r.offset, r.timestamp, r.value.toString('hex'), r.fields]),
    [
      [0, 1764000000000, Buffer.from('hello').toString('hex'), undefined],
      [1, 1764000000250, Buffer.from('level=warn msg=x').toString('hex'), { level: 'warn' }],
      [2, 1763999999999, 'ff000a', undefined],
    ],
  );
});

// The golden vector of a batch stamped with its producer (docs/storage.md): attribute bit 4, producer id and
// sequence after the fixed header, the key at byte 55.
const GOLDEN_PRODUCER_HEX =
  '00000000000000000000005701556715bf0010000000010000019ab697e8000000019ab697e8' +
  '0000000123456789ab000000000000002a' +
  '167765622d313a2f7661722f6c6f672f6170702e6c6f670104686f7374057765622d3108000568656c6c6f00';
const GOLDEN_PRODUCER_INPUT = {
  key: 'web-1:/var/log/app.log',
  labels: { host: 'web-1' },
  records: [{ timestamp: 1764000000000, value: Buffer.from('hello') }],
};

test('batch codec - a batch with a producer encodes and decodes its golden vector', (t) => {
  const producer = { id: 0x0123456789ab, sequence: 42 };
  const bytes = encodeBatch(GOLDEN_PRODUCER_INPUT, 'none', producer);
  t.is(bytes.toString('hex'), GOLDEN_PRODUCER_HEX);
  t.like(readBatchHeader(bytes), { size: 99, attributes: 0x10, recordCount: 1, producer });
  t.is(readBatchHeader(Buffer.from(GOLDEN_HEX, 'hex')).producer, undefined);
  t.deepEqual(readBatchSource(bytes).labels, { host: 'web-1' });
  t.deepEqual(
    decodeRecords(bytes).map((r) => [r.key, r.value.toString()]),
    [['web-1:/var/log/app.log', 'hello']],
  );
  t.is(splitBatches(bytes).length, 1);
});

test('batch codec - producer ids and sequences must be whole numbers from 0', (t) => {
  for (const producer of [
    { id: -1, sequence: 0 },
    { id: 1, sequence: -1 },
    { id: 1.5, sequence: 0 },
    { id: 1, sequence: 2 ** 53 },
  ]) {
    t.throws(
      () => encodeBatch(GOLDEN_PRODUCER_INPUT, 'none', producer),
      { message: /producer/ },
      JSON.stringify(producer),
    );
  }
  // A stored sequence below zero (bytes from elsewhere) is corrupt, never a producer state entry.
  const bytes = Buffer.from(GOLDEN_PRODUCER_HEX, 'hex');
  bytes.writeBigInt64BE(-5n, 47);
  t.throws(() => readBatchHeader(bytes), { instanceOf: CorruptBatchError, message: /sequence -5/ });
});

test('batch codec - stamping a base offset keeps the CRC valid', (t) => {
  const bytes = encodeBatch(GOLDEN_INPUT, 'gzip');
  stampBaseOffset(bytes, 0, 2 ** 40);
  const [batch] = splitBatches(bytes);
  t.is(batch?.header.baseOffset, 2 ** 40);
  t.deepEqual(
    decodeRecords(bytes).map((r) => r.offset),
    [2 ** 40, 2 ** 40 + 1, 2 ** 40 + 2],
  );
});

test('batch codec - a flipped byte anywhere under the CRC is detected', (t) => {
  const good = encodeBatch(GOLDEN_INPUT);
  for (let i = 17; i < good.length; i++) {
    const bad = Buffer.from(good);
    bad[i] = bad[i]! ^ 0x01;
    t.throws(() => splitBatches(bad), { instanceOf: CorruptBatchError }, `byte ${i}`);
  }
});

test('batch codec - a truncated batch is rejected at every cut', (t) => {
  const good = encodeBatch(GOLDEN_INPUT);
  for (let cut = 1; cut < good.length; cut++) {
    t.throws(() => splitBatches(good.subarray(0, cut)), { instanceOf: CorruptBatchError }, `cut at ${cut}`);
  }
});

test('batch codec - an empty builder refuses to finish', (t) => {
  t.throws(() => new BatchBuilder('k', {}).finish(), { message: /at least one record/ });
});

const recordArb = fc.record({
  timestamp: fc.integer({ min: 0, max: 2 ** 45 }),
  value: fc.uint8Array({ maxLength: 300 }),
  fields: fc.option(fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: 4 }), {
    nil: undefined,
  }),
});
const batchArb = fc.record({
  key: fc.string({ maxLength: 50 }),
  labels: fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 30 }), { maxKeys: 6 }),
  records: fc.array(recordArb, { minLength: 1, maxLength: 40 }),
});

test('batch codec - random batches round-trip in both compressions', (t) => {
  // A failing case names what differed (the assertion's diff), with fast-check's counterexample.
  t.notThrows(() =>
    fc.assert(
      fc.property(batchArb, fc.constantFrom('none' as const, 'gzip' as const), (input, compression) => {
        const bytes = encodeBatch(input, compression);
        const [only] = splitBatches(bytes);
        const source = readBatchSource(bytes);
        const decoded: unknown[] = [];
        forEachRecord(bytes, (r) => {
          decoded.push({
            timestamp: r.timestamp,
            value: new Uint8Array(r.value),
            fields: r.fields && Object.keys(r.fields).length > 0 ? r.fields : undefined,
          });
          return true;
        });
        const expected = input.records.map((r) => ({
          timestamp: r.timestamp,
          value: r.value,
          fields: r.fields && Object.keys(r.fields).length > 0 ? r.fields : undefined,
        }));
        assert.equal(only?.header.recordCount, input.records.length, 'record count in the header');
        assert.equal(source.key, input.key, 'key');
        assert.equal(JSON.stringify(source.labels), JSON.stringify(input.labels), 'labels');
        assert.equal(JSON.stringify(decoded, replacer), JSON.stringify(expected, replacer), 'records');
      }),
      { numRuns: 300 },
    ),
  );
});

test('batch codec - random bytes only ever raise CorruptBatchError', (t) => {
  const good = encodeBatch(GOLDEN_INPUT);
  t.notThrows(() =>
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)),
          // mutations of a valid batch reach far deeper into the decoder than noise does
          fc.array(fc.tuple(fc.nat(good.length - 1), fc.nat(255)), { minLength: 1, maxLength: 6 }).map((edits) => {
            const b = Buffer.from(good);
            for (const [i, v] of edits) b[i] = v;
            return b;
          }),
        ),
        (bytes) => {
          try {
            decodeRecords(bytes);
            splitBatches(bytes);
          } catch (error) {
            if (!(error instanceof CorruptBatchError)) throw error;
          }
        },
      ),
      { numRuns: 2000 },
    ),
  );
});

function replacer(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Buffer.from(value).toString('hex') : value;
}

test('batch codec - field values keep their JSON types; string-only fields keep the plain encoding', (t) => {
  const typed = encodeBatch({
    key: 'k',
    labels: {},
    records: [
      { timestamp: 1000, value: Buffer.from('a'), fields: { level: 'info' } },
      { timestamp: 1001, value: Buffer.from('b') },
      { timestamp: 999, value: Buffer.from('c'), fields: { status: 203, ok: true, text: '203', nested: { a: [1] } } },
    ],
  });
  t.is(readBatchHeader(typed).attributes & JSON_FIELDS, JSON_FIELDS);
  t.deepEqual(
    decodeRecords(typed).map((r) => [r.timestamp, r.value.toString(), r.fields]),
    [
      [1000, 'a', { level: 'info' }],
      [1001, 'b', undefined],
      [999, 'c', { status: 203, ok: true, text: '203', nested: { a: [1] } }],
    ],
  );
  const plain = encodeBatch({
    key: 'k',
    labels: {},
    records: [{ timestamp: 1, value: Buffer.from('a'), fields: { n: '3' } }],
  });
  t.is(readBatchHeader(plain).attributes, 0);
  t.deepEqual(decodeRecords(plain)[0]!.fields, { n: '3' });
});
