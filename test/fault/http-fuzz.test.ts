/**
 * Bad input against the real collector process (one per file, small limits): random and malformed bodies
 * (fast-check, bounded runs), mangled query strings, huge headers, slow bodies, concurrent gzip bombs. After each,
 * the process is alive and answers /healthz, never answered a 5xx, its resident memory stayed bounded, and a
 * rejected request changed no topic's end offset (an accepted one grew it by exactly the records it reported).
 *
 * Existing single-case tests are not repeated here: test/collector/limits.test.ts (one body over each limit, one
 * gzip bomb, one wrong content type, truncated batches).
 *
 * Request timeouts: the collector runs with `limits.request_timeout: 5s` (and `max_wait: 1s`, which it must exceed),
 * so a slow body is cut after 5 s plus at most Node's check interval (a fifth of the timeout, 1 s here).
 */
import net from 'node:net';
import { createGzip, gzipSync } from 'node:zlib';
import test from 'ava';
import fc from 'fast-check';
import { encodeBatch } from '../../shared/batch-codec.ts';
import { call } from '../collector/support.ts';
import { CollectorProcess } from '../helpers/collector-process.ts';
import { endOffsets, rssBytes } from './support.ts';

const MAX_BODY = 512 * 1024;
const MAX_INFLATED = 2 * 1024 * 1024;
const REQUEST_TIMEOUT_MS = 5000;
/** Above the idle collector's RSS: what the whole file may add (Node's RSS varies with load and GC timing). */
const RSS_GROWTH_LIMIT = 200 * 1024 * 1024;
const TOPICS = {
  body: 'fuzz-body',
  query: 'fuzz-query',
  headers: 'fuzz-headers',
  slow: 'fuzz-slow',
  gzip: 'fuzz-gzip',
};

let collector: CollectorProcess;
let baselineRss = 0;
let peakRss = 0;
let sampler: NodeJS.Timeout | undefined;

test.before(async () => {
  collector = await CollectorProcess.start({
    config: {
      limits: {
        max_body_bytes: MAX_BODY,
        max_decompressed_bytes: MAX_INFLATED,
        max_records_per_request: 1000,
        max_line_bytes: 64 * 1024,
        max_wait: '1s',
        request_timeout: `${REQUEST_TIMEOUT_MS}ms`,
      },
    },
  });
  // One topic per test (tests run concurrently), each with one partition so an end offset says it all.
  for (const name of Object.values(TOPICS)) {
    const created = await call(`${collector.url}/v1/topics`, {
      method: 'POST',
      body: JSON.stringify({ name, partitions: 1 }),
      headers: { 'content-type': 'application/json' },
    });
    if (created.status !== 201) throw new Error(`create ${name}: ${created.status} ${created.text}`);
  }
  baselineRss = rssBytes(collector.pid!);
  sampler = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, rssBytes(collector.pid!));
    } catch {
      // the process is gone: the alive checks report it
    }
  }, 25);
});

test.after.always(async () => {
  if (sampler) clearInterval(sampler);
  await collector?.dispose();
});

/** The process lives, answers /healthz, and its RSS stayed within the bound so far. */
async function assertHealthy(t: import('ava').ExecutionContext): Promise<void> {
  const pid = collector.pid;
  t.truthy(pid, 'the collector process is running');
  t.notThrows(() => process.kill(pid!, 0), 'the collector process is alive');
  const health = await fetch(`${collector.url}/healthz`, { signal: AbortSignal.timeout(10_000) });
  t.is(health.status, 200);
  peakRss = Math.max(peakRss, rssBytes(pid!));
  t.true(
    peakRss - baselineRss < RSS_GROWTH_LIMIT,
    `collector RSS grew from ${mib(baselineRss)} to ${mib(peakRss)} (bound: +${mib(RSS_GROWTH_LIMIT)})`,
  );
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

async function end(topic: string): Promise<number> {
  return (await endOffsets(collector.url, topic))![0]!;
}

// ---------------------------------------------------------------------------------------------------------------
// Bodies

const validBatch = (n: number) =>
  encodeBatch({
    key: `k${n}`,
    labels: { host: 'fuzz' },
    records: Array.from({ length: 1 + (n % 5) }, (_v, i) => ({
      timestamp: 1_764_000_000_000 + i,
      value: Buffer.from(`v${i}`),
    })),
  });

/** A valid body, then damaged: bit flips, truncation, a splice of garbage, duplication. */
const mangledBatch = fc
  .record({
    batches: fc.integer({ min: 1, max: 4 }),
    flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { maxLength: 4 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
    splice: fc.option(fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 64 })), { nil: undefined }),
  })
  .map(({ batches, flips, cut, splice }) => {
    let body = Buffer.concat(Array.from({ length: batches }, (_v, i) => validBatch(i)));
    for (const [at, bit] of flips) body[at % body.length]! ^= 1 << bit;
    if (splice) {
      const at = splice[0] % body.length;
      body = Buffer.concat([body.subarray(0, at), Buffer.from(splice[1]), body.subarray(at)]);
    }
    if (cut !== undefined) body = body.subarray(0, cut % (body.length + 1));
    return body;
  });

