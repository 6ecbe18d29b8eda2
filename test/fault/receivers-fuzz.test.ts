/**
 * Bad input against the syslog and OTLP receivers of the real collector process (small limits): random bytes on
 * many TCP connections at once, random datagrams, a flood of connections above max_connections, random and mangled
 * OTLP bodies (fast-check, bounded runs). After each, the process is alive and answers /healthz, no request got a
 * 5xx, its resident memory stayed bounded, and a good message sent afterwards is still stored.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import test from 'ava';
import fc from 'fast-check';
import { CollectorProcess } from '../helpers/collector-process.ts';
import { freePort } from '../helpers/ports.ts';
import { call, waitFor } from '../collector/support.ts';
import { rssBytes } from './support.ts';

const RSS_GROWTH_LIMIT = 200 * 1024 * 1024;
let collector: CollectorProcess;
let tcpPort: number;
let udpPort: number;
let baselineRss = 0;
let peakRss = 0;
let sampler: NodeJS.Timeout | undefined;

test.before(async () => {
  tcpPort = await freePort();
  udpPort = await freePort();
  collector = await CollectorProcess.start({
    config: {
      limits: { max_body_bytes: 256 * 1024, max_decompressed_bytes: 1024 * 1024, max_line_bytes: 64 * 1024 },
      syslog: [
        { protocol: 'tcp', port: tcpPort, topic: 'fuzz-syslog', max_message_bytes: 2048, max_connections: 20 },
        { protocol: 'udp', port: udpPort, topic: 'fuzz-syslog-udp', max_message_bytes: 2048 },
      ],
      otlp: { topic: 'fuzz-otlp' },
    },
  });
  baselineRss = rssBytes(collector.pid!);
  sampler = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, rssBytes(collector.pid!));
    } catch {
      // gone: the checks report it
    }
  }, 25);
});

test.after.always(async () => {
  if (sampler) clearInterval(sampler);
  await collector?.dispose();
});

async function assertHealthy(t: import('ava').ExecutionContext): Promise<void> {
  const pid = collector.pid!;
  t.notThrows(() => process.kill(pid, 0), 'the collector process is alive');
  t.is((await fetch(`${collector.url}/healthz`, { signal: AbortSignal.timeout(10_000) })).status, 200);
  t.true(peakRss - baselineRss < RSS_GROWTH_LIMIT, `RSS grew by ${((peakRss - baselineRss) / 2 ** 20).toFixed(1)} MiB`);
}

async function stored(topic: string, value: string): Promise<boolean> {
  const res = await call(`${collector.url}/v1/topics/${topic}/partitions/0/records?offset=0&max_bytes=16777216`);
  if (res.status !== 200) return false;
  return (res.json as { records: { value?: string }[] }).records.some((r) => r.value === value);
}

function connect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: tcpPort }, () => resolve(s));
    s.once('error', reject);
  });
}

test('syslog tcp - random bytes on concurrent connections: counted, skipped, the receiver lives on', async (t) => {
  const sockets = await Promise.all(Array.from({ length: 8 }, () => connect()));
  for (const s of sockets) s.on('error', () => {});
  await fc.assert(
    fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 8192 }), { minLength: 1, maxLength: 8 }), async (chunks) => {
      for (const [i, c] of chunks.entries()) sockets[i % sockets.length]!.write(c);
    }),
    { numRuns: 150 },
  );
  // Every connection ends its garbage with a newline and a good message: framing resynchronises on LF.
  for (const [i, s] of sockets.entries()) s.write(`\n\n<13>Dec  2 10:00:00 h fuzz: after garbage ${i}\n`);
  for (let i = 0; i < sockets.length; i++) {
    await waitFor(`good message ${i}`, async () =>
      (await stored('fuzz-syslog', `after garbage ${i}`)) ? true : undefined,
    );
  }
  for (const s of sockets) s.destroy();
  await assertHealthy(t);
});

test('syslog tcp - more connections than max_connections are refused; the others keep working', async (t) => {
  const sockets: net.Socket[] = [];
  for (let i = 0; i < 60; i++) {
    const s = net.connect({ host: '127.0.0.1', port: tcpPort });
    s.on('error', () => {});
    sockets.push(s);
  }
  await new Promise((r) => setTimeout(r, 1000));
  const text = await (await fetch(`${collector.url}/metrics`)).text();
  const rejected = text
    .split('\n')
    .find(
      (l) => l.startsWith('tributary_collector_receiver_errors_total{') && l.includes('kind="connection_rejected"'),
    );
  t.truthy(rejected, 'refused connections are counted');
  for (const s of sockets) s.destroy();
  await new Promise((r) => setTimeout(r, 500));
  const ok = await connect();
  ok.end('<13>Dec  2 10:00:00 h fuzz: after the flood\n');
  await waitFor('message after the flood', async () =>
    (await stored('fuzz-syslog', 'after the flood')) ? true : undefined,
  );
  await assertHealthy(t);
});

test('syslog udp - random datagrams: counted and skipped', async (t) => {
  const sender = dgram.createSocket('udp4');
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (d) => {
      await new Promise<void>((resolve) => sender.send(d, udpPort, '127.0.0.1', () => resolve()));
    }),
    { numRuns: 300 },
  );
  await new Promise<void>((resolve) =>
    sender.send('<13>Dec  2 10:00:00 h fuzz: udp survivor', udpPort, '127.0.0.1', () => resolve()),
  );
  await waitFor('udp survivor', async () => ((await stored('fuzz-syslog-udp', 'udp survivor')) ? true : undefined));
  sender.close();
  await assertHealthy(t);
});

test('otlp - random and mangled bodies never get a 5xx and store nothing invalid', async (t) => {
  const valid = JSON.stringify({
    resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'fuzz-valid' }, severityNumber: 9 }] }] }],
  });
  const statuses = new Set<number>();
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 4096 }).map((b) => ({ body: Buffer.from(b), type: 'application/x-protobuf' })),
        fc.json().map((j) => ({ body: Buffer.from(j), type: 'application/json' })),
        fc.tuple(fc.nat(valid.length), fc.string({ maxLength: 20 })).map(([at, junk]) => ({
          body: Buffer.from(valid.slice(0, at) + junk + valid.slice(at)),
          type: 'application/json',
        })),
        fc
          .uint8Array({ maxLength: 2048 })
          .map((b) => ({ body: gzipSync(b), type: 'application/x-protobuf', gzip: true })),
      ),
      async (c) => {
        const res = await fetch(`${collector.url}/v1/logs`, {
          method: 'POST',
          body: c.body,
          headers: { 'content-type': c.type, ...('gzip' in c ? { 'content-encoding': 'gzip' } : {}) },
        });
        await res.arrayBuffer();
        statuses.add(res.status);
        return res.status < 500;
      },
    ),
    { numRuns: 300 },
  );
  t.log(`statuses seen: ${[...statuses].sort().join(', ')}`);
  const res = await call(`${collector.url}/v1/logs`, {
    method: 'POST',
    body: valid,
    headers: { 'content-type': 'application/json' },
  });
  t.is(res.status, 200);
  await assertHealthy(t);
});
