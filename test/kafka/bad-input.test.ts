/**
 * Bad input on the Kafka listener of a real collector process (small limits): oversize and impossible frame
 * lengths, unknown API keys, unsupported versions, truncated bodies, random bytes (fast-check, bounded), a slow
 * client. Each gets a Kafka error or a closed connection, counted in the metrics; the process stays up and keeps
 * answering, and its memory stays bounded.
 */
import net from 'node:net';
import test from 'ava';
import fc from 'fast-check';
import { parsePrometheusText } from '../collector/support.ts';
import { rssBytes } from '../fault/support.ts';
import { type KafkaCollector, requestFrame as frame, startKafkaCollector } from './support.ts';

const MAX_REQUEST = 64 * 1024;
let kafka: KafkaCollector;

test.before(async () => {
  kafka = await startKafkaCollector({
    config: { kafka: { max_request_bytes: MAX_REQUEST, request_timeout: '2s' } },
  });
});

test.after.always(async () => {
  await kafka?.collector.dispose();
});

interface Exchange {
  readonly answer: Buffer;
  readonly closed: boolean;
}

/** Sends `bytes`, then collects what comes back until the server closes or `waitMs` passes. */
function exchange(bytes: Buffer, waitMs = 3000): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = net.connect(kafka.kafkaPort, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ answer: Buffer.concat(chunks), closed });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (c) => chunks.push(c));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.on('connect', () => socket.write(bytes));
  });
}

async function closedCount(reason: string): Promise<number> {
  const text = await (await fetch(`${kafka.collector.url}/metrics`)).text();
  return parsePrometheusText(text)
    .filter((s) => s.name === 'tributary_collector_kafka_connections_closed_total' && s.labels.reason === reason)
    .reduce((n, s) => n + s.value, 0);
}

/** ApiVersions v0 still answers: the listener is alive. */
async function alive(): Promise<boolean> {
  const { answer } = await exchange(frame(18, 0, Buffer.alloc(0)), 5000);
  return answer.length > 10 && answer.readInt32BE(4) === 7 && answer.readInt16BE(8) === 0;
}

test.serial(
  'bad input - a frame length over kafka.max_request_bytes, or too short for a header, closes the connection',
  async (t) => {
    const before = await closedCount('frame_size');
    const over = Buffer.alloc(4);
    over.writeInt32BE(MAX_REQUEST + 1, 0);
    t.true((await exchange(over)).closed);
    const negative = Buffer.alloc(4);
    negative.writeInt32BE(-5, 0);
    t.true((await exchange(negative)).closed);
    const tiny = Buffer.from([0, 0, 0, 2, 0, 1]);
    t.true((await exchange(tiny)).closed);
    t.is((await closedCount('frame_size')) - before, 3);
    t.true(await alive());
  },
);

test.serial(
  'bad input - an unknown API key or an unsupported version closes the connection; ApiVersions answers v0 with error 35',
  async (t) => {
    const unknownBefore = await closedCount('unknown_api');
    t.true((await exchange(frame(999, 0, Buffer.alloc(0)))).closed);
    t.is((await closedCount('unknown_api')) - unknownBefore, 1);
    const versionBefore = await closedCount('unsupported_version');
    t.true((await exchange(frame(1, 99, Buffer.alloc(0)))).closed);
    t.is((await closedCount('unsupported_version')) - versionBefore, 1);
    const { answer, closed } = await exchange(frame(18, 9, Buffer.from([1, 2, 3])), 1500);
    t.false(closed);
    t.is(answer.readInt32BE(4), 7);
    t.is(answer.readInt16BE(8), 35);
    t.true(answer.readInt32BE(10) > 5, 'the version table comes with the error');
  },
);

test.serial('bad input - a truncated body closes the connection, counted as malformed', async (t) => {
  const before = await closedCount('malformed');
  // Metadata v1 claiming 5 topics and holding none.
  t.true((await exchange(frame(3, 1, Buffer.from([0, 0, 0, 5])))).closed);
  t.is((await closedCount('malformed')) - before, 1);
  t.true(await alive());
});

test.serial('bad input - a frame begun and never finished is cut after kafka.request_timeout', async (t) => {
  const before = await closedCount('slow_client');
  const partial = Buffer.alloc(8);
  partial.writeInt32BE(1000, 0);
  const started = Date.now();
  const result = await exchange(partial, 20_000);
  t.true(result.closed);
  t.true(Date.now() - started >= 1500);
  t.is((await closedCount('slow_client')) - before, 1, `before ${before}`);
});

test.serial(
  'bad input - random requests for every API never crash the collector or grow its memory without bound',
  async (t) => {
    const baseline = rssBytes(kafka.collector.pid!);
    const keys = [0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 17, 18, 22, 36];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...keys),
        fc.integer({ min: -1, max: 12 }),
        fc.uint8Array({ maxLength: 512 }),
        async (key, version, body) => {
          await exchange(frame(key, version, Buffer.from(body)), 400);
        },
      ),
      { numRuns: 150, interruptAfterTimeLimit: 60_000 },
    );
    t.true(await alive());
    const rss = rssBytes(kafka.collector.pid!);
    t.true(rss - baseline < 200 * 1024 * 1024, `RSS grew by ${rss - baseline} bytes`);
  },
);
