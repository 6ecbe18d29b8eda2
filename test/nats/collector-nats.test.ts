import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { connect } from 'nats';
import { NatsTransport } from '../../agent/ship/nats-transport.ts';
import { startCollector } from '../../collector/collector.ts';
import { parseCollectorConfig } from '../../collector/config.ts';
import { decodeRecords, encodeBatch } from '../../shared/batch-codec.ts';
import { natsServerAvailable, startNatsServer } from '../helpers/nats-server.ts';

const maybe = natsServerAvailable() ? test : test.skip;

maybe(
  'collector config - storage.backend jetstream with nats ingest and forward: agent over NATS, HTTP fetch, live feed',
  async (t) => {
    t.timeout(90_000);
    const server = await startNatsServer();
    t.teardown(() => server.stop());
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-nats-collector-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const { options } = parseCollectorConfig({
      listen: { port: 0 },
      data_dir: dir,
      storage: { backend: 'jetstream' },
      nats: { servers: server.servers, ingest: true, forward: true },
    });
    const collector = await startCollector(options);
    t.teardown(() => collector.close());
    const sub = await connect({ servers: server.servers });
    t.teardown(() => sub.close());
    const live = sub.subscribe('tributary.records.>');
    await sub.flush();

    const agent = new NatsTransport({ servers: server.servers, timeoutMs: 10_000 });
    t.teardown(() => agent.close());
    const body = encodeBatch({
      key: 'h:/f',
      labels: { host: 'h' },
      records: [{ timestamp: Date.now(), value: Buffer.from('over nats') }],
    });
    t.deepEqual(await agent.send('web', body), { kind: 'ok' });

    const res = await fetch(`${collector.address}/v1/topics/web/partitions/0/records?offset=0`, {
      headers: { accept: 'application/vnd.tributary.batch' },
    });
    t.is(res.status, 200);
    const fetched = decodeRecords(Buffer.from(await res.arrayBuffer()));
    t.deepEqual(
      fetched.map((r) => r.value.toString()),
      ['over nats'],
    );
    for await (const m of live) {
      t.is(m.subject, 'tributary.records.web.0');
      t.is(decodeRecords(Buffer.from(m.data))[0]?.value.toString(), 'over nats');
      break;
    }
    t.throws(() => parseCollectorConfig({ storage: { backend: 'jetstream' } }), { message: /nats\.servers/ });
  },
);
