/**
 * The agent's configuration: one table of keys (the schema below, with defaults), parsed once at the edge into a
 * frozen `AgentOptions`. YAML keys are snake_case; an invalid key is reported by its path and value, e.g.
 * `agent.yaml: sources.0.topic: invalid topic name…, got "a/b"`. Durations and sizes use shared/config-file.ts's
 * units (`250ms`, `5s`; `512KiB`, `1MiB`). Relative paths (globs, state_dir) are resolved against the directory of
 * the config file.
 *
 * docs/agent.md is the reference for every key; keep the two in step.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import {
  applyOverrides,
  durationSchema,
  envOverrides,
  interpolateEnv,
  readYamlFile,
  sizeSchema,
  validateConfig,
} from '../shared/config-file.ts';
import { ConfigError } from '../shared/errors.ts';
import { isValidName } from '../shared/names.ts';
import type { Labels } from '../shared/record.ts';
import type { ContainerFormat } from './frame/container-log.ts';
import type { JournaldOptions } from './sources/journald.ts';
import type { ParserKind } from './frame/parse.ts';

const duration = (min = 0) => durationSchema(min);
const size = (min: number, max = Number.MAX_SAFE_INTEGER) => sizeSchema(min, max);

const topicName = z.string().refine(isValidName, {
  message: "invalid topic name: use 1-200 characters of A-Z a-z 0-9 '.' '_' '-'",
});

const labelName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/, 'label names are [a-zA-Z_][a-zA-Z0-9_]*');

const regex = z.string().transform((v, ctx) => {
  try {
    return new RegExp(v);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${(error as Error).message}` });
    return z.NEVER;
  }
});

const listen = z.string().transform((v, ctx) => {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) {
    ctx.addIssue({ code: 'custom', message: `expected host:port like 127.0.0.1:9464, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
});

const SourceSchema = z.strictObject({
  name: z.string().min(1).optional(),
  include: z.array(z.string().min(1)).min(1),
  exclude: z.array(z.string().min(1)).default([]),
  topic: topicName,
  service: z.string().min(1).optional(),
  labels: z.record(labelName, z.string()).default({}),
  parser: z.enum(['none', 'json', 'logfmt']).default('none'),
  /** Container runtime log format (agent/frame/container-log.ts): strips the runtime's prefix, joins split lines. */
  format: z.enum(['none', 'cri', 'docker', 'auto']).default('none'),
  timestamp_field: z.string().min(1).optional(),
  multiline: z
    .strictObject({
      start_pattern: regex,
      timeout: duration(1).default(1000),
      max_bytes: size(1, 64 * 1024 * 1024).default(1024 * 1024),
    })
    .optional(),
  max_line_bytes: size(1, 16 * 1024 * 1024).default(1024 * 1024),
});

/** The journald source (agent/sources/journald.ts; docs/sources.md). */
const JournaldSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'names are 1-64 characters of A-Z a-z 0-9 . _ -')
    .default('journal'),
  topic: topicName,
  service: z.string().min(1).optional(),
  units: z.array(z.string().min(1)).default([]),
  exclude_units: z.array(z.string().min(1)).default([]),
  /** journalctl match arguments: FIELD=value, or + between groups. */
  matches: z
    .array(z.string().regex(/^([A-Z0-9_]+=.*|\+)$/s, 'a match is FIELD=value (FIELD in capitals) or +'))
    .default([]),
  directory: z.string().min(1).optional(),
  labels: z.record(labelName, z.string()).default({}),
  max_line_bytes: size(1, 16 * 1024 * 1024).default(1024 * 1024),
  journalctl: z.string().min(1).default('journalctl'),
});