const jsonish = fc.oneof(
  fc.json(),
  fc.anything().map((v) => {
    try {
      return JSON.stringify(v) ?? 'null';
    } catch {
      return '{}';
    }
  }),
  fc.constantFrom('{"key":"k","value":"v"}', '{"value": 1}', '{"value_base64":"!!"}', '{"timestamp":"soon"}'),
);
const ndjsonBody = fc
  .array(jsonish, { maxLength: 20 })
  .map((lines) => Buffer.from(lines.join('\n') + (lines.length % 2 ? '\n' : '')));

const body = fc.oneof(
  fc.uint8Array({ maxLength: 4096 }).map((a) => Buffer.from(a)),
  fc.string({ unit: 'binary', maxLength: 2000 }).map((s) => Buffer.from(s)),
  mangledBatch,
  ndjsonBody,
  // Undamaged bodies too, so that the "accepted exactly" branch runs.
  fc.integer({ min: 1, max: 4 }).map((n) => Buffer.concat(Array.from({ length: n }, (_v, i) => validBatch(i)))),
);

const contentType = fc.constantFrom(
  'application/vnd.tributary.batch',
  'application/x-ndjson',
  'application/x-ndjson; charset=utf-16',
  'application/json',
  'text/plain',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  '',
  'application/x-ndjson, application/vnd.tributary.batch',
  ';;;',
  'APPLICATION/X-NDJSON',
);

const encoding = fc.constantFrom(undefined, 'gzip', 'br', 'identity', 'gzip, gzip');

test('http fuzz - random and malformed produce bodies: never a 5xx, a rejected request stores nothing', async (t) => {
  let accepted = 0;
  let runs = 0;
  const deadline = Date.now() + 40_000;
  await fc.assert(
    fc.asyncProperty(body, contentType, encoding, fc.boolean(), async (raw, type, enc, compress) => {
      if (Date.now() > deadline) return; // bounded in time as well as in runs
      runs++;
      const payload = compress && enc?.startsWith('gzip') ? gzipSync(raw) : raw;
      const headers: Record<string, string> = {};
      if (type !== '') headers['content-type'] = type;
      if (enc !== undefined) headers['content-encoding'] = enc;
      const before = await end(TOPICS.body);
      const res = await call(`${collector.url}/v1/topics/${TOPICS.body}/records`, {
        method: 'POST',
        body: payload,
        headers,
      });
      const after = await end(TOPICS.body);
      if (res.status >= 500) throw new Error(`${res.status} ${res.text}`);
      if (res.status === 200) {
        accepted++;
        const count = (res.json as { record_count: number }).record_count;
        if (after - before !== count) throw new Error(`200 for ${count} records but the end moved ${before}→${after}`);
      } else {
        const error = (res.json as { error?: { code?: string; message?: string } } | undefined)?.error;
        if (!error?.code || !error.message) throw new Error(`${res.status} without an error body: ${res.text}`);
        if (after !== before) throw new Error(`rejected with ${res.status} but the end moved ${before}→${after}`);
      }
    }),
    { numRuns: 300, endOnFailure: true, verbose: 1 },
  );
  t.log(`${runs} requests, ${accepted} accepted (whole undamaged bodies)`);
  t.true(runs > 20, `only ${runs} requests ran`);
  await assertHealthy(t);
});

