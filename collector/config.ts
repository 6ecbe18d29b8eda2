/**
 * The collector's configuration: one table of keys (the zod schema below, with defaults), loaded once at the edge
 * (shared/config-file.ts: YAML file < `TRIBUTARY_COLLECTOR_…` environment < flags) into a frozen
 * `CollectorOptions`. YAML keys are snake_case; durations take `500ms`, `5s`, `7d` or ms; sizes take `1MiB` or bytes.
 * Relative paths (data_dir, TLS files) are resolved against the config file's directory.
 *
 * docs/collector.md is the reference for every key; keep the two in step.
 */
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { z } from 'zod';
import {
  durationSchema,
  formatDurationMs,
  formatSizeBytes,
  loadConfig,
  sizeSchema,
  validateConfig,
} from '../shared/config-file.ts';
import { ConfigError } from '../shared/errors.ts';
import { isValidName } from '../shared/names.ts';
import { LOG_LEVELS, type LogLevel } from '../shared/logger.ts';
import { type NatsConnectionSettings, readNatsFiles } from '../shared/nats-connection.ts';
import type { FlushPolicy, TopicConfig } from './storage/log-store.ts';
import type { SyslogListenerOptions } from './syslog/receiver.ts';

export const ENV_PREFIX = 'TRIBUTARY_COLLECTOR_';
export type Role = 'produce' | 'read' | 'admin';
export const ROLES: readonly Role[] = ['produce', 'read', 'admin'];

const portSchema = z
  .number({ error: 'expected a number from 0 to 65535' })
  .int({ error: 'expected a number from 0 to 65535' })
  .min(0, { error: 'expected a number from 0 to 65535' })
  .max(65535, { error: 'expected a number from 0 to 65535' });

const tokenSchema = z.strictObject({
  /** A label for logs and metrics; the token itself is never logged. */
  name: z.string().min(1).optional(),
  token: z.string().min(16, { error: 'tokens must be at least 16 characters (use e.g. `openssl rand -hex 24`)' }),
  role: z.enum(ROLES, { error: `expected one of ${ROLES.join(', ')}` }),
});

const flushSchema = z.enum(['always', 'interval'], { error: 'expected "always" or "interval"' });