const Schema = z.strictObject({
  host: z.string().min(1).optional(),
  sources: z.array(SourceSchema).default([]),
  journald: z.array(JournaldSchema).default([]),
  collector: z.strictObject({
    // nats:// or tls:// URLs select the NATS transport (agent/ship/nats-transport.ts; added by the NATS engineer).
    urls: z.array(z.url({ protocol: /^(https?|nats|tls)$/ })).min(1),
    nats: z
      .strictObject({
        credentials_file: z.string().min(1).optional(),
        token: z.string().min(1).optional(),
        user: z.string().min(1).optional(),
        password: z.string().min(1).optional(),
        tls: z
          .strictObject({
            ca_file: z.string().min(1).optional(),
            cert_file: z.string().min(1).optional(),
            key_file: z.string().min(1).optional(),
          })
          .optional(),
      })
      .optional(),
    token: z.string().min(1).optional(),
    timeout: duration(1).default(30_000),
    max_request_bytes: size(1024, 64 * 1024 * 1024).default(4 * 1024 * 1024),
    max_request_lines: z.number().int().min(1).default(100_000),
    retry: z
      .strictObject({ initial: duration(1).default(100), max: duration(1).default(30_000) })
      .default({ initial: 100, max: 30_000 }),
  }),
  batch: z
    .strictObject({
      max_bytes: size(1024, 32 * 1024 * 1024).default(1024 * 1024),
      max_records: z.number().int().min(1).default(10_000),
      max_wait: duration(1).default(200),
      compression: z.enum(['gzip', 'none']).default('gzip'),
    })
    .default({ max_bytes: 1024 * 1024, max_records: 10_000, max_wait: 200, compression: 'gzip' }),
  memory_limit: size(64 * 1024).default(32 * 1024 * 1024),
  state_dir: z.string().min(1),
  metrics: z.strictObject({ listen: listen.optional() }).default({ listen: { host: '127.0.0.1', port: 9464 } }),
  start_position: z.enum(['beginning', 'end']).default('beginning'),
  discovery: z
    .strictObject({ poll: z.boolean().default(false), poll_interval: duration(10).default(1000) })
    .default({ poll: false, poll_interval: 1000 }),
  read: z
    .strictObject({
      poll_interval: duration(1).default(250),
      rotate_wait: duration(0).default(5000),
      retry_open: duration(10).default(10_000),
      chunk_bytes: size(4096, 16 * 1024 * 1024).default(256 * 1024),
      rotated_outside_globs: z.boolean().default(true),
    })
    .default({
      poll_interval: 250,
      rotate_wait: 5000,
      retry_open: 10_000,
      chunk_bytes: 256 * 1024,
      rotated_outside_globs: true,
    }),
  checkpoint: z
    .strictObject({ interval: duration(10).default(1000), retention: duration(0).default(86_400_000) })
    .default({ interval: 1000, retention: 86_400_000 }),
  shutdown_timeout: duration(0).default(10_000),
});

export interface SourceOptions {
  readonly name: string;
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  readonly topic: string;
  /** host, service (if set), then user labels; `path` is added per file. */
  readonly labels: Labels;
  readonly parser: ParserKind;
  /** 'none': plain lines; otherwise the container runtime's format (namespace/pod/container labels from the path). */
  readonly format: ContainerFormat | 'none';
  readonly timestampField: string | undefined;
  readonly multiline:
    | { readonly startPattern: RegExp; readonly timeoutMs: number; readonly maxBytes: number }
    | undefined;
  readonly maxLineBytes: number;
}

export interface AgentOptions {
  readonly host: string;
  readonly sources: readonly SourceOptions[];
  /** journald sources (agent/sources/journald.ts); optional so hand-built options stay valid. */
  readonly journald?: readonly JournaldOptions[];
  readonly collector: {
    readonly urls: readonly string[];
    readonly token: string | undefined;
    readonly timeoutMs: number;
    readonly maxRequestBytes: number;
    readonly maxRequestLines: number;
    readonly retry: { readonly initialMs: number; readonly maxMs: number };
    /** NATS connection settings when the URLs are nats:// (paths as written in the config). */
    readonly nats?: {
      readonly credentialsFile?: string | undefined;
      readonly token?: string | undefined;
      readonly user?: string | undefined;
      readonly password?: string | undefined;
      readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string } | undefined;
    };
  };
  readonly batch: {
    readonly maxBytes: number;
    readonly maxRecords: number;
    readonly maxWaitMs: number;
    readonly compression: 'gzip' | 'none';
  };
  readonly memoryLimitBytes: number;
  readonly stateDir: string;
  /** undefined: no metrics endpoint. */
  readonly metricsListen: { readonly host: string; readonly port: number } | undefined;
  readonly startPosition: 'beginning' | 'end';
  readonly discovery: { readonly poll: boolean; readonly pollIntervalMs: number };
  readonly read: {
    readonly pollIntervalMs: number;
    readonly rotateWaitMs: number;
    readonly retryOpenMs: number;
    readonly chunkBytes: number;
    /**
     * After a restart or a truncation, look in a file's directory (any name, glob or not) for the rotated file or
     * the copytruncate copy that holds lines not yet acknowledged.
     */
    readonly rotatedOutsideGlobs: boolean;
  };
  readonly checkpoint: { readonly intervalMs: number; readonly retentionMs: number };
  readonly shutdownTimeoutMs: number;
}

/**
 * Validates a parsed YAML document. `baseDir` anchors relative paths (the config file's directory). Throws
 * ConfigError naming every invalid key.
 */