test('http fuzz - mangled query strings and paths on fetch, offsets and query: never a 5xx', async (t) => {
  const value = fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.constantFrom('-1', '1e309', 'NaN', '9007199254740993', '0x10', ' 1', '1.5', '', '%00', '%zz', '[]'),
    fc.integer().map(String),
  );
  const url = fc.oneof(
    fc
      .tuple(value, value, value)
      .map(
        ([o, m, w]) =>
          `/v1/topics/${TOPICS.query}/partitions/0/records?offset=${encodeURIComponent(o)}&max_bytes=${encodeURIComponent(m)}&wait_ms=${encodeURIComponent(w)}`,
      ),
    fc
      .tuple(value, value)
      .map(([p, o]) => `/v1/topics/${TOPICS.query}/partitions/${encodeURIComponent(p)}/records?offset=${o}`),
    value.map((a) => `/v1/topics/${TOPICS.query}/offsets?at=${encodeURIComponent(a)}`),
    fc
      .tuple(value, value)
      .map(([q, l]) => `/v1/topics/${TOPICS.query}/query?q=${encodeURIComponent(q)}&limit=${encodeURIComponent(l)}`),
    fc.string({ maxLength: 60 }).map((s) => `/v1/${s}`),
  );
  let runs = 0;
  const deadline = Date.now() + 30_000;
  const before = await end(TOPICS.query);
  await fc.assert(
    fc.asyncProperty(url, async (u) => {
      if (Date.now() > deadline) return;
      runs++;
      let res: Response;
      try {
        res = await fetch(`${collector.url}${u}`, { signal: AbortSignal.timeout(15_000) });
      } catch (error) {
        // undici refuses some URLs itself (never sent): not the collector's doing.
        if (error instanceof TypeError && !String(error.cause ?? '').includes('ECONN')) return;
        throw error;
      }
      const text = await res.text();
      if (res.status >= 500) throw new Error(`${u}: ${res.status} ${text}`);
    }),
    { numRuns: 300, endOnFailure: true },
  );
  t.log(`${runs} requests`);
  t.is(await end(TOPICS.query), before);
  await assertHealthy(t);
});

// ---------------------------------------------------------------------------------------------------------------
// Raw sockets: what fetch will not send.

/** Sends `request` on a raw socket and resolves with what came back before the server closed (or `waitMs`). */
function rawExchange(request: Buffer | string, waitMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(collector.port, '127.0.0.1');
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(answer);
    }, waitMs);
    socket.on('data', (d) => {
      answer += d.toString('latin1');
    });
    socket.on('error', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.on('connect', () => socket.write(request, (error) => error && reject(error)));
  });
}

test('http fuzz - huge headers are refused with 431 (or 400) and the collector keeps serving', async (t) => {
  const cases: [string, string][] = [
    ['one 100 KiB header', `x-big: ${'a'.repeat(100 * 1024)}\r\n`],
    ['2000 small headers', Array.from({ length: 2000 }, (_v, i) => `x-h${i}: ${i}\r\n`).join('')],
    ['a 64 KiB Authorization header', `authorization: Bearer ${'t'.repeat(64 * 1024)}\r\n`],
  ];
  for (const [what, headers] of cases) {
    const answer = await rawExchange(
      `POST /v1/topics/${TOPICS.headers}/records HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/x-ndjson\r\n` +
        `${headers}content-length: 24\r\n\r\n{"key":"k","value":"v"}\n`,
    );
    t.regex(answer.split('\r\n')[0] ?? '', /^HTTP\/1\.1 (431|400)/, `${what}: ${answer.slice(0, 120)}`);
  }
  // A huge URL as well.
  const longUrl = await rawExchange(`GET /v1/topics/${'a'.repeat(80 * 1024)} HTTP/1.1\r\nhost: x\r\n\r\n`);
  t.regex(longUrl.split('\r\n')[0] ?? '', /^HTTP\/1\.1 (431|414|400)/, longUrl.slice(0, 120));
  t.is(await end(TOPICS.headers), 0, 'nothing was stored');
  await assertHealthy(t);
});

