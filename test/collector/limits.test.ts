/**
 * Limits and malformed input against the real collector: each limit answers its status with a message naming the
 * limit, and a rejected request stores nothing (not even an auto-created topic).
 */
import test from 'ava';
import { gzipSync } from 'node:zlib';
import { CollectorProcess } from '../helpers/collector-process.ts';
import { batchOf, call, errorOf, ndjson } from './support.ts';

let collector: CollectorProcess;

test.before(async () => {
  collector = await CollectorProcess.start({
    config: {
      limits: {
        max_body_bytes: 64 * 1024,
        max_decompressed_bytes: 256 * 1024,
        max_records_per_request: 100,
        max_line_bytes: 1024,
        max_topics: 5,
        max_partitions_per_topic: 8,
      },
    },
  });
});

test.after.always(async () => {
  await collector?.dispose();
});

async function produce(topic: string, body: string | Buffer, headers: Record<string, string>) {
  return await call(`${collector.url}/v1/topics/${topic}/records`, { method: 'POST', body, headers });
}

const NDJSON = { 'content-type': 'application/x-ndjson' };
const BINARY = { 'content-type': 'application/vnd.tributary.batch' };

/** The request was answered `status` with code `code` and a message matching `pattern`, and stored nothing. */
async function rejected(
  t: import('ava').ExecutionContext,
  topic: string,
  res: Awaited<ReturnType<typeof call>>,
  status: number,
  code: string,
  pattern: RegExp,
) {
  t.is(res.status, status, res.text);
  const error = errorOf(res);
  t.is(error.code, code);
  t.regex(error.message, pattern);
  const described = await call(`${collector.url}/v1/topics/${topic}`);
  t.is(described.status, 404, `topic ${topic} must not exist after a rejected request: ${described.text}`);
}

test('limits - a body above max_body_bytes is 413', async (t) => {
  const body = ndjson(Array.from({ length: 90 }, () => ({ key: 'k', value: 'x'.repeat(1000) })));
  t.true(body.length > 64 * 1024);
  await rejected(t, 'big-body', await produce('big-body', body, NDJSON), 413, 'limit_exceeded', /max_body_bytes/);
});

test('limits - more than max_records_per_request records is 400, in both encodings', async (t) => {
  const lines = ndjson(Array.from({ length: 101 }, (_v, i) => ({ key: 'k', value: String(i) })));
  await rejected(
    t,
    'many-nd',
    await produce('many-nd', lines, NDJSON),
    400,
    'limit_exceeded',
    /max_records_per_request/,
  );
  const batches = Buffer.concat([batchOf('k', 60), batchOf('k', 41)]);
  await rejected(
    t,
    'many-bin',
    await produce('many-bin', batches, BINARY),
    400,
    'limit_exceeded',
    /max_records_per_request/,
  );
});

test('limits - a line above max_line_bytes is 400, in both encodings', async (t) => {
  const lines = ndjson([
    { key: 'k', value: 'ok' },
    { key: 'k', value: 'y'.repeat(1025) },
  ]);
  await rejected(
    t,
    'long-nd',
    await produce('long-nd', lines, NDJSON),
    400,
    'limit_exceeded',
    /line 2.*max_line_bytes/,
  );
  const batch = Buffer.concat([batchOf('k', 2), batchOf('k', 1, 'z'.repeat(1100))]);
  await rejected(
    t,
    'long-bin',
    await produce('long-bin', batch, BINARY),
    400,
    'limit_exceeded',
    /batch 1.*max_line_bytes/,
  );
});

test('limits - a gzip bomb is cut off at max_decompressed_bytes with 413', async (t) => {
  // 64 MiB of zeros compress to ~64 KiB; inflating it all would take 64 MiB, the cap stops at 256 KiB.
  const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
  t.true(bomb.length < 64 * 1024);
  const res = await produce('bomb', bomb, { ...NDJSON, 'content-encoding': 'gzip' });
  await rejected(t, 'bomb', res, 413, 'limit_exceeded', /max_decompressed_bytes/);
  const metrics = await call(`${collector.url}/metrics`);
  const rss = Number(/^process_resident_memory_bytes (\S+)$/m.exec(metrics.text)?.[1]);
  t.true(rss < 400 * 1024 * 1024, `collector RSS ${rss} after the bomb`);
});

