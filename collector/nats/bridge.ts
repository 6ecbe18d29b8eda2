/**
 * The collector's NATS services, wired from its options: NATS ingest (agents producing over NATS) and forwarding
 * (the live feed), each when enabled, on one connection of their own. The storage backend, JetStream included, is
 * chosen and opened by collector/storage/open-store.ts; the connection options are built by
 * shared/nats-connection.ts for both.
 */
import { connect, type NatsConnection } from 'nats';
import { UnavailableError } from '../../shared/errors.ts';
import { type Logger, silentLogger } from '../../shared/logger.ts';
import { natsConnectionOptions, watchNatsStatus } from '../../shared/nats-connection.ts';
import type { CollectorOptions } from '../config.ts';
import type { Authenticator } from '../http/auth.ts';
import type { ProducePath } from '../produce/produce.ts';
import type { StorageEvents } from '../storage/log-store.ts';
import { composeEvents, createForwarder } from './forwarder.ts';
import { NatsIngest } from './ingest.ts';

const BRIDGE_CONNECTION = 'tributary-collector-bridge';

export interface NatsBridge {
  /** Storage events to compose with the metrics sink (the forwarder), or none. */
  readonly events: StorageEvents;
  /** Starts ingest once the store is open, into the collector's produce path, checking tokens with `auth`. */
  attach(produce: ProducePath, auth: Authenticator): void;
  close(): Promise<void>;
}

/** Connects when ingest or forwarding is on; a bridge that does nothing otherwise. */
export async function startNatsBridge(options: CollectorOptions, logger: Logger = silentLogger()): Promise<NatsBridge> {
  const nats = options.nats;
  if (nats === undefined || (!nats.ingest && !nats.forward)) {
    return { events: {}, attach() {}, async close() {} };
  }
  let nc: NatsConnection;
  try {
    nc = await connect(natsConnectionOptions(nats.connection, { name: BRIDGE_CONNECTION }));
  } catch (error) {
    throw new UnavailableError(
      `cannot reach NATS at ${nats.servers.join(', ')} (for nats.ingest / nats.forward): ` +
        `${(error as Error).message} (is nats-server running and listening there? check nats.servers)`,
      { cause: error },
    );
  }
  watchNatsStatus(nc, logger, BRIDGE_CONNECTION);
  let ingest: NatsIngest | undefined;
  return {
    events: nats.forward ? createForwarder({ connection: nc }) : {},
    attach(produce, auth) {
      if (!nats.ingest) return;
      ingest = new NatsIngest({
        connection: nc,
        produce,
        auth,
        limits: options.limits,
      });
    },
    async close() {
      await ingest?.close();
      await nc.drain().catch(() => undefined);
      if (!nc.isClosed()) await nc.close();
    },
  };
}

export { composeEvents };
