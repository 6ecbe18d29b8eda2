/**
 * jetstream startup - what an operator sees when a collector on `storage.backend: jetstream` starts: an unreachable
 * NATS named as such (not as a data directory), replicas a single server cannot hold refused with the reason, the
 * body limit reconciled with the servers' max_payload (one rule: collector/storage/open-store.ts), the startup log
 * showing the backend it really has, and the NATS connection's life logged once per change with the server.
 * Real nats-server processes (deploy/nats/ configs), collectors in-process with their log captured.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { NatsTransport } from '../../agent/ship/nats-transport.ts';
import { type CollectorHandle, startCollector } from '../../collector/collector.ts';
import { parseCollectorConfig } from '../../collector/config.ts';
import { createLogger, type Logger } from '../../shared/logger.ts';
import { CLI } from '../helpers/collector-process.ts';
import { natsServerAvailable, startNatsServer } from '../helpers/nats-server.ts';
import { freePort } from '../helpers/ports.ts';

const maybe = natsServerAvailable() ? test : test.skip;

/** A logger whose JSON lines are kept, as an operator would read them. */
function capturedLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const raw: string[] = [];
  const logger = createLogger({ level: 'info', name: 'collector', destination: { write: (s) => raw.push(s) } });
  return { logger, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

async function dataDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-js-startup-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return path.join(dir, 'data');
}

async function waitFor(what: string, check: () => boolean, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

maybe('jetstream startup - NATS unreachable: the error names NATS and its servers, no data directory', async (t) => {
  t.timeout(60_000);
  const port = await freePort();
  const data = await dataDir(t);
  const { options } = parseCollectorConfig({
    listen: { port: 0 },
    data_dir: data,
    storage: { backend: 'jetstream' },
    nats: { servers: [`nats://127.0.0.1:${port}`] },
  });
  const error = await t.throwsAsync(startCollector(options));
  t.regex(error?.message ?? '', new RegExp(`^cannot reach NATS at nats://127\\.0\\.0\\.1:${port}: CONNECTION_REFUSED`));
  t.regex(error?.message ?? '', /is nats-server running/);
  t.notRegex(error?.message ?? '', /data directory/);
  t.false(existsSync(data), 'the JetStream backend creates no data directory');
});

maybe('jetstream startup - replicas a single server cannot hold are refused with the reason', async (t) => {
  t.timeout(60_000);
  const server = await startNatsServer();
  t.teardown(() => server.stop());
  const { options } = parseCollectorConfig({
    listen: { port: 0 },
    data_dir: await dataDir(t),
    storage: { backend: 'jetstream', replicas: 3 },
    nats: { servers: server.servers },
  });
  const error = await t.throwsAsync(startCollector(options));
  t.regex(error?.message ?? '', /storage\.replicas is 3, but NATS at nats:\/\/127\.0\.0\.1:\d+ is a single server/);
});

maybe(
  'jetstream startup - limits.max_body_bytes above max_payload is refused naming both; unset, it becomes max_payload',
  async (t) => {
    t.timeout(90_000);
    const server = await startNatsServer();
    t.teardown(() => server.stop());
    const config = (limits: Record<string, unknown>) =>
      parseCollectorConfig({
        listen: { port: 0 },
        storage: { backend: 'jetstream' },
        nats: { servers: server.servers },
        limits,
      }).options;
    const refused = await t.throwsAsync(startCollector(config({ max_body_bytes: '16MiB' })));
    t.regex(
      refused?.message ?? '',
      /limits\.max_body_bytes \(16777216 bytes\) is above the NATS servers' max_payload \(8388608 bytes\)/,
    );

    const { logger, lines } = capturedLogger();
    const collector = await startCollector(config({}), { logger });
    t.teardown(() => collector.close());
    const note = lines().find((l) => String(l.msg).startsWith('limits.max_body_bytes is unset'));
    t.is(note?.maxBodyBytes, 8388608, 'the default body limit is lowered to max_payload, and said');
    // A body above it is refused before it is read, as any body above the limit.
    const big = await fetch(`${collector.address}/v1/topics/big/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.tributary.batch' },
      body: Buffer.alloc(8388608 + 1024),
    });
    t.is(big.status, 413);
  },
);

maybe(
  'jetstream startup - the log shows the backend it has, and NATS disconnects and reconnects once each with the server',
  async (t) => {
    t.timeout(120_000);
    const server = await startNatsServer();
    t.teardown(() => server.stop());
    const data = await dataDir(t);
    const { logger, lines } = capturedLogger();
    const { options } = parseCollectorConfig({
      listen: { port: 0 },
      data_dir: data,
      storage: { backend: 'jetstream' },
      nats: { servers: server.servers },
    });
    let collector: CollectorHandle | undefined = await startCollector(options, { logger });
    t.teardown(() => collector?.close());
    const url = server.servers[0]!;
    const listening = lines().find((l) => l.msg === 'collector listening');
    const storage = listening?.storage as Record<string, unknown>;
    t.like(storage, { backend: 'jetstream', servers: [url], clusterSize: 1, replicas: 1, storageType: 'file' });
    t.is(storage.cluster, '(single server)');
    t.false('dataDir' in (storage ?? {}), 'no data directory where there is none');
    t.true(
      lines().some((l) => l.msg === 'connected to NATS' && l.nats === url),
      'the connection is logged with its server',
    );

    const count = (msg: string) => lines().filter((l) => l.msg === msg).length;
    await server.nodes[0]!.kill();
    await waitFor(
      'the disconnect to be logged',
      () => count('disconnected from NATS; reconnecting to the other servers') > 0,
      30_000,
    );
    await server.nodes[0]!.restart();
    await waitFor('the reconnect to be logged', () => count('reconnected to NATS') > 0, 60_000);
    // Reconnect attempts while the server was down are not logged one by one.
    await new Promise((r) => setTimeout(r, 1_000));
    t.is(count('disconnected from NATS; reconnecting to the other servers'), 1);
    t.is(count('reconnected to NATS'), 1);
    const disconnected = lines().find((l) => l.msg === 'disconnected from NATS; reconnecting to the other servers');
    t.is(disconnected?.nats, url, 'the disconnect names the server');
    await collector.close();
    collector = undefined;
    t.false(existsSync(data), 'the JetStream backend creates no data directory');
  },
);

maybe(
  'jetstream startup - while NATS is down a read answers 503 naming NATS, and the collector shuts down within its deadlines',
  async (t) => {
    t.timeout(120_000);
    const server = await startNatsServer();
    t.teardown(() => server.stop());
    const { logger, lines } = capturedLogger();
    const { options } = parseCollectorConfig({
      listen: { port: 0 },
      storage: { backend: 'jetstream' },
      nats: { servers: server.servers },
      topics: { retention: '1h' },
    });
    const collector = await startCollector(options, { logger });
    const produced = await fetch(`${collector.address}/v1/topics/app/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: '{"key":"k","value":"before the outage"}\n',
    });
    t.is(produced.status, 200, 'an append leaves a floor record pending');
    await server.nodes[0]!.kill();
    // A read while NATS is down: 503 (retry), naming NATS and its servers, not a 500 "internal error".
    const read = await fetch(`${collector.address}/v1/topics/app/partitions/0/records?offset=0`, {
      signal: AbortSignal.timeout(60_000),
    });
    t.is(read.status, 503);
    t.regex(
      ((await read.json()) as { error: { message: string } }).error.message,
      /^reading app\/0: NATS at nats:\/\/127\.0\.0\.1:\d+ did not serve it: /,
    );
    const started = Date.now();
    await collector.close();
    const took = Date.now() - started;
    t.true(took < 60_000, `closed in ${took} ms`);
    t.true(
      lines().some((l) => String(l.msg).startsWith('shutdown: NATS did not answer')),
      'the shutdown says what it could not do',
    );
  },
);