test('http fuzz - slow bodies time out: the connection is cut, nothing is stored, other clients are served', async (t) => {
  // 20 clients each declare a 64 KiB body and send one byte per second.
  const started = Date.now();
  const before = await end(TOPICS.slow);
  const slow = Array.from(
    { length: 20 },
    () =>
      new Promise<{ answer: string; ms: number }>((resolve) => {
        const socket = net.connect(collector.port, '127.0.0.1');
        let answer = '';
        let drip: NodeJS.Timeout | undefined;
        const giveUp = setTimeout(() => socket.destroy(), 60_000);
        socket.on('connect', () => {
          socket.write(
            `POST /v1/topics/${TOPICS.slow}/records HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/x-ndjson\r\n` +
              'content-length: 65536\r\n\r\n{"key":"k","value":"',
          );
          drip = setInterval(() => socket.write('x'), 1000);
        });
        socket.on('data', (d) => {
          answer += d.toString('latin1');
        });
        socket.on('error', () => undefined);
        socket.on('close', () => {
          clearInterval(drip);
          clearTimeout(giveUp);
          resolve({ answer, ms: Date.now() - started });
        });
      }),
  );
  // Meanwhile the collector answers others.
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${collector.url}/healthz`, { signal: AbortSignal.timeout(5000) });
    t.is(res.status, 200, 'the collector serves others while slow bodies are pending');
    await new Promise((r) => setTimeout(r, 1000));
  }
  const results = await Promise.all(slow);
  const worst = Math.max(...results.map((r) => r.ms));
  const first = Math.min(...results.map((r) => r.ms));
  t.log(
    `slow bodies cut after ${(first / 1000).toFixed(1)}-${(worst / 1000).toFixed(1)} s; first answer: ${JSON.stringify(results[0]!.answer.split('\r\n')[0])}`,
  );
  // Cut by the configured timeout, not before it; after it within the 1 s check interval plus a loaded machine's
  // margin.
  t.true(first >= REQUEST_TIMEOUT_MS - 500, `a slow body was cut after only ${first} ms`);
  t.true(worst < REQUEST_TIMEOUT_MS + 20_000, `a slow body held its connection for ${worst} ms`);
  for (const r of results) {
    t.true(
      r.answer === '' || r.answer.startsWith('HTTP/1.1 408'),
      `the answer, if any, is 408: ${r.answer.slice(0, 80)}`,
    );
  }
  t.is(await end(TOPICS.slow), before, 'nothing of a slow body was stored');
  await assertHealthy(t);
});

test('http fuzz - concurrent gzip bombs are cut off at the inflate cap, memory stays bounded', async (t) => {
  /** Streams `inflated` zero bytes through gzip level 9: 256 MiB becomes about 256 KiB. */
  const bomb = async (inflated: number): Promise<Buffer> => {
    const gz = createGzip({ level: 9 });
    const out: Buffer[] = [];
    gz.on('data', (d: Buffer) => out.push(d));
    const done = new Promise((r) => gz.on('end', r));
    const chunk = Buffer.alloc(1024 * 1024);
    for (let n = 0; n < inflated; n += chunk.length) {
      if (!gz.write(chunk)) await new Promise((r) => gz.once('drain', r));
    }
    gz.end();
    await done;
    return Buffer.concat(out);
  };
  const flat = await bomb(256 * 1024 * 1024);
  t.true(flat.length < MAX_BODY, `the bomb is ${flat.length} bytes compressed`);
  // A gzip of a gzip: the outer layer is small, the inner one a bomb again (only one layer is ever inflated).
  const nested = gzipSync(flat);
  // Valid NDJSON that inflates past the cap: one record per line, all alike.
  const line = `${JSON.stringify({ key: 'k', value: 'b'.repeat(1000) })}\n`;
  const ndjsonBomb = gzipSync(Buffer.from(line.repeat(Math.ceil((4 * MAX_INFLATED) / line.length))), { level: 9 });
  const before = await end(TOPICS.gzip);
  const sends = [
    ...Array.from({ length: 8 }, () => ['application/vnd.tributary.batch', flat] as const),
    ['application/vnd.tributary.batch', nested] as const,
    ['application/x-ndjson', ndjsonBomb] as const,
  ].map(async ([type, payload]) =>
    call(`${collector.url}/v1/topics/${TOPICS.gzip}/records`, {
      method: 'POST',
      body: payload,
      headers: { 'content-type': type, 'content-encoding': 'gzip' },
    }),
  );
  const answers = await Promise.all(sends);
  for (const res of answers) {
    t.true(res.status === 413 || res.status === 400, `${res.status} ${res.text.slice(0, 200)}`);
  }
  t.true(answers.filter((r) => r.status === 413).length >= 9, 'the bombs are 413 limit_exceeded');
  t.is(await end(TOPICS.gzip), before, 'nothing of a bomb was stored');
  t.log(`collector RSS: ${mib(baselineRss)} idle, ${mib(peakRss)} peak so far`);
  await assertHealthy(t);
});
