/**
 * Configuration loading shared by the collector and the agent: one YAML file, then environment overrides, then
 * command-line flags, validated by the side's zod schema into one typed object.
 *
 * Order of precedence (later wins): schema defaults < YAML file < `TRIBUTARY_…` environment overrides < flags.
 *
 * - `${NAME}` and `${NAME:-default}` are replaced in string values *after* YAML parsing, so a variable can never
 *   inject YAML structure and comments are left alone. A variable that is unset (or empty) without a default is an
 *   error naming it.
 * - Environment overrides are derived from the list of leaf keys a side declares: `listen.port` is
 *   `TRIBUTARY_LISTEN_PORT` with prefix `TRIBUTARY_` (dots and dashes become `_`, upper case). Values are read as
 *   YAML scalars, so `7070` is a number and `true` a boolean.
 * - Every zod issue becomes one line of one ConfigError, naming the key path and the value found:
 *   `collector.yaml: listen.port: expected a number from 1 to 65535, got "abc"`.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors.ts';

export type ConfigPath = string;

/** Reads and parses a YAML file; an empty file is an empty object. */
export async function readYamlFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the config file ${file}: ${(error as Error).message}`, { cause: error });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`${file} is not valid YAML: ${(error as Error).message}`, { cause: error });
  }
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`${file}: the top level must be a mapping of keys to values, got ${describeValue(raw)}`);
  }
  return raw;
}

const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${NAME}` / `${NAME:-default}` in every string value (not in keys). Throws ConfigError listing every
 * variable that is needed but unset.
 */
export function interpolateEnv(raw: unknown, env: NodeJS.ProcessEnv, source: string): unknown {
  const missing = new Set<string>();
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') {
      return value.replace(VARIABLE, (_m, name: string, fallback?: string) => {
        const v = env[name];
        if (v !== undefined && v !== '') return v;
        if (fallback !== undefined) return fallback;
        missing.add(name);
        return '';
      });
    }
    if (Array.isArray(value)) return value.map(walk);
    if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  const out = walk(raw);
  if (missing.size > 0) {
    throw new ConfigError(
      `${source} uses environment variables that are not set: ${[...missing].join(', ')} ` +
        '(set them, or give a default with $' +
        '{NAME:-default})',
    );
  }
  return out;
}

/** The environment variable that overrides a key: `listen.port` -> `TRIBUTARY_LISTEN_PORT`. */
export function envNameFor(prefix: string, path: ConfigPath): string {
  return `${prefix}${path.replace(/[.-]/g, '_').toUpperCase()}`;
}

/** Reads an environment value as a YAML scalar: numbers and booleans typed, everything else a string. */
function parseScalar(text: string): unknown {
  try {
    const v: unknown = parseYaml(text);
    if (typeof v === 'number' || typeof v === 'boolean') return v;
    if (Array.isArray(v) || isPlainObject(v)) return v;
  } catch {
    // Not YAML: it is a plain string.
  }
  return text;
}

/**
 * Collects the overrides for the given leaf keys from the environment: `{ 'listen.port': 8080 }`. Only declared
 * keys are read, so an unrelated `TRIBUTARY_*` variable is never mistaken for configuration.
 */
export function envOverrides(
  env: NodeJS.ProcessEnv,
  prefix: string,
  paths: readonly ConfigPath[],
): Record<ConfigPath, unknown> {
  const out: Record<ConfigPath, unknown> = {};
  for (const path of paths) {
    const v = env[envNameFor(prefix, path)];
    if (v !== undefined && v !== '') out[path] = parseScalar(v);
  }
  return out;
}

/**
 * Returns a copy of `raw` with each dotted key set to its value (creating intermediate objects). `undefined`
 * values are skipped, so a commander options object can be passed as is.
 */
export function applyOverrides(raw: unknown, overrides: Readonly<Record<ConfigPath, unknown>>): unknown {
  const root: Record<string, unknown> = isPlainObject(raw) ? structuredClone(raw) : {};
  for (const [path, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    const parts = path.split('.');
    let node = root;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      if (!isPlainObject(next)) node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    node[parts[parts.length - 1]!] = value;
  }
  return root;
}

/** Validates `raw` with `schema`; on failure throws one ConfigError with a line per issue. */
export function validateConfig<S extends z.ZodType>(schema: S, raw: unknown, source: string): z.output<S> {
  const parsed = schema.safeParse(raw, { reportInput: true });
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => `${source}: ${describeIssue(issue, raw)}`);
  throw new ConfigError(lines.length === 1 ? lines[0]! : `invalid configuration:\n  ${lines.join('\n  ')}`);
}

