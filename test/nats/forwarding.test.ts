import test from 'ava';
import { connect } from 'nats';
import { decodeRecords, encodeBatch } from '../../shared/batch-codec.ts';
import { createForwarder } from '../../collector/nats/forwarder.ts';
import { JetStreamLogStore } from '../../collector/storage/jetstream/index.ts';
import { natsServerAvailable, startNatsServer } from '../helpers/nats-server.ts';

const available = natsServerAvailable();

(available ? test : test.skip)(
  'forwarding - a subscriber on a real nats-server receives appended batches, offsets stamped',
  async (t) => {
    t.timeout(60_000);
    const server = await startNatsServer();
    t.teardown(() => server.stop());
    const pub = await connect({ servers: server.servers });
    const sub = await connect({ servers: server.servers });
    t.teardown(async () => {
      await pub.close();
      await sub.close();
    });
    const subscription = sub.subscribe('tributary.records.app-logs.*');
    await sub.flush();
    const store = await JetStreamLogStore.open({
      servers: server.servers,
      events: createForwarder({ connection: pub }),
    });
    t.teardown(() => store.close());
    await store.createTopic('app-logs', { partitions: 2 });
    const batch = (line: string) =>
      encodeBatch({
        key: 'h/f',
        labels: { host: 'h' },
        records: [{ timestamp: 1_700_000_000_000, value: Buffer.from(line) }],
      });
    await store.appendChecked('app-logs', 1, [batch('one')]);
    await store.appendChecked('app-logs', 1, [batch('two')]);

    const got: { subject: string; offset: number; value: string }[] = [];
    for await (const m of subscription) {
      for (const r of decodeRecords(Buffer.from(m.data)))
        got.push({ subject: m.subject, offset: r.offset, value: r.value.toString() });
      if (got.length === 2) break;
    }
    t.deepEqual(got, [
      { subject: 'tributary.records.app-logs.1', offset: 0, value: 'one' },
      { subject: 'tributary.records.app-logs.1', offset: 1, value: 'two' },
    ]);
  },
);
