/**
 * The cluster fault test on loopback: three nats-server processes forming a JetStream cluster, topics with
 * replicas 3, two collectors (in this process: each its own NATS connection, JetStream store and NATS ingest in the
 * shared queue group), producers (agent NatsTransports in a retry loop) under load. During the load one NATS node
 * is SIGKILLed and one collector is dropped without draining. Producing must continue, no acknowledged record may be
 * missing from the log, and duplicates (a retried request whose first attempt was stored) are counted and reported.
 */
import test from 'ava';
import { connect, type NatsConnection } from 'nats';
import { NatsTransport } from '../../agent/ship/nats-transport.ts';
import { parseCollectorConfig } from '../../collector/config.ts';
import { Authenticator } from '../../collector/http/auth.ts';
import { TopicAccess } from '../../collector/http/topic-access.ts';
import { NatsIngest } from '../../collector/nats/ingest.ts';
import { JetStreamLogStore } from '../../collector/storage/jetstream/index.ts';
import { decodeRecords, encodeBatch } from '../../shared/batch-codec.ts';
import { natsServerAvailable, startNatsCluster } from '../helpers/nats-server.ts';

const maybe = natsServerAvailable() ? test : test.skip;
const PARTITIONS = 2;

interface Collector {
  store: JetStreamLogStore;
  nc: NatsConnection;
  ingest: NatsIngest;
}

maybe('cluster - kill a NATS node and a collector under load: producing continues, no acked record lost', async (t) => {
  t.timeout(240_000);
  const cluster = await startNatsCluster(3);
  t.teardown(() => cluster.stop());
  const { options } = parseCollectorConfig({ topics: { default_partitions: PARTITIONS } });

  async function startCollector(name: string): Promise<Collector> {
    const store = await JetStreamLogStore.open({ servers: cluster.servers, replicas: 3, name, timeoutMs: 15_000 });
    const nc = await connect({ servers: cluster.servers, name, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    const ingest = new NatsIngest({
      connection: nc,
      store,
      topics: new TopicAccess({ store, collector: options }),
      auth: new Authenticator([]),
      limits: options.limits,
    });
    return { store, nc, ingest };
  }
  const a = await startCollector('collector-a');
  const b = await startCollector('collector-b');
  await a.store.createTopic('load', { partitions: PARTITIONS });
  t.teardown(async () => {
    for (const c of [a, b]) {
      await c.ingest.close().catch(() => undefined);
      await c.nc.close().catch(() => undefined);
      await c.store.close().catch(() => undefined);
    }
  });

  const acked = new Set<string>();
  let retries = 0;
  let stop = false;
  const producers = Array.from({ length: 4 }, async (_, p) => {
    const transport = new NatsTransport({ servers: cluster.servers, timeoutMs: 5_000 });
    try {
      for (let i = 0; i < 100_000 && !stop; i++) {
        const values = Array.from({ length: 50 }, (_, j) => `p${p}-r${i}-${j}`);
        const body = encodeBatch({
          key: `host-${p}:/var/log/app.log`,
          labels: { host: `host-${p}` },
          records: values.map((v) => ({ timestamp: Date.now(), value: Buffer.from(v) })),
        });
        // Like the agent's shipper: the same request again until it is acknowledged (bounded).
        for (let attempt = 0; attempt < 200; attempt++) {
          const outcome = await transport.send('load', body);
          if (outcome.kind === 'ok') {
            for (const v of values) acked.add(v);
            // Paced: the point is producing through the faults, not saturating a shared 2-core machine.
            await new Promise((r) => setTimeout(r, 5));
            break;
          }
          if (outcome.kind === 'reject') throw new Error(outcome.reason);
          retries++;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    } finally {
      await transport.close();
    }
  });

  const waitAcked = async (n: number, ms: number) => {
    const deadline = Date.now() + ms;
    while (acked.size < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return acked.size >= n;
  };
  t.true(await waitAcked(5_000, 60_000), 'load started');
  const before = acked.size;
  await cluster.nodes[2]?.kill();
  // A collector dies: its connection goes away without answering what it holds.
  await b.nc.close();
  await b.store.close().catch(() => undefined);
  const faultAt = Date.now();
  t.true(await waitAcked(before + 10_000, 120_000), `producing continued after the faults (acked ${acked.size})`);
  t.log(`10,000 more records acknowledged ${Date.now() - faultAt} ms after the faults`);
  stop = true;
  await Promise.all(producers);

  const stored = new Map<string, number>();
  let total = 0;
  for (let p = 0; p < PARTITIONS; p++) {
    let next = (await a.store.describeTopic('load')).partitions[p]?.startOffset ?? 0;
    const end = (await a.store.describeTopic('load')).partitions[p]?.endOffset ?? 0;
    let expectOffset = next;
    while (next < end) {
      const r = await a.store.read('load', p, next, 4 << 20);
      for (const rec of decodeRecords(r.batches)) {
        t.is(rec.offset, expectOffset++, 'offsets contiguous');
        const v = rec.value.toString();
        stored.set(v, (stored.get(v) ?? 0) + 1);
        total++;
      }
      next = r.nextOffset;
    }
  }
  const missing = [...acked].filter((v) => !stored.has(v));
  const duplicates = [...stored.values()].reduce((n, c) => n + (c - 1), 0);
  t.log(`acked ${acked.size} records, stored ${total}, duplicates ${duplicates}, producer retries ${retries}`);
  t.deepEqual(missing.slice(0, 10), [], `${missing.length} acknowledged records missing`);
});