/** The table. Every key has its default here, and only here. */
const Schema = z.strictObject({
  listen: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: portSchema.default(7070),
    })
    .prefault({}),
  data_dir: z.string().min(1).default('./data'),
  tokens: z.array(tokenSchema).default([]),
  allow_unauthenticated: z.boolean().default(false),
  tls: z
    .strictObject({
      cert_file: z.string().min(1).optional(),
      key_file: z.string().min(1).optional(),
    })
    .prefault({}),
  limits: z
    .strictObject({
      /** Unset: DEFAULT_MAX_BODY_BYTES, lowered to the NATS servers' max_payload on JetStream (storage/body-limit.ts). */
      max_body_bytes: sizeSchema(1024, 1024 ** 3).optional(),
      max_decompressed_bytes: sizeSchema(1024, 4 * 1024 ** 3).default(64 * 1024 * 1024),
      max_records_per_request: z.number().int().min(1).default(500_000),
      max_line_bytes: sizeSchema(16, 64 * 1024 * 1024).default(1024 * 1024),
      max_topics: z.number().int().min(1).default(1000),
      max_partitions_per_topic: z.number().int().min(1).max(100_000).default(256),
      max_fetch_bytes: sizeSchema(1024, 1024 ** 3).default(64 * 1024 * 1024),
      max_wait: durationSchema(0, 300_000).default(60_000),
      /** Unset: max_wait + 60 s (toCollectorOptions). */
      request_timeout: durationSchema(1000, 3_600_000).optional(),
    })
    .prefault({}),
  topics: z
    .strictObject({
      auto_create: z.boolean().default(true),
      default_partitions: z.number().int().min(1).default(1),
      retention: durationSchema(1)
        .nullable()
        .default(7 * 86_400_000),
      retention_bytes: sizeSchema(1).nullable().default(null),
      segment_bytes: sizeSchema(4096, 2 * 1024 ** 3).default(1024 ** 3),
      segment_age: durationSchema(1000).default(7 * 86_400_000),
      flush: flushSchema.default('always'),
      flush_interval: durationSchema(1).default(1000),
      flush_interval_bytes: sizeSchema(1).default(1024 * 1024),
    })
    .prefault({}),
  // --- NATS (collector/nats/, collector/storage/jetstream/; added by the NATS engineer) ---
  storage: z
    .strictObject({
      backend: z.enum(['file', 'jetstream'], { error: 'expected "file" or "jetstream"' }).default('file'),
      /** JetStream stream and KV replicas (1 on one node; 3 in a cluster makes an ack survive a node loss). */
      replicas: z.number().int().min(1).max(5).default(1),
    })
    .prefault({}),
  nats: z
    .strictObject({
      servers: z.array(z.string().min(1)).default([]),
      token: z.string().min(1).optional(),
      credentials_file: z.string().min(1).optional(),
      tls: z
        .strictObject({
          ca_file: z.string().min(1).optional(),
          cert_file: z.string().min(1).optional(),
          key_file: z.string().min(1).optional(),
        })
        .optional(),
      /** Answer produce requests from agents on tributary.ingest.<topic> (queue group tributary-collectors). */
      ingest: z.boolean().default(false),
      /** Publish appended batches on tributary.records.<topic>.<partition> (live feed, at-most-once). */
      forward: z.boolean().default(false),
    })
    .prefault({}),
  // --- Kafka protocol listener (collector/kafka/, docs/kafka.md; added by the Kafka engineer) ---
  kafka: z
    .strictObject({
      /** host:port to serve the Kafka protocol on, e.g. 127.0.0.1:9092; unset: no Kafka listener. */
      listen: z.string().min(1).optional(),
      /** host:port clients are told to connect to (Metadata, FindCoordinator); default: the listen address. */
      advertised: z.string().min(1).optional(),
      tls: z
        .strictObject({ cert_file: z.string().min(1).optional(), key_file: z.string().min(1).optional() })
        .prefault({}),
      max_request_bytes: sizeSchema(1024, 1024 ** 3).default(16 * 1024 * 1024),
      max_connections: z.number().int().min(1).default(1000),
      /** A request frame must arrive whole within this time once it has begun (a slow client is cut). */
      request_timeout: durationSchema(1000, 3_600_000).default(60_000),
      /** A connection with no request for this long is closed (Kafka's connections.max.idle.ms). */
      idle_timeout: durationSchema(1000).default(600_000),
    })
    .prefault({}),
  // --- receivers (collector/syslog/, collector/otlp/; docs/sources.md) ---
  syslog: z
    .array(
      z.strictObject({
        protocol: z.enum(['tcp', 'udp', 'tls'], { error: 'expected "tcp", "udp" or "tls"' }),
        host: z.string().min(1).default('127.0.0.1'),
        port: portSchema,
        topic: z.string().min(1).default('syslog'),
        max_message_bytes: sizeSchema(480, 64 * 1024 * 1024).default(64 * 1024),
        max_connections: z.number().int().min(1).max(100_000).default(1000),
        max_pending_bytes: sizeSchema(64 * 1024, 1024 ** 3).default(1024 * 1024),
        tls: z
          .strictObject({
            cert_file: z.string().min(1).optional(),
            key_file: z.string().min(1).optional(),
            ca_file: z.string().min(1).optional(),
          })
          .optional(),
      }),
    )
    .default([]),
  otlp: z
    .strictObject({
      enabled: z.boolean().default(true),
      topic: z.string().min(1).default('otlp'),
    })
    .prefault({}),
  retention_check_interval: durationSchema(1000).default(300_000),
  shutdown_timeout: durationSchema(0).default(30_000),
  log_level: z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` }).default('info'),
});

export type CollectorConfigFile = z.output<typeof Schema>;

/** Leaf keys that may be set from the environment (`listen.port` -> TRIBUTARY_COLLECTOR_LISTEN_PORT). */
export const ENV_PATHS: readonly string[] = [
  'listen.host',
  'listen.port',
  'data_dir',
  'allow_unauthenticated',
  'tls.cert_file',
  'tls.key_file',
  'limits.max_body_bytes',
  'limits.max_decompressed_bytes',
  'limits.max_records_per_request',
  'limits.max_line_bytes',
  'limits.max_topics',
  'limits.max_partitions_per_topic',
  'topics.auto_create',
  'topics.default_partitions',
  'topics.flush',
  'retention_check_interval',
  'log_level',
  'kafka.listen',
  'kafka.advertised',
];

export interface TokenEntry {
  readonly name: string;
  readonly token: string;
  readonly role: Role;
}

export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface CollectorLimits {
  readonly maxBodyBytes: number;
  /** Whether limits.max_body_bytes was set (else the default above): the JetStream backend may lower a default. */
  readonly maxBodyBytesSet?: boolean;
  readonly maxDecompressedBytes: number;
  readonly maxRecordsPerRequest: number;
  readonly maxLineBytes: number;
  readonly maxTopics: number;
  readonly maxPartitionsPerTopic: number;
  readonly maxFetchBytes: number;
  readonly maxWaitMs: number;
  /** How long a client may take to send a whole request (headers and body) before it is cut with 408. */
  readonly requestTimeoutMs: number;
}

export interface CollectorOptions {
  readonly listen: { readonly host: string; readonly port: number };
  readonly dataDir: string;
  readonly tokens: readonly TokenEntry[];
  readonly allowUnauthenticated: boolean;
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
  readonly limits: CollectorLimits;
  readonly autoCreateTopics: boolean;
  /** The config of topics created without explicit settings (auto-created ones included). */
  readonly topicDefaults: TopicConfig;
  readonly retentionCheckIntervalMs: number;
  readonly shutdownTimeoutMs: number;
  readonly logLevel: LogLevel;
  /** Optional so hand-built options (tests) stay valid; absent means the file backend and no NATS. */
  readonly storage?: { readonly backend: 'file' | 'jetstream'; readonly replicas: number };
  readonly nats?: NatsOptions | undefined;
  /** The Kafka protocol listener; undefined: off. */
  readonly kafka?: KafkaListenerOptions | undefined;
  /** Syslog listeners (collector/syslog/); optional so hand-built options stay valid: absent means none. */
  readonly syslog?: readonly SyslogListenerOptions[];
  /** OTLP/HTTP logs at POST /v1/logs (collector/otlp/); absent means enabled into topic `otlp`. */
  readonly otlp?: { readonly enabled: boolean; readonly topic: string };
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface KafkaListenerOptions {
  readonly listen: HostPort;
  /** What Metadata and FindCoordinator tell clients; undefined: the listen address (its real port when 0). */
  readonly advertised: HostPort | undefined;
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
  readonly maxRequestBytes: number;
  readonly maxConnections: number;
  readonly requestTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

/** Parses `host:port` (`[::1]:9092` for IPv6); `key` names the setting in the error. */
export function parseHostPort(value: string, key: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) {
    throw new ConfigError(
      `${key}: expected host:port (e.g. 127.0.0.1:9092 or [::1]:9092), got ${JSON.stringify(value)}`,
    );
  }
  return { host: (m[1] ?? m[2])!, port };
}

/** Where the collector reaches NATS (JetStream backend, ingest, forwarding). Files read at load. */
export interface NatsOptions {
  readonly servers: readonly string[];
  /** Servers and authentication, credential and TLS files already read (shared/nats-connection.ts). */
  readonly connection: NatsConnectionSettings;
  readonly ingest: boolean;
  readonly forward: boolean;
}

/** Turns the validated file into options; `baseDir` anchors relative paths. */
export function toCollectorOptions(c: CollectorConfigFile, baseDir: string, source: string): CollectorOptions {
  const resolve = (p: string) => (path.isAbsolute(p) ? p : path.resolve(baseDir, p));
  if ((c.tls.cert_file === undefined) !== (c.tls.key_file === undefined)) {
    throw new ConfigError(`${source}: tls: set both cert_file and key_file, or neither`);
  }
  if (c.topics.default_partitions > c.limits.max_partitions_per_topic) {
    throw new ConfigError(
      `${source}: topics.default_partitions: ${c.topics.default_partitions} is above ` +
        `limits.max_partitions_per_topic (${c.limits.max_partitions_per_topic})`,
    );
  }
  // Kept above max_wait so that no request can be cut while it legitimately waits. (Node applies the timeout to
  // receiving the request only, so for today's routes this is a margin rather than a necessity.)
  const requestTimeoutMs = c.limits.request_timeout ?? c.limits.max_wait + 60_000;
  if (requestTimeoutMs <= c.limits.max_wait) {
    throw new ConfigError(
      `${source}: limits.request_timeout: ${requestTimeoutMs}ms must be larger than limits.max_wait ` +
        `(${c.limits.max_wait}ms); raise request_timeout or lower max_wait`,
    );
  }
  const seen = new Set<string>();
  for (const [i, t] of c.tokens.entries()) {
    if (seen.has(t.token)) throw new ConfigError(`${source}: tokens.${i}.token: the same token is listed twice`);
    seen.add(t.token);
  }
  const usesNats = c.storage.backend === 'jetstream' || c.nats.ingest || c.nats.forward;
  if (usesNats && c.nats.servers.length === 0) {
    throw new ConfigError(
      `${source}: nats.servers: list the NATS servers (storage.backend jetstream, nats.ingest or nats.forward need them)`,
    );
  }
  if ((c.kafka.tls.cert_file === undefined) !== (c.kafka.tls.key_file === undefined)) {
    throw new ConfigError(`${source}: kafka.tls: set both cert_file and key_file, or neither`);
  }
  const kafka: KafkaListenerOptions | undefined =
    c.kafka.listen === undefined
      ? undefined
      : Object.freeze({
          listen: Object.freeze(parseHostPort(c.kafka.listen, `${source}: kafka.listen`)),
          advertised:
            c.kafka.advertised === undefined
              ? undefined
              : Object.freeze(parseHostPort(c.kafka.advertised, `${source}: kafka.advertised`)),
          tls:
            c.kafka.tls.cert_file !== undefined && c.kafka.tls.key_file !== undefined
              ? Object.freeze({ certFile: resolve(c.kafka.tls.cert_file), keyFile: resolve(c.kafka.tls.key_file) })
              : undefined,
          maxRequestBytes: c.kafka.max_request_bytes,
          maxConnections: c.kafka.max_connections,
          requestTimeoutMs: c.kafka.request_timeout,
          idleTimeoutMs: c.kafka.idle_timeout,
        });
  const syslog = syslogListeners(c, resolve, source);
  if (!isValidName(c.otlp.topic)) {
    throw new ConfigError(`${source}: otlp.topic: '${c.otlp.topic}' is not a valid topic name ([a-zA-Z0-9._-]{1,200})`);
  }
  const flush: FlushPolicy =
    c.topics.flush === 'always'
      ? { mode: 'always' }
      : { mode: 'interval', intervalMs: c.topics.flush_interval, intervalBytes: c.topics.flush_interval_bytes };
  return Object.freeze({
    listen: Object.freeze({ host: c.listen.host, port: c.listen.port }),
    dataDir: resolve(c.data_dir),
    tokens: Object.freeze(
      c.tokens.map((t, i) => Object.freeze({ name: t.name ?? `token-${i}`, token: t.token, role: t.role })),
    ),
    allowUnauthenticated: c.allow_unauthenticated,
    tls:
      c.tls.cert_file !== undefined && c.tls.key_file !== undefined
        ? Object.freeze({ certFile: resolve(c.tls.cert_file), keyFile: resolve(c.tls.key_file) })
        : undefined,
    limits: Object.freeze({
      maxBodyBytes: c.limits.max_body_bytes ?? DEFAULT_MAX_BODY_BYTES,
      maxBodyBytesSet: c.limits.max_body_bytes !== undefined,
      maxDecompressedBytes: c.limits.max_decompressed_bytes,
      maxRecordsPerRequest: c.limits.max_records_per_request,
      maxLineBytes: c.limits.max_line_bytes,
      maxTopics: c.limits.max_topics,
      maxPartitionsPerTopic: c.limits.max_partitions_per_topic,
      maxFetchBytes: c.limits.max_fetch_bytes,
      maxWaitMs: c.limits.max_wait,
      requestTimeoutMs,
    }),
    autoCreateTopics: c.topics.auto_create,
    topicDefaults: Object.freeze({
      partitions: c.topics.default_partitions,
      retentionMs: c.topics.retention,
      retentionBytes: c.topics.retention_bytes,
      segmentBytes: c.topics.segment_bytes,
      segmentMs: c.topics.segment_age,
      flush,
    }),
    retentionCheckIntervalMs: c.retention_check_interval,
    shutdownTimeoutMs: c.shutdown_timeout,
    logLevel: c.log_level,
    storage: Object.freeze({ backend: c.storage.backend, replicas: c.storage.replicas }),
    nats: usesNats
      ? Object.freeze({
          servers: Object.freeze([...c.nats.servers]),
          connection: natsConnectionFrom(c.nats, resolve),
          ingest: c.nats.ingest,
          forward: c.nats.forward,
        })
      : undefined,
    kafka,
    syslog,
    otlp: Object.freeze({ enabled: c.otlp.enabled, topic: c.otlp.topic }),
  });
}

/** The `nats.*` keys as connection settings; credential and TLS files are read here, at load (errors name the key). */
function natsConnectionFrom(n: CollectorConfigFile['nats'], resolve: (p: string) => string): NatsConnectionSettings {
  const files = readNatsFiles(
    {
      credentialsFile: n.credentials_file === undefined ? undefined : resolve(n.credentials_file),
      tls:
        n.tls === undefined
          ? undefined
          : {
              ...(n.tls.ca_file ? { caFile: resolve(n.tls.ca_file) } : {}),
              ...(n.tls.cert_file ? { certFile: resolve(n.tls.cert_file) } : {}),
              ...(n.tls.key_file ? { keyFile: resolve(n.tls.key_file) } : {}),
            },
    },
    'nats',
  );
  return Object.freeze({ servers: Object.freeze([...n.servers]), token: n.token, ...files });
}

/**
 * The syslog listeners, checked: a valid topic, a message cap within max_line_bytes (a message is one record), TLS
 * files for `tls` (the collector's own certificate when none is given), and no unauthenticated listener off
 * loopback unless allow_unauthenticated says the network is trusted (syslog has no tokens; a TLS listener with a
 * ca_file authenticates senders by client certificate).
 */
function syslogListeners(
  c: CollectorConfigFile,
  resolve: (p: string) => string,
  source: string,
): readonly SyslogListenerOptions[] {
  return Object.freeze(
    c.syslog.map((l, i) => {
      const where = `${source}: syslog.${i}`;
      if (!isValidName(l.topic)) {
        throw new ConfigError(`${where}.topic: '${l.topic}' is not a valid topic name ([a-zA-Z0-9._-]{1,200})`);
      }
      if (l.max_message_bytes > c.limits.max_line_bytes) {
        throw new ConfigError(
          `${where}.max_message_bytes: ${l.max_message_bytes} is above limits.max_line_bytes ` +
            `(${c.limits.max_line_bytes}); a syslog message is one record`,
        );
      }
      let tls: SyslogListenerOptions['tls'];
      if (l.protocol === 'tls') {
        const cert = l.tls?.cert_file ?? c.tls.cert_file;
        const key = l.tls?.key_file ?? c.tls.key_file;
        if (cert === undefined || key === undefined) {
          throw new ConfigError(
            `${where}.tls: protocol tls needs cert_file and key_file (here or in the top-level tls)`,
          );
        }
        tls = Object.freeze({
          certFile: resolve(cert),
          keyFile: resolve(key),
          caFile: l.tls?.ca_file === undefined ? undefined : resolve(l.tls.ca_file),
        });
      } else if (l.tls !== undefined) {
        throw new ConfigError(`${where}.tls: only protocol tls takes TLS settings`);
      }
      const clientCerts = tls?.caFile !== undefined;
      if (!clientCerts && !isLoopback(l.host) && !c.allow_unauthenticated) {
        throw new ConfigError(
          `${where}.host: a syslog listener on ${l.host} would accept records from anyone (syslog has no tokens): ` +
            'listen on 127.0.0.1, use protocol tls with tls.ca_file (client certificates), ' +
            'or set allow_unauthenticated: true if the network is trusted',
        );
      }
      return Object.freeze({
        protocol: l.protocol,
        host: l.host,
        port: l.port,
        topic: l.topic,
        maxMessageBytes: l.max_message_bytes,
        maxConnections: l.max_connections,
        maxPendingBytes: l.max_pending_bytes,
        ...(tls ? { tls } : {}),
      });
    }),
  );
}

/** A host name or address that only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export interface LoadCollectorConfigOptions {
  /** The YAML file; undefined: defaults, environment and flags only. */
  readonly file?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  /** Dotted keys from command-line flags (`listen.port`); undefined values are ignored. */
  readonly flags?: Readonly<Record<string, unknown>>;
}

export interface LoadedCollectorConfig {
  /** The effective configuration as the file would spell it (for --print-config). */
  readonly file: CollectorConfigFile;
  readonly options: CollectorOptions;
  /** What relative paths are relative to: the config file's directory, else the working directory. */
  readonly baseDir: string;
}

export async function loadCollectorConfig(options: LoadCollectorConfigOptions = {}): Promise<LoadedCollectorConfig> {
  const file = await loadConfig({
    schema: Schema,
    file: options.file,
    env: options.env ?? process.env,
    envPrefix: ENV_PREFIX,
    envPaths: ENV_PATHS,
    flags: options.flags ?? {},
  });
  const baseDir = options.file ? path.dirname(path.resolve(options.file)) : process.cwd();
  return { file, options: toCollectorOptions(file, baseDir, options.file ?? 'configuration'), baseDir };
}

/** Validates an in-memory config (for `tributary up` and tests), with the same rules and messages as the file. */
export function parseCollectorConfig(
  raw: unknown,
  baseDir = process.cwd(),
  source = 'collector config',
): LoadedCollectorConfig {
  const file = validateConfig(Schema, raw, source);
  return { file, options: toCollectorOptions(file, baseDir, source), baseDir };
}

/** Keys whose values are durations (ms inside) and sizes (bytes inside): printed the way a config file writes them. */
const DURATION_KEYS = [
  'limits.max_wait',
  'limits.request_timeout',
  'topics.retention',
  'topics.segment_age',
  'topics.flush_interval',
  'retention_check_interval',
  'shutdown_timeout',
];
const SIZE_KEYS = [
  'limits.max_body_bytes',
  'limits.max_decompressed_bytes',
  'limits.max_line_bytes',
  'limits.max_fetch_bytes',
  'topics.retention_bytes',
  'topics.segment_bytes',
  'topics.flush_interval_bytes',
];
/** Keys holding file paths: printed resolved against the config file's directory, as the collector uses them. */
const PATH_KEYS = [
  'data_dir',
  'tls.cert_file',
  'tls.key_file',
  'nats.credentials_file',
  'nats.tls.ca_file',
  'nats.tls.cert_file',
  'nats.tls.key_file',
];

function mapKey(root: Record<string, unknown>, dotted: string, change: (value: unknown) => unknown): void {
  const parts = dotted.split('.');
  let at: Record<string, unknown> | undefined = root;
  for (const part of parts.slice(0, -1)) {
    const next: unknown = at?.[part];
    at = next !== null && typeof next === 'object' ? (next as Record<string, unknown>) : undefined;
  }
  const last = parts.at(-1)!;
  if (at && Object.hasOwn(at, last) && at[last] !== undefined) at[last] = change(at[last]);
}

/**
 * The effective configuration as YAML a config file could hold: every token masked, durations and sizes in units
 * (`60s`, `16MiB`), paths resolved, and `limits.request_timeout` at its effective value when unset.
 */
export function printableConfig(loaded: LoadedCollectorConfig): string {
  const { file, options, baseDir } = loaded;
  const { max_body_bytes: maxBodyBytes, ...otherLimits } = file.limits;
  const printed = structuredClone({
    ...file,
    // Key order as in the schema, whether or not the file set these two.
    limits: {
      max_body_bytes: maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      ...otherLimits,
      request_timeout: file.limits.request_timeout ?? options.limits.requestTimeoutMs,
    },
    tokens: file.tokens.map((t) => ({ ...t, token: maskToken(t.token) })),
    nats: { ...file.nats, ...(file.nats.token === undefined ? {} : { token: maskToken(file.nats.token) }) },
  }) as Record<string, unknown>;
  for (const key of DURATION_KEYS) mapKey(printed, key, (v) => formatDurationMs(v as number | null));
  for (const key of SIZE_KEYS) mapKey(printed, key, (v) => (v === null ? null : formatSizeBytes(v as number)));
  for (const key of PATH_KEYS) mapKey(printed, key, (v) => path.resolve(baseDir, v as string));
  return backendView(printed);
}

/**
 * --print-config shows what the configured backend uses: on JetStream there is no data directory and no segments
 * or flush policy (streams on the NATS servers keep the data), so those keys are left out and a comment says so.
 */
function backendView(config: Record<string, unknown>): string {
  if ((config.storage as { backend?: string } | undefined)?.backend !== 'jetstream') return toYaml(config);
  const { data_dir: _dataDir, ...rest } = config;
  const { segment_bytes, segment_age, flush, flush_interval, flush_interval_bytes, ...topics } =
    config.topics as Record<string, unknown>;
  return (
    '# storage.backend jetstream: data on the NATS servers (nats.servers), one stream per partition with\n' +
    `# storage.replicas copies; data_dir and topics.segment_*/flush* do not apply and are not shown.\n` +
    toYaml({ ...rest, topics })
  );
}

export function maskToken(token: string): string {
  return token.length > 0 ? '********' : '';
}
