/**
 * Two collectors sharing a JetStream backend, each with a Kafka listener: Metadata from either lists both,
 * FindCoordinator from either names the same collector for a group, and a kcat consumer group consumes through
 * either collector, resuming from the offsets committed through the other.
 */
import net from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { CollectorClient } from '../../shared/client/collector-client.ts';
import { waitFor } from '../collector/support.ts';
import { natsServerAvailable, startNatsServer } from '../helpers/nats-server.ts';
import { withKcat, type KafkaCollector, run, startKafkaCollector } from './support.ts';

/** FindCoordinator v0 for `group`, raw: the answer's node id, host and port. */
function findCoordinator(port: number, group: string): Promise<{ nodeId: number; host: string; port: number }> {
  return new Promise((resolve, reject) => {
    const key = Buffer.from(group);
    const body = Buffer.alloc(4 + 10 + 2 + key.length);
    body.writeInt32BE(body.length - 4, 0);
    body.writeInt16BE(10, 4); // FindCoordinator
    body.writeInt16BE(0, 6);
    body.writeInt32BE(1, 8);
    body.writeInt16BE(-1, 12);
    body.writeInt16BE(key.length, 14);
    key.copy(body, 16);
    const socket = net.connect(port, '127.0.0.1', () => socket.write(body));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error('no answer')), 10_000);
    socket.on('data', (c) => {
      chunks.push(c);
      const all = Buffer.concat(chunks);
      if (all.length >= 4 && all.length >= 4 + all.readInt32BE(0)) {
        clearTimeout(timer);
        socket.destroy();
        const hostLength = all.readInt16BE(14);
        resolve({
          nodeId: all.readInt32BE(10),
          host: all.toString('utf8', 16, 16 + hostLength),
          port: all.readInt32BE(16 + hostLength),
        });
      }
    });
    socket.on('error', reject);
  });
}

(natsServerAvailable() ? withKcat.test : test.skip)(
  'jetstream - two collectors: both advertised, one coordinator per group, a kcat group consuming through either',
  async (t: ExecutionContext) => {
    t.timeout(240_000);
    const nats = await startNatsServer();
    t.teardown(() => nats.stop());
    const config = { storage: { backend: 'jetstream', replicas: 1 }, nats: { servers: nats.servers } };
    const [a, b] = (await Promise.all([startKafkaCollector({ config }), startKafkaCollector({ config })])) as [
      KafkaCollector,
      KafkaCollector,
    ];
    t.teardown(() => a.collector.dispose());
    t.teardown(() => b.collector.dispose());
    const viaA = new CollectorClient({ urls: a.collector.url });
    await viaA.createTopic({ name: 'js-kafka', partitions: 3 });
    await viaA.produce(
      'js-kafka',
      Array.from({ length: 60 }, (_v, i) => ({ key: `host-${i % 5}:/app.log`, value: `first-${i}` })),
    );

    // Metadata from either collector lists both.
    for (const via of [a, b]) {
      const listed = await waitFor(`both brokers in metadata from ${via.bootstrap}`, async () => {
        const result = await run('kcat', ['-b', via.bootstrap, '-L', '-J']);
        const names = (JSON.parse(result.stdout) as { brokers: { name: string }[] }).brokers.map((x) => x.name).sort();
        return names.length === 2 ? names : undefined;
      });
      t.deepEqual(listed, [a.bootstrap, b.bootstrap].sort());
    }
    // Every collector names the same coordinator for a group.
    for (const group of ['js-group', 'another', 'third-group']) {
      const [fromA, fromB] = await Promise.all([
        findCoordinator(a.kafkaPort, group),
        findCoordinator(b.kafkaPort, group),
      ]);
      t.deepEqual(fromA, fromB, group);
    }

    const consume = (bootstrap: string) =>
      run('kcat', [
        ...['-b', bootstrap, '-G', 'js-group', 'js-kafka', '-X', 'auto.offset.reset=earliest'],
        ...['-e', '-q', '-f', '%s\n'],
      ]);
    const first = await consume(a.bootstrap);
    t.is(first.code, 0, first.stderr);
    t.is(first.stdout.trim().split('\n').length, 60);
    await viaA.produce(
      'js-kafka',
      Array.from({ length: 30 }, (_v, i) => ({ key: `host-${i % 5}:/app.log`, value: `second-${i}` })),
    );
    // Through the other collector, the group resumes where it committed: only the new records.
    const second = await consume(b.bootstrap);
    t.is(second.code, 0, second.stderr);
    t.deepEqual(second.stdout.trim().split('\n').sort(), Array.from({ length: 30 }, (_v, i) => `second-${i}`).sort());
  },
);
