import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import {
  fetchAll,
  startAgentProcess,
  startTestCollector,
  tempDir,
  waitFor,
  writeAgentConfig,
} from '../agent/support.ts';
import { natsServerAvailable, startNatsServer } from '../helpers/nats-server.ts';

const maybe = natsServerAvailable() ? test : test.skip;

maybe(
  'agent over NATS - an agent process with collector.urls nats:// ships to a collector process on JetStream',
  async (t) => {
    t.timeout(120_000);
    const nats = await startNatsServer();
    t.teardown(() => nats.stop());
    const collector = await startTestCollector({
      storage: { backend: 'jetstream' },
      nats: { servers: nats.servers, ingest: true },
    });
    t.teardown(() => collector.close());
    const dir = await tempDir();
    const logs = path.join(dir, 'logs');
    await mkdir(logs, { recursive: true });
    const expected = Array.from({ length: 200 }, (_, i) => `line ${i}`);
    await appendFile(
      path.join(logs, 'app.log'),
      expected
        .slice(0, 100)
        .map((l) => `${l}\n`)
        .join(''),
    );
    const config = await writeAgentConfig({
      dir,
      collectorUrl: nats.servers,
      sources: [{ name: 'app', include: [`${logs}/*.log`], topic: 'over-nats' }],
    });
    const agent = await startAgentProcess(config);
    t.teardown(() => agent.stop());
    await appendFile(
      path.join(logs, 'app.log'),
      expected
        .slice(100)
        .map((l) => `${l}\n`)
        .join(''),
    );
    const records = await waitFor('every line over NATS', async () => {
      const got = await fetchAll(collector.url, 'over-nats');
      return got.length >= expected.length ? got : undefined;
    });
    t.deepEqual(records.map((r) => r.value.toString()).sort(), [...expected].sort());
  },
);