export interface LoadConfigOptions<S extends z.ZodType> {
  readonly schema: S;
  /** The YAML file; undefined means defaults only. */
  readonly file?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  /** `TRIBUTARY_` for the collector, for example. */
  readonly envPrefix?: string;
  /** Leaf keys that may be overridden from the environment. */
  readonly envPaths?: readonly ConfigPath[];
  /** Dotted keys from flags; undefined values are ignored. */
  readonly flags?: Readonly<Record<ConfigPath, unknown>>;
}

/** The whole pipeline: file -> interpolation -> env overrides -> flags -> validation. */
export async function loadConfig<S extends z.ZodType>(options: LoadConfigOptions<S>): Promise<z.output<S>> {
  const env = options.env ?? process.env;
  const source = options.file ?? 'configuration';
  let raw: unknown = options.file === undefined ? {} : await readYamlFile(options.file);
  raw = interpolateEnv(raw, env, source);
  if (options.envPrefix && options.envPaths) {
    raw = applyOverrides(raw, envOverrides(env, options.envPrefix, options.envPaths));
  }
  if (options.flags) raw = applyOverrides(raw, options.flags);
  return validateConfig(options.schema, raw, source);
}

// ---------------------------------------------------------------------------------------------------------------

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let node = raw;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const where = path ? `${path}.` : '';
    return issue.keys.map((k) => `${where}${k}: unknown key (check its spelling against the documentation)`).join('; ');
  }
  const value = 'input' in issue ? issue.input : valueAt(raw, issue.path);
  const message = issue.message.replace(/^Invalid input: /, '');
  const key = path || '(top level)';
  if (value === undefined) return `${key}: is required (${message.replace(/, received undefined$/, '')})`;
  if (/\bgot\b/.test(message)) return `${key}: ${message}`;
  return `${key}: ${message}, got ${describeValue(value)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Units: durations (`250ms`, `5s`, `2m`, `1h`, `7d`, or a number of ms) and sizes (`512KiB`, `1MiB`, `64MB`, or a
// number of bytes), as zod schemas whose output is a plain number.

const MS_PER_UNIT: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const BYTES_PER_UNIT: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1000,
  kib: 1024,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

export function parseDurationMs(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(value);
  if (!m) return undefined;
  const ms = Math.round(Number(m[1]) * MS_PER_UNIT[(m[2] ?? 'ms').toLowerCase()]!);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

export function parseSizeBytes(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$/i.exec(value);
  if (!m) return undefined;
  const bytes = Math.floor(Number(m[1]) * BYTES_PER_UNIT[(m[2] ?? 'b').toLowerCase()]!);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** A duration as the config files write it (`7d`, `90s`, `250ms`; null: `forever`); parseDurationMs reads it back. */
export function formatDurationMs(ms: number | null): string {
  if (ms === null) return 'forever';
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** A size as the config files write it, exactly (`16MiB`, `1000B`); parseSizeBytes reads it back. */
export function formatSizeBytes(bytes: number): string {
  for (const [unit, size] of [
    ['TiB', 1024 ** 4],
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}

/** A duration in ms, at least `min`. */
export function durationSchema(min = 0, max = Number.MAX_SAFE_INTEGER) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    const ms = parseDurationMs(v);
    if (ms === undefined || ms < min || ms > max) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a duration from ${min}ms to ${max}ms like 500ms, 5s, 2m, 1h, 7d, got ${JSON.stringify(v)}`,
      });
      return z.NEVER;
    }
    return ms;
  });
}

/** A size in bytes from `min` to `max`. */
export function sizeSchema(min = 0, max = Number.MAX_SAFE_INTEGER) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    const bytes = parseSizeBytes(v);
    if (bytes === undefined || bytes < min || bytes > max) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a size from ${min} to ${max} bytes like 512KiB, 16MiB, 1GB, got ${JSON.stringify(v)}`,
      });
      return z.NEVER;
    }
    return bytes;
  });
}
