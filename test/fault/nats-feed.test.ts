/**
 * The NATS live feed (collector `nats.forward: true`, docs/scaling.md) is at-most-once, and the log is the durable
 * path: with a real collector process and a real nats-server, a subscriber sees what is appended while it listens;
 * what is appended while it is away is never re-sent on the feed; it sees the gap in the offsets of the next batch
 * and fetches exactly the missed records by offset from the collector.
 */
import test from 'ava';
import { connect, type NatsConnection, type Subscription } from 'nats';
import { decodeRecords } from '../../shared/batch-codec.ts';
import { fetchAll } from '../agent/support.ts';
import { call, ndjson, sleep, waitFor } from '../collector/support.ts';
import { CollectorProcess } from '../helpers/collector-process.ts';
import { natsServerAvailable, startNatsServer } from '../helpers/nats-server.ts';

interface Seen {
  readonly offset: number;
  readonly value: string;
}

function collect(subscription: Subscription, into: Seen[]): void {
  void (async () => {
    for await (const m of subscription) {
      for (const r of decodeRecords(Buffer.from(m.data))) into.push({ offset: r.offset, value: r.value.toString() });
    }
  })();
}

(natsServerAvailable() ? test : test.skip)(
  'nats feed - at-most-once: batches appended while a subscriber is away are not re-sent; the gap is fetched by offset',
  async (t) => {
    const server = await startNatsServer();
    t.teardown(() => server.stop());
    const collector = await CollectorProcess.start({
      config: { nats: { servers: server.servers, forward: true }, topics: { default_partitions: 1 } },
    });
    t.teardown(() => collector.dispose());
    const produce = async (prefix: string) => {
      const res = await call(`${collector.url}/v1/topics/feed/records`, {
        method: 'POST',
        body: ndjson(Array.from({ length: 5 }, (_v, i) => ({ key: 'k', value: `${prefix}${i}` }))),
        headers: { 'content-type': 'application/x-ndjson' },
      });
      t.is(res.status, 200, res.text);
    };
    const connections: NatsConnection[] = [];
    t.teardown(async () => {
      for (const c of connections) if (!c.isClosed()) await c.close();
    });

    // 1. Listening: a0..a4 arrive with their offsets.
    const first: Seen[] = [];
    const nc1 = await connect({ servers: server.servers });
    connections.push(nc1);
    collect(nc1.subscribe('tributary.records.feed.>'), first);
    await nc1.flush();
    await produce('a');
    await waitFor('the first batch on the feed', () => first.length >= 5, 30_000);
    t.deepEqual(
      first.map((s) => s.offset),
      [0, 1, 2, 3, 4],
    );

    // 2. Away: b0..b4 are appended and published to nobody.
    await nc1.close();
    await produce('b');

    // 3. Back: only c0..c4 arrive; b is not re-sent, however long we wait.
    const second: Seen[] = [];
    const nc2 = await connect({ servers: server.servers });
    connections.push(nc2);
    collect(nc2.subscribe('tributary.records.feed.>'), second);
    await nc2.flush();
    await produce('c');
    await waitFor('the third batch on the feed', () => second.length >= 5, 30_000);
    await sleep(2000);
    t.deepEqual(
      second.map((s) => s.value),
      ['c0', 'c1', 'c2', 'c3', 'c4'],
      'what was appended while away is not on the feed',
    );

    // 4. The gap (offsets 5..9, between the last seen 4 and the first new 10) is fetched from the log.
    t.is(second[0]!.offset, 10);
    const log = await fetchAll(collector.url, 'feed');
    const gap = log.filter((r) => r.offset > 4 && r.offset < second[0]!.offset).map((r) => r.value.toString());
    t.deepEqual(gap, ['b0', 'b1', 'b2', 'b3', 'b4']);
  },
);