export function parseAgentConfig(raw: unknown, baseDir: string, source = 'agent config'): AgentOptions {
  const c = validateConfig(Schema, raw, source);
  const host = c.host ?? os.hostname();
  const resolve = (p: string) => (path.isAbsolute(p) ? p : path.resolve(baseDir, p));
  const sources = c.sources.map((s, i): SourceOptions => {
    const labels: Record<string, string> = { host };
    const service = s.service ?? s.name;
    if (service) labels.service = service;
    for (const [k, v] of Object.entries(s.labels)) {
      if (k === 'path')
        throw new ConfigError(`${source}: sources.${i}.labels.path: 'path' is set per file by the agent; remove it`);
      labels[k] = v;
    }
    return Object.freeze({
      name: s.name ?? `source-${i}`,
      include: Object.freeze(s.include.map(resolve)),
      exclude: Object.freeze(s.exclude.map(resolve)),
      topic: s.topic,
      labels: Object.freeze(labels),
      parser: s.parser,
      format: s.format,
      timestampField: s.timestamp_field,
      multiline: s.multiline
        ? { startPattern: s.multiline.start_pattern, timeoutMs: s.multiline.timeout, maxBytes: s.multiline.max_bytes }
        : undefined,
      maxLineBytes: s.max_line_bytes,
    });
  });
  if (sources.length === 0 && c.journald.length === 0) {
    throw new ConfigError(`${source}: sources: configure at least one file source (sources) or journald source`);
  }
  const journaldNames = new Set<string>();
  const journald = c.journald.map((j, i): JournaldOptions => {
    if (journaldNames.has(j.name)) {
      throw new ConfigError(`${source}: journald.${i}.name: '${j.name}' is used twice (it names the cursor file)`);
    }
    journaldNames.add(j.name);
    const labels: Record<string, string> = { host };
    if (j.service) labels.service = j.service;
    Object.assign(labels, j.labels);
    return Object.freeze({
      name: j.name,
      topic: j.topic,
      units: Object.freeze([...j.units]),
      excludeUnits: Object.freeze([...j.exclude_units]),
      matches: Object.freeze([...j.matches]),
      directory: j.directory === undefined ? undefined : resolve(j.directory),
      labels: Object.freeze(labels),
      maxLineBytes: j.max_line_bytes,
      journalctl: j.journalctl,
    });
  });
  if (c.collector.retry.max < c.collector.retry.initial) {
    throw new ConfigError(`${source}: collector.retry.max: must be at least collector.retry.initial`);
  }
  return Object.freeze({
    host,
    sources: Object.freeze(sources),
    journald: Object.freeze(journald),
    collector: Object.freeze({
      urls: Object.freeze([...c.collector.urls]),
      token: c.collector.token,
      timeoutMs: c.collector.timeout,
      maxRequestBytes: c.collector.max_request_bytes,
      maxRequestLines: c.collector.max_request_lines,
      retry: { initialMs: c.collector.retry.initial, maxMs: c.collector.retry.max },
      ...(c.collector.nats
        ? {
            nats: Object.freeze({
              credentialsFile: c.collector.nats.credentials_file,
              token: c.collector.nats.token,
              user: c.collector.nats.user,
              password: c.collector.nats.password,
              tls: c.collector.nats.tls && {
                ...(c.collector.nats.tls.ca_file ? { caFile: c.collector.nats.tls.ca_file } : {}),
                ...(c.collector.nats.tls.cert_file ? { certFile: c.collector.nats.tls.cert_file } : {}),
                ...(c.collector.nats.tls.key_file ? { keyFile: c.collector.nats.tls.key_file } : {}),
              },
            }),
          }
        : {}),
    }),
    batch: Object.freeze({
      maxBytes: c.batch.max_bytes,
      maxRecords: c.batch.max_records,
      maxWaitMs: c.batch.max_wait,
      compression: c.batch.compression,
    }),
    memoryLimitBytes: c.memory_limit,
    stateDir: resolve(c.state_dir),
    metricsListen: c.metrics.listen,
    startPosition: c.start_position,
    discovery: Object.freeze({ poll: c.discovery.poll, pollIntervalMs: c.discovery.poll_interval }),
    read: Object.freeze({
      pollIntervalMs: c.read.poll_interval,
      rotateWaitMs: c.read.rotate_wait,
      retryOpenMs: c.read.retry_open,
      chunkBytes: c.read.chunk_bytes,
      rotatedOutsideGlobs: c.read.rotated_outside_globs,
    }),
    checkpoint: Object.freeze({ intervalMs: c.checkpoint.interval, retentionMs: c.checkpoint.retention }),
    shutdownTimeoutMs: c.shutdown_timeout,
  });
}

/** Keys an environment variable may override: `TRIBUTARY_AGENT_COLLECTOR_TOKEN` sets `collector.token`. */
export const AGENT_ENV_PREFIX = 'TRIBUTARY_AGENT_';
export const AGENT_ENV_PATHS = [
  'host',
  'collector.token',
  'state_dir',
  'memory_limit',
  'start_position',
  'metrics.listen',
];

/**
 * Reads a YAML config file through shared/config-file.ts: `${NAME}` / `${NAME:-default}` replaced in string values,
 * then `TRIBUTARY_AGENT_…` overrides for AGENT_ENV_PATHS, then validation naming every bad key.
 */
export async function loadAgentConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<AgentOptions> {
  let raw = interpolateEnv(await readYamlFile(file), env, file);
  raw = applyOverrides(raw, envOverrides(env, AGENT_ENV_PREFIX, AGENT_ENV_PATHS));
  return parseAgentConfig(raw, path.dirname(path.resolve(file)), file);
}
