/**
 * cluster checks - a collector's `storage.replicas` against the cluster it joins (collector/storage/jetstream/
 * cluster-checks.ts), on the three-server cluster of deploy/nats/ with real collector processes: below the cluster
 * size it starts and warns with the reason; differing from the buckets other collectors made it refuses to start,
 * naming the bucket and the count to use, and creates nothing.
 */
import test from 'ava';
import { connect } from 'nats';
import { CollectorProcess } from '../helpers/collector-process.ts';
import { natsServerAvailable, startNatsCluster } from '../helpers/nats-server.ts';

const maybe = natsServerAvailable() ? test : test.skip;

maybe(
  'cluster checks - replicas below the cluster size warn; replicas unlike the existing buckets are refused',
  async (t) => {
    t.timeout(180_000);
    const cluster = await startNatsCluster(3);
    t.teardown(() => cluster.stop());
    const config = (replicas?: number) => ({
      storage: { backend: 'jetstream', ...(replicas === undefined ? {} : { replicas }) },
      nats: { servers: cluster.servers },
    });

    // No replicas key: the default, 1, on three servers.
    const first = await CollectorProcess.start({ config: config() });
    t.teardown(() => first.dispose());
    t.regex(
      first.logs,
      /storage\.replicas is 1 on a cluster of 3 servers: the streams and buckets this collector creates keep 1 copy.*Set storage\.replicas: 3/,
    );

    // The buckets now have one replica: a collector configured with 3 must not make three-replica streams beside them.
    const second = await CollectorProcess.start({ config: config(3) }).then(
      (c) => {
        t.teardown(() => c.dispose());
        return undefined;
      },
      (error: unknown) => (error as Error).message,
    );
    t.regex(
      second ?? 'it started',
      /storage\.replicas is 3, but the KV bucket tributary_topics on NATS at nats:\/\/127\.0\.0\.1:\d+.* has 1: .*storage\.replicas: 1/,
    );
    const nc = await connect({ servers: cluster.servers });
    t.teardown(() => nc.close());
    const jsm = await nc.jetstreamManager();
    const replicas: number[] = [];
    for await (const info of jsm.streams.list()) replicas.push(info.config.num_replicas);
    t.deepEqual([...new Set(replicas)], [1], 'the refused collector created nothing');
  },
);
