import test from 'ava';
import { connect } from 'nats';
import { NatsTransport } from '../../agent/ship/nats-transport.ts';
import { parseCollectorConfig } from '../../collector/config.ts';
import { Authenticator } from '../../collector/http/auth.ts';
import { CollectorMetrics } from '../../collector/metrics.ts';
import { NatsIngest } from '../../collector/nats/ingest.ts';
import { ProducePath } from '../../collector/produce/produce.ts';
import { TopicAccess } from '../../collector/produce/topic-access.ts';
import { JetStreamLogStore } from '../../collector/storage/jetstream/index.ts';
import { decodeRecords, encodeBatch } from '../../shared/batch-codec.ts';
import { natsServerAvailable, startNatsServer } from '../helpers/nats-server.ts';

const TOKEN = 'agent-token-0123456789abcdef';
const maybe = natsServerAvailable() ? test : test.skip;

maybe(
  'nats ingest - an agent transport produces over NATS, acked after append; bad token and bad body refused',
  async (t) => {
    t.timeout(90_000);
    const server = await startNatsServer();
    t.teardown(() => server.stop());
    const { options } = parseCollectorConfig({ tokens: [{ name: 'agents', token: TOKEN, role: 'produce' }] });
    const store = await JetStreamLogStore.open({ connection: { servers: server.servers } });
    const nc = await connect({ servers: server.servers });
    const metrics = new CollectorMetrics();
    const topics = new TopicAccess({ store, collector: options });
    const ingest = new NatsIngest({
      connection: nc,
      produce: new ProducePath({ store, topics, metrics, limits: options.limits }),
      auth: new Authenticator(options.tokens),
      limits: options.limits,
    });
    const good = new NatsTransport({ servers: server.servers, token: TOKEN, timeoutMs: 10_000 });
    const wrong = new NatsTransport({ servers: server.servers, token: 'not-the-token-000000000', timeoutMs: 10_000 });
    t.teardown(async () => {
      await good.close();
      await wrong.close();
      await ingest.close();
      await nc.close();
      await store.close();
    });

    const body = Buffer.concat([
      encodeBatch({
        key: 'web-1:/var/log/a.log',
        labels: { host: 'web-1' },
        records: [{ timestamp: 1, value: Buffer.from('hello') }],
      }),
      encodeBatch({
        key: 'web-1:/var/log/a.log',
        labels: { host: 'web-1' },
        records: [{ timestamp: 2, value: Buffer.from('world') }],
      }),
    ]);
    t.deepEqual(await good.send('app', body), { kind: 'ok' });
    // Acknowledged means stored: read it back without waiting.
    const read = await store.read('app', 0, 0, 1 << 20);
    t.deepEqual(
      decodeRecords(read.batches).map((r) => r.value.toString()),
      ['hello', 'world'],
    );
    t.regex(
      await metrics.registry.metrics(),
      /tributary_collector_produce_duration_seconds_count\{encoding="binary"\} 1\n/,
      'a produce over NATS is measured like one over HTTP',
    );

    const refused = await wrong.send('app', body);
    t.is(refused.kind, 'retry');
    t.regex(refused.kind === 'retry' ? refused.reason : '', /401/);
    // Bytes that are not a batch are refused as corrupt_batch; from an agent's own encoder that means a collector
    // older than the agent (transport.ts), so the agent keeps the lines and retries rather than drop them.
    const garbage = await good.send('app', Buffer.from('not a batch at all, certainly not one'));
    t.is(garbage.kind, 'retry');
    t.regex(garbage.kind === 'retry' ? garbage.reason : '', /400: corrupt_batch/);
    const badName = await good.send('bad*name', body);
    t.is(badName.kind, 'reject');
    t.is((await store.describeTopic('app')).partitions[0]?.endOffset, 2, 'refused requests stored nothing');

    await ingest.close();
    const noCollector = await good.send('app', body);
    t.is(noCollector.kind, 'retry', 'no collector answering: the agent keeps the lines and retries');
  },
);
