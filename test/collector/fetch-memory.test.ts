/**
 * HTTP fetch reads into memory the collector reuses from answer to answer (collector/storage/fetch-memory.ts): an
 * answer that waits in a slow client's socket must keep its bytes while other clients' answers are read, so a
 * block may go back to the pool only once its response is written. Real collector process, real sockets.
 */
import http from 'node:http';
import net from 'node:net';
import test from 'ava';
import { BatchBuilder } from '../../shared/batch-codec.ts';
import { BATCH_CONTENT_TYPE } from '../../shared/wire.ts';
import { CollectorProcess } from '../helpers/collector-process.ts';

let collector: CollectorProcess;
const BATCHES = 24;

test.before(async () => {
  collector = await CollectorProcess.start();
  const created = await fetch(`${collector.url}/v1/topics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'memory', partitions: 1 }),
  });
  if (!created.ok) throw new Error(`create: HTTP ${created.status}`);
  // ~24 MB: 24 batches of 1,000 records of ~1 KB, each record naming its place.
  for (let b = 0; b < BATCHES; b++) {
    const builder = new BatchBuilder('memory-test', { host: 'test' }, 2 << 20);
    for (let i = 0; i < 1000; i++) {
      builder.add(
        1_764_000_000_000 + i,
        Buffer.from(`batch ${b} record ${i} `.padEnd(1000, String.fromCharCode(97 + b))),
      );
    }
    const res = await fetch(`${collector.url}/v1/topics/memory/records`, {
      method: 'POST',
      headers: { 'content-type': BATCH_CONTENT_TYPE },
      body: builder.finish(),
    });
    if (res.status !== 200) throw new Error(`produce: HTTP ${res.status}`);
  }
});

test.after.always(async () => {
  await collector?.dispose();
});

/** One binary fetch of partition 0 from `offset`; the body is read only after `holdMs`. */
function binaryFetch(offset: number, maxBytes: number, holdMs = 0): Promise<{ body: Buffer; next: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      `${collector.url}/v1/topics/memory/partitions/0/records?offset=${offset}&max_bytes=${maxBytes}`,
      { headers: { accept: BATCH_CONTENT_TYPE }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ body: Buffer.concat(chunks), next: Number(res.headers['tributary-next-offset']) }),
        );
        res.on('error', reject);
        if (holdMs > 0) {
          res.pause();
          setTimeout(() => res.resume(), holdMs);
        }
      },
    );
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('no answer in 30 s')));
  });
}

/**
 * Sends `offsets.length` binary fetches of 4 MiB pipelined on one connection and reads nothing for `holdMs`: the
 * collector answers them in order, so all but the first wait in its memory meanwhile. Returns each body.
 */
function pipelinedFetches(offsets: readonly number[], holdMs: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const url = new URL(collector.url);
    const socket = net.connect(Number(url.port), url.hostname);
    let received = Buffer.alloc(0);
    const bodies: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error('no answers in 30 s')), 30_000);
    socket.on('connect', () => {
      const requests = offsets.map(
        (offset) =>
          `GET /v1/topics/memory/partitions/0/records?offset=${offset}&max_bytes=${4 << 20} HTTP/1.1\r\n` +
          `host: ${url.host}\r\naccept: ${BATCH_CONTENT_TYPE}\r\n\r\n`,
      );
      socket.write(requests.join(''));
      socket.pause();
      setTimeout(() => socket.resume(), holdMs);
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      for (;;) {
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = received.subarray(0, end).toString('latin1');
        const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? Number.NaN);
        if (!head.startsWith('HTTP/1.1 200') || !Number.isFinite(length)) {
          socket.destroy();
          reject(new Error(`unexpected answer: ${head.slice(0, 200)}`));
          return;
        }
        if (received.length < end + 4 + length) return;
        bodies.push(received.subarray(end + 4, end + 4 + length));
        received = received.subarray(end + 4 + length);
        if (bodies.length === offsets.length) {
          clearTimeout(timer);
          socket.destroy();
          resolve(bodies);
          return;
        }
      }
    });
    socket.on('error', reject);
  });
}

test('fetch memory - HTTP answers waiting for a slow client keep their bytes while others are read', async (t) => {
  // Five 4 MiB answers (one pooled block each) to a client that reads nothing for 2 s.
  const offsets = [0, 4000, 8000, 12_000, 16_000];
  const held = pipelinedFetches(offsets, 2000);
  // Meanwhile three clients read the whole partition in 1 MiB answers, again and again.
  const deadline = Date.now() + 1800;
  await Promise.all(
    [1, 2, 3].map(async () => {
      while (Date.now() < deadline) {
        for (let offset = 0; offset < BATCHES * 1000; ) offset = (await binaryFetch(offset, 1 << 20)).next;
      }
    }),
  );
  const bodies = await held;
  for (const [i, offset] of offsets.entries()) {
    // The same range read again, with nothing else going on, is what the slow client must have received.
    const fresh = await binaryFetch(offset, 4 << 20);
    t.true(bodies[i]!.length > 3 << 20, `answer ${i} had ${bodies[i]!.length} bytes`);
    t.true(bodies[i]!.equals(fresh.body), `answer ${i} (offset ${offset}) is byte for byte what was stored`);
  }
});
