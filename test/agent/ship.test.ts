import http from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { Batcher, type SealedBatch } from '../../agent/batch/batcher.ts';
import { HttpTransport } from '../../agent/ship/http-transport.ts';
import { Shipper } from '../../agent/ship/shipper.ts';
import { decodeRecords, splitBatches } from '../../shared/batch-codec.ts';
import { freePort } from '../helpers/ports.ts';

/** A real HTTP server whose answers the test scripts: each request pops the next status (200 when empty). */
async function scriptedServer(statuses: { status: number; headers?: Record<string, string>; body?: string }[]) {
  const requests: { at: number; url: string; auth: string | undefined; values: string[] }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const values = splitBatches(body).flatMap((b) => decodeRecords(b.bytes).map((r) => r.value.toString()));
      requests.push({ at: Date.now(), url: req.url!, auth: req.headers.authorization, values });
      const next = statuses.shift() ?? { status: 200 };
      res.writeHead(next.status, { 'content-type': 'application/json', ...next.headers });
      res.end(
        next.body ??
          (next.status === 200 ? '{"record_count":1}' : '{"error":{"code":"x","message":"scripted failure"}}'),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

function pipeline(
  urls: string[],
  onSettled: (b: SealedBatch, how: string) => void,
  onRetrying: (reason: string) => void = () => {},
) {
  const events = { retries: 0, rejected: 0 };
  const shipper = new Shipper({
    transport: new HttpTransport({ urls, token: 'secret-token', timeoutMs: 5000 }),
    maxRequestBytes: 1 << 20,
    maxRequestLines: 1000,
    backoff: { initialMs: 20, maxMs: 200 },
    events: {
      settled: onSettled,
      sent: () => {},
      retrying: (_topic, reason) => {
        events.retries++;
        onRetrying(reason);
      },
      rejected: () => {
        events.rejected++;
      },
    },
  });
  const batcher = new Batcher({
    maxBytes: 64,
    maxRecords: 1000,
    maxWaitMs: 1000,
    compression: 'gzip',
    onSealed: (b) => shipper.enqueue(b),
  });
  batcher.open({ id: 'f', topic: 'app', key: 'h:/f.log', labels: { host: 'h' } }, 0);
  return { shipper, batcher, events };
}

test('shipping - 503 with Retry-After is retried no sooner than asked, batches stay in order', async (t) => {
  const server = await scriptedServer([{ status: 503, headers: { 'retry-after': '1' } }, { status: 429 }]);
  const settled: string[] = [];
  const { shipper, batcher, events } = pipeline([server.url], (b, how) => settled.push(`${b.start}-${b.end}:${how}`));
  let pos = 0;
  for (let i = 0; i < 10; i++) {
    const v = Buffer.from(`line number ${i} ${'x'.repeat(20)}`);
    pos += v.length + 1;
    batcher.add('f', Date.now(), v, pos);
  }
  batcher.sealAll();
  t.true(await shipper.drain(10_000));
  t.is(events.retries, 2);
  t.true(server.requests[1]!.at - server.requests[0]!.at >= 950, 'waited for Retry-After');
  const delivered = server.requests.slice(2).flatMap((r) => r.values);
  t.deepEqual(
    delivered,
    Array.from({ length: 10 }, (_, i) => `line number ${i} ${'x'.repeat(20)}`),
  );
  t.true(settled.every((s) => s.endsWith(':acked')));
  t.is(server.requests[0]!.url, '/v1/topics/app/records');
  t.is(server.requests[0]!.auth, 'Bearer secret-token');
  await shipper.close();
  await server.close();
});

test('shipping - a 400 is dropped and counted, not retried; a 401 is retried', async (t) => {
  const server = await scriptedServer([{ status: 400 }, { status: 401 }]);
  const settled: string[] = [];
  const { shipper, batcher, events } = pipeline([server.url], (_b, how) => settled.push(how));
  batcher.add('f', Date.now(), Buffer.from('a'.repeat(70)), 71);
  t.true(await shipper.drain(10_000));
  batcher.add('f', Date.now(), Buffer.from('b'.repeat(70)), 142);
  t.true(await shipper.drain(10_000));
  t.deepEqual(settled, ['dropped', 'acked']);
  t.is(events.rejected, 1);
  t.is(events.retries, 1);
  t.is(server.requests.length, 3);
  await shipper.close();
  await server.close();
});

test('shipping - a 400 corrupt_batch (a collector older than the agent) is retried, not dropped', async (t) => {
  // What a collector from before the producer stamp answers to a stamped batch.
  const body = JSON.stringify({
    error: { code: 'corrupt_batch', message: 'batch at byte 0 has unknown attributes 0x11' },
  });
  const server = await scriptedServer([
    { status: 400, body },
    { status: 400, body },
  ]);
  const settled: string[] = [];
  const reasons: string[] = [];
  const { shipper, batcher } = pipeline(
    [server.url],
    (_b, how) => settled.push(how),
    (reason) => reasons.push(reason),
  );
  batcher.add('f', Date.now(), Buffer.from('d'.repeat(70)), 71);
  t.true(await shipper.drain(10_000));
  t.deepEqual(settled, ['acked']);
  t.is(server.requests.length, 3);
  t.deepEqual(server.requests[2]!.values, ['d'.repeat(70)]);
  t.regex(reasons[0]!, /corrupt_batch.*upgrade collectors first/);
  await shipper.close();
  await server.close();
});

test('shipping - fails over to the next collector URL when one is down', async (t) => {
  const dead = `http://127.0.0.1:${await freePort()}`;
  const server = await scriptedServer([]);
  const settled: string[] = [];
  const { shipper, batcher, events } = pipeline([dead, server.url], (_b, how) => settled.push(how));
  batcher.add('f', Date.now(), Buffer.from('c'.repeat(70)), 71);
  t.true(await shipper.drain(10_000));
  t.deepEqual(settled, ['acked']);
  t.is(events.retries, 1);
  t.deepEqual(server.requests[0]?.values, ['c'.repeat(70)]);
  await shipper.close();
  await server.close();
});

test('batcher - seals by size and by wait time, with contiguous ranges', async (t) => {
  const sealed: SealedBatch[] = [];
  const batcher = new Batcher({
    maxBytes: 150,
    maxRecords: 1000,
    maxWaitMs: 30,
    compression: 'none',
    onSealed: (b) => sealed.push(b),
  });
  batcher.open({ id: 's', topic: 't', key: 'k', labels: {} }, 500);
  batcher.start();
  let end = 500;
  for (let i = 0; i < 7; i++) {
    end += 41;
    batcher.add('s', 1764000000000 + i, Buffer.from('y'.repeat(40)), end);
  }
  t.is(sealed.length, 2, 'two full batches of three 40-byte lines');
  const deadline = Date.now() + 5000;
  while (sealed.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  batcher.stop();
  t.is(sealed.length, 3, 'the last line left after max_wait');
  t.deepEqual(
    sealed.map((b) => [b.start, b.end, b.lines]),
    [
      [500, 623, 3],
      [623, 746, 3],
      [746, 787, 1],
    ],
  );
  const records = decodeRecords(sealed[0]!.body);
  t.is(records[0]!.key, 'k');
  t.is(records[1]!.timestamp, 1764000000001);
});

test('shipping - a 413 for a request of several batches splits it; order is kept', async (t) => {
  const server = await scriptedServer([{ status: 413 }, { status: 413 }]);
  const settled: string[] = [];
  const { shipper, batcher } = pipeline([server.url], (_b, how) => settled.push(how));
  // Four batches sealed in one tick (maxBytes 64: one 70-byte line each) go out in one request, which gets 413
  // twice: the shipper halves it until it passes, then sends the rest.
  for (let i = 0; i < 4; i++) batcher.add('f', Date.now(), Buffer.from(`${i}`.repeat(70)), 71 * (i + 1));
  t.true(await shipper.drain(10_000));
  t.true(settled.every((s) => s === 'acked'));
  t.deepEqual(
    server.requests.map((r) => r.values.length),
    [4, 2, 1, 3],
  );
  t.deepEqual(
    server.requests.slice(2).flatMap((r) => r.values),
    ['0', '1', '2', '3'].map((d) => d.repeat(70)),
  );
  await shipper.close();
  await server.close();
});
