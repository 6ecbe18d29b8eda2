/**
 * The LogStore contract (contract.ts) against the JetStream backend on one real nats-server, started once for this
 * file. Every test opens its own store (its own NATS connection) and works on its own topic and group names, so
 * the tests share the server and its KV buckets the way collectors do. "Reopen" is a new store instance on the same
 * server: what a restarted or second collector sees.
 *
 * Without nats-server the suite is skipped, except under CI=true, where natsServerAvailable() throws (a failure).
 */
import test from 'ava';
import { JetStreamLogStore } from '../../../collector/storage/jetstream/index.ts';
import { type NatsCluster, natsServerAvailable, startNatsServer } from '../../helpers/nats-server.ts';
import { logStoreContract } from './contract.ts';

if (natsServerAvailable()) {
  let server: Promise<NatsCluster> | undefined;
  test.after.always(async () => {
    if (server) await (await server).stop();
  });
  logStoreContract('jetstream', async () => {
    server ??= startNatsServer();
    const { servers } = await server;
    const open = () => JetStreamLogStore.open({ servers, retentionCheckIntervalMs: 0, name: 'contract' });
    return { store: await open(), reopen: open, cleanup: async () => {} };
  });
} else {
  test.skip('jetstream contract - nats-server is not installed', () => {});
}
