/**
 * How every Tributary process reaches NATS: the collector's JetStream store and bridge, and the agent's NATS
 * transport all build their connection options here, from one settings shape.
 *
 * Contract
 * - Credential and TLS files are read once, when the configuration is loaded (`readNatsFiles`), so a missing or
 *   unreadable file is a config error naming its key at start, never a failure minutes later on a reconnect.
 *   The options carry the files' contents, not their paths.
 * - Connections reconnect forever (every `reconnectTimeWait`): a NATS outage is waited out, not fatal.
 * - `watchNatsStatus` logs the connection's life once per change, naming the server: connected, disconnected,
 *   reconnected. Nothing here ever logs a token or a credential.
 */
import { readFileSync } from 'node:fs';
import { type ConnectionOptions, credsAuthenticator, type NatsConnection } from 'nats';
import { ConfigError } from './errors.ts';
import type { Logger } from './logger.ts';

/** TLS material, as contents (PEM). */
export interface NatsTlsMaterial {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/** What identifies and authenticates a NATS client; files already read (readNatsFiles). */
export interface NatsConnectionSettings {
  readonly servers: readonly string[];
  readonly token?: string | undefined;
  readonly user?: string | undefined;
  readonly pass?: string | undefined;
  /** Contents of a .creds file (JWT + nkey seed). */
  readonly credentials?: string | undefined;
  readonly tls?: NatsTlsMaterial | undefined;
}

/** File paths as a config spells them, and the config key prefix that names them in errors (`nats`). */
export interface NatsFiles {
  readonly credentialsFile?: string | undefined;
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string } | undefined;
}

function readConfigFile(file: string, key: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`${key}: cannot read ${file}: ${(error as Error).message}`);
  }
}

/** Reads the credential and TLS files of `files` now; errors name `${keyPrefix}.credentials_file` etc. */
export function readNatsFiles(files: NatsFiles, keyPrefix: string): { credentials?: string; tls?: NatsTlsMaterial } {
  const tls = files.tls;
  return {
    ...(files.credentialsFile === undefined
      ? {}
      : { credentials: readConfigFile(files.credentialsFile, `${keyPrefix}.credentials_file`) }),
    ...(tls === undefined
      ? {}
      : {
          tls: Object.freeze({
            ...(tls.caFile ? { ca: readConfigFile(tls.caFile, `${keyPrefix}.tls.ca_file`) } : {}),
            ...(tls.certFile ? { cert: readConfigFile(tls.certFile, `${keyPrefix}.tls.cert_file`) } : {}),
            ...(tls.keyFile ? { key: readConfigFile(tls.keyFile, `${keyPrefix}.tls.key_file`) } : {}),
          }),
        }),
  };
}

export interface NatsClientIdentity {
  /** Connection name shown by the server (`/connz`). */
  readonly name: string;
  /** Pause between reconnect attempts. Default 250 ms. */
  readonly reconnectTimeWait?: number;
  /** Connect timeout. */
  readonly timeoutMs?: number;
  /** Keep trying the first connect instead of failing (the agent: NATS may come up after it). */
  readonly waitOnFirstConnect?: boolean;
}

/** The nats.js options for `settings`: reconnect forever, authentication and TLS as configured. */
export function natsConnectionOptions(settings: NatsConnectionSettings, client: NatsClientIdentity): ConnectionOptions {
  return {
    servers: [...settings.servers],
    name: client.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: client.reconnectTimeWait ?? 250,
    ...(client.timeoutMs === undefined ? {} : { timeout: client.timeoutMs }),
    ...(client.waitOnFirstConnect ? { waitOnFirstConnect: true } : {}),
    ...(settings.token ? { token: settings.token } : {}),
    ...(settings.user ? { user: settings.user, pass: settings.pass ?? '' } : {}),
    ...(settings.credentials
      ? { authenticator: credsAuthenticator(new TextEncoder().encode(settings.credentials)) }
      : {}),
    ...(settings.tls ? { tls: { ...settings.tls } } : {}),
  };
}

/**
 * Logs `connection`'s life until it closes: `connected` now, then each disconnect and reconnect once, with the
 * server concerned. nats.js reports a disconnect once per lost connection and a reconnect once per regained one
 * (its `reconnecting` attempts are not logged: the disconnect already said it).
 */
export function watchNatsStatus(connection: NatsConnection, logger: Logger, what: string): void {
  logger.info({ nats: asUrl(connection.getServer()), connection: what }, 'connected to NATS');
  void (async () => {
    for await (const status of connection.status()) {
      const server = asUrl(typeof status.data === 'string' ? status.data : connection.getServer());
      if (status.type === 'disconnect') {
        logger.warn({ nats: server, connection: what }, 'disconnected from NATS; reconnecting to the other servers');
      } else if (status.type === 'reconnect') {
        logger.info({ nats: server, connection: what }, 'reconnected to NATS');
      } else if (status.type === 'error') {
        logger.warn(
          { nats: asUrl(connection.getServer()), connection: what, err: status.data },
          'NATS connection error',
        );
      }
    }
  })().catch(() => undefined);
}

/** The server `connection` is connected to now, as a URL (for logs). */
export function currentServer(connection: NatsConnection): string {
  return asUrl(connection.getServer());
}

/** nats.js names servers `host:port`; logs use the URL form of `nats.servers`. */
function asUrl(server: string): string {
  return /^[a-z]+:\/\//i.test(server) ? server : `nats://${server}`;
}