maybe(
  'agent over NATS - a request above the servers max_payload is returned as too large, for the shipper to split',
  async (t) => {
    t.timeout(60_000);
    const server = await startNatsServer();
    t.teardown(() => server.stop());
    const transport = new NatsTransport({ servers: server.servers, timeoutMs: 5_000 });
    t.teardown(() => transport.close());
    // deploy/nats/ sets max_payload 8MB (8 MiB): one byte more can never be published, so retrying it would stall.
    const outcome = await transport.send('app', Buffer.alloc(8 * 1024 * 1024 + 1));
    t.like(outcome, { kind: 'reject', tooLarge: true });
    t.regex(outcome.kind === 'reject' ? outcome.reason : '', /above the NATS servers' max_payload of 8388608 bytes/);
  },
);

test('jetstream startup - --print-config shows what the JetStream backend uses, and no data_dir or segments', async (t) => {
  t.timeout(60_000);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-js-print-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'collector.yaml');
  await writeFile(file, 'storage: { backend: jetstream, replicas: 3 }\nnats: { servers: [nats://127.0.0.1:4222] }\n');
  const run = spawnSync(process.execPath, [CLI, 'collector', '--config', file, '--print-config'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  t.is(run.status, 0, run.stderr);
  t.regex(run.stdout, /^# storage\.backend jetstream: data on the NATS servers/);
  t.regex(run.stdout, /replicas: 3/);
  const keys = run.stdout.replace(/^#.*\n/gm, '');
  t.notRegex(keys, /data_dir|segment_bytes|segment_age|flush/);
  t.regex(run.stdout, /retention: /, 'what applies stays');
});
