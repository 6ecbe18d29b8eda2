/**
 * The collector's NATS side, wired from its options: the connection options (servers, token or .creds file, TLS),
 * the JetStream store when `storage.backend: jetstream`, and the ingest and forwarding services when enabled.
 * collector.ts calls `openNatsStore` and `startNatsBridge`; everything NATS-specific stays in this folder.
 */
import { readFileSync } from 'node:fs';
import { type ConnectionOptions, connect, credsAuthenticator, type NatsConnection } from 'nats';
import { ConfigError } from '../../shared/errors.ts';
import type { CollectorOptions, NatsOptions } from '../config.ts';
import { Authenticator } from '../http/auth.ts';
import type { ProducePath } from '../produce/produce.ts';
import { JetStreamLogStore } from '../storage/jetstream/index.ts';
import type { StorageEvents } from '../storage/log-store.ts';
import { composeEvents, createForwarder } from './forwarder.ts';
import { NatsIngest } from './ingest.ts';

function credentials(nats: NatsOptions): string | undefined {
  if (nats.credentialsFile === undefined) return undefined;
  try {
    return readFileSync(nats.credentialsFile, 'utf8');
  } catch (error) {
    throw new ConfigError(`nats.credentials_file: cannot read ${nats.credentialsFile}: ${(error as Error).message}`);
  }
}

export function natsConnectionOptions(nats: NatsOptions, name: string): ConnectionOptions {
  const creds = credentials(nats);
  return {
    servers: [...nats.servers],
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    ...(nats.token ? { token: nats.token } : {}),
    ...(creds ? { authenticator: credsAuthenticator(new TextEncoder().encode(creds)) } : {}),
    ...(nats.tls ? { tls: { ...nats.tls } } : {}),
  };
}

export interface NatsBridge {
  /** Storage events to compose with the metrics sink (the forwarder), or none. */
  readonly events: StorageEvents;
  /** Starts ingest once the store is open, into the collector's produce path. */
  attach(produce: ProducePath): void;
  close(): Promise<void>;
}

/** Connects when ingest or forwarding is on; a bridge that does nothing otherwise. */
export async function startNatsBridge(options: CollectorOptions): Promise<NatsBridge> {
  const nats = options.nats;
  if (nats === undefined || (!nats.ingest && !nats.forward)) {
    return { events: {}, attach() {}, async close() {} };
  }
  let nc: NatsConnection;
  try {
    nc = await connect(natsConnectionOptions(nats, 'tributary-collector-bridge'));
  } catch (error) {
    throw new ConfigError(`cannot connect to NATS at ${nats.servers.join(', ')}: ${(error as Error).message}`);
  }
  let ingest: NatsIngest | undefined;
  return {
    events: nats.forward ? createForwarder({ connection: nc }) : {},
    attach(produce) {
      if (!nats.ingest) return;
      ingest = new NatsIngest({
        connection: nc,
        produce,
        auth: new Authenticator(options.tokens),
        limits: options.limits,
      });
    },
    async close() {
      await ingest?.close();
      await nc.drain().catch(() => undefined);
    },
  };
}

export async function openJetStreamStore(options: CollectorOptions, events: StorageEvents): Promise<JetStreamLogStore> {
  const nats = options.nats;
  if (nats === undefined) throw new ConfigError('storage.backend jetstream needs nats.servers');
  const creds = credentials(nats);
  return await JetStreamLogStore.open({
    servers: [...nats.servers],
    ...(nats.token ? { token: nats.token } : {}),
    ...(creds ? { credentials: creds } : {}),
    ...(nats.tls ? { tls: nats.tls } : {}),
    replicas: options.storage?.replicas ?? 1,
    defaults: options.topicDefaults,
    events,
  });
}

export { composeEvents };