test('limits - gzip that is not gzip is 400', async (t) => {
  const res = await produce('not-gzip', 'plain text', { ...NDJSON, 'content-encoding': 'gzip' });
  await rejected(t, 'not-gzip', res, 400, 'invalid_argument', /not valid gzip/);
  const br = await produce('brotli', 'x', { ...NDJSON, 'content-encoding': 'br' });
  await rejected(t, 'brotli', br, 400, 'invalid_argument', /Content-Encoding 'br' is not supported/);
});

test('limits - malformed NDJSON is 400 naming the line, and nothing of the request is stored', async (t) => {
  const body = `${JSON.stringify({ key: 'k', value: 'good' })}\n{"key": "k", "value": \n`;
  await rejected(
    t,
    'bad-json',
    await produce('bad-json', body, NDJSON),
    400,
    'invalid_argument',
    /line 2 is not valid JSON/,
  );
  const wrongType = ndjson([{ key: 'k', value: 42 }]);
  await rejected(
    t,
    'bad-value',
    await produce('bad-value', wrongType, NDJSON),
    400,
    'invalid_argument',
    /line 1: give exactly one of "value"/,
  );
  const badTs = ndjson([{ key: 'k', value: 'v', timestamp: 'soon' }]);
  await rejected(t, 'bad-ts', await produce('bad-ts', badTs, NDJSON), 400, 'invalid_argument', /timestamp/);
  await rejected(t, 'empty-nd', await produce('empty-nd', '\n\n', NDJSON), 400, 'invalid_argument', /no records/);
});

test('limits - truncated or corrupted binary batches are 400 corrupt_batch, nothing stored', async (t) => {
  const good = batchOf('k', 5);
  const truncated = Buffer.concat([good, good.subarray(0, good.length - 3)]);
  await rejected(t, 'trunc', await produce('trunc', truncated, BINARY), 400, 'corrupt_batch', /truncated/);
  const flipped = Buffer.from(good);
  flipped[flipped.length - 1]! ^= 0xff;
  await rejected(t, 'crc', await produce('crc', Buffer.concat([good, flipped]), BINARY), 400, 'corrupt_batch', /CRC/);
  await rejected(
    t,
    'junk',
    await produce('junk', Buffer.from('hello world, not a batch'), BINARY),
    400,
    'corrupt_batch',
    /batch/,
  );
});

test('limits - a wrong content type is 4xx with a message naming the accepted types', async (t) => {
  const xml = await produce('xml', '<a/>', { 'content-type': 'application/xml' });
  await rejected(t, 'xml', xml, 415, 'unsupported_media_type', /application\/x-ndjson/);
  const json = await produce('as-json', JSON.stringify({ key: 'k', value: 'v' }), {
    'content-type': 'application/json',
  });
  await rejected(t, 'as-json', json, 400, 'invalid_argument', /application\/x-ndjson/);
});

test('limits - topic count and partition count', async (t) => {
  const tooWide = await call(`${collector.url}/v1/topics`, {
    method: 'POST',
    body: JSON.stringify({ name: 'wide', partitions: 9 }),
    headers: { 'content-type': 'application/json' },
  });
  t.is(tooWide.status, 400);
  t.regex(errorOf(tooWide).message, /max_partitions_per_topic/);
  // Fill up to max_topics (5), counting what earlier tests may have created (nothing: they were all rejected).
  const existing = ((await call(`${collector.url}/v1/topics`)).json as { topics: unknown[] }).topics.length;
  for (let i = existing; i < 5; i++) {
    t.is((await produce(`fill-${i}`, ndjson([{ key: 'k', value: 'v' }]), NDJSON)).status, 200);
  }
  const over = await produce('one-too-many', ndjson([{ key: 'k', value: 'v' }]), NDJSON);
  await rejected(t, 'one-too-many', over, 400, 'limit_exceeded', /max_topics/);
});
