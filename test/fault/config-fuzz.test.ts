/**
 * Random configuration through the collector's and the agent's loaders (collector/config.ts, agent/config.ts):
 * whatever the YAML, loading either succeeds or throws ConfigError with a message; never a TypeError, a zod error,
 * a YAML library error or a hang. Three generators, bounded in runs and time:
 * - random text (mostly invalid YAML, plus YAML-ish fragments: anchors, aliases, tags, `${VAR}`), through the file
 *   loaders (`loadCollectorConfig`, `loadAgentConfig`);
 * - random YAML documents (fast-check values stringified), through the same file loaders;
 * - valid configurations with random keys replaced by random values, deleted, or added (`__proto__` included),
 *   through the in-memory parse functions (`parseCollectorConfig`, `parseAgentConfig`).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { loadAgentConfig, parseAgentConfig } from '../../agent/config.ts';
import { loadCollectorConfig, parseCollectorConfig } from '../../collector/config.ts';
import { ConfigError } from '../../shared/errors.ts';

const VALID_COLLECTOR = {
  listen: { host: '127.0.0.1', port: 7070 },
  data_dir: './data',
  tokens: [{ name: 'agent', token: 'produce-token-0123456789abcdef', role: 'produce' }],
  limits: { max_body_bytes: '16MiB', max_wait: '60s' },
  topics: { default_partitions: 2, retention: '7d', flush: 'interval', flush_interval: '1s' },
  log_level: 'info',
};

const VALID_AGENT = {
  sources: [
    {
      name: 'app',
      include: ['logs/*.log'],
      topic: 'app',
      labels: { env: 'prod' },
      parser: 'json',
      multiline: { start_pattern: '^\\S', timeout: '1s' },
    },
  ],
  collector: { urls: ['http://127.0.0.1:7070'], token: 'produce-token-0123456789abcdef', retry: { initial: '100ms' } },
  batch: { max_bytes: '1MiB', compression: 'gzip' },
  memory_limit: '32MiB',
  state_dir: 'state',
  metrics: { listen: '127.0.0.1:9464' },
};

/** Runs `load` and checks the outcome: a value, or a ConfigError with a message. Anything else fails the run. */
async function onlyConfigError(load: () => unknown): Promise<'ok' | 'config_error'> {
  try {
    await load();
    return 'ok';
  } catch (error) {
    if (error instanceof ConfigError && typeof error.message === 'string' && error.message.length > 0) {
      return 'config_error';
    }
    const shown = error instanceof Error ? `${error.name}: ${error.message}\n${error.stack}` : String(error);
    throw new Error(`not a ConfigError: ${shown}`);
  }
}

let dir: string;
test.before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-config-fuzz-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ENV = { HOME: '/root', TOKEN: 'env-token-0123456789abcdef' };

/** YAML-ish text: random characters mixed with the pieces YAML parsers trip on. */
const yamlText = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc
    .array(
      fc.constantFrom(
        'listen:\n',
        '  port: ',
        'sources:\n',
        '  - include: [',
        ']\n',
        'topic: ',
        '&a ',
        '*a ',
        '!!binary ',
        '!!set ',
        '!!timestamp ',
        '!custom ',
        '<<: *a\n',
        '? complex\n',
        '$' + '{TOKEN}',
        '$' + '{UNSET_VARIABLE}',
        '$' + '{X:-default}',
        '"unterminated',
        "'quoted'",
        '|\n  block\n',
        '---\n',
        '...\n',
        '%YAML 1.1\n',
        '\t',
        '\u0000',
        '- ',
        '{',
        '}',
        '[',
        '0x1F',
        '1e400',
        '-0',
        '.nan',
        '~',
        'true',
        '__proto__: ',
        'constructor: ',
        '\n',
        '  ',
      ),
      { maxLength: 40 },
    )
    .map((parts) => parts.join('')),
);

/** A random document: arbitrary values, with keys biased toward real config keys. */
const key = fc.oneof(
  fc.constantFrom(
    ...Object.keys(VALID_COLLECTOR),
    ...Object.keys(VALID_AGENT),
    'port',
    'host',
    'include',
    'topic',
    'urls',
    'token',
    '__proto__',
    'constructor',
    'toString',
  ),
  fc.string({ maxLength: 10 }),
);
const { value: yamlValue } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null)),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 5 }),
  ),
}));

test('config fuzz - random YAML text through both file loaders: a config or a ConfigError, nothing else', async (t) => {
  const file = path.join(dir, 'text.yaml');
  const outcomes = { ok: 0, config_error: 0 };
  const deadline = Date.now() + 25_000;
  await fc.assert(
    fc.asyncProperty(yamlText, async (text) => {
      if (Date.now() > deadline) return;
      await writeFile(file, text);
      outcomes[await onlyConfigError(() => loadCollectorConfig({ file, env: ENV }))]++;
      outcomes[await onlyConfigError(() => loadAgentConfig(file, ENV))]++;
    }),
    { numRuns: 400, endOnFailure: true },
  );
  t.log(`outcomes: ${JSON.stringify(outcomes)}`);
  t.true(outcomes.config_error > 0);
});

test('config fuzz - random YAML documents through both file loaders: a config or a ConfigError, nothing else', async (t) => {
  const file = path.join(dir, 'doc.yaml');
  const outcomes = { ok: 0, config_error: 0 };
  const deadline = Date.now() + 25_000;
  await fc.assert(
    fc.asyncProperty(yamlValue, async (doc) => {
      if (Date.now() > deadline) return;
      await writeFile(file, stringify(doc));
      outcomes[await onlyConfigError(() => loadCollectorConfig({ file, env: ENV }))]++;
      outcomes[await onlyConfigError(() => loadAgentConfig(file, ENV))]++;
    }),
    { numRuns: 400, endOnFailure: true },
  );
  t.log(`outcomes: ${JSON.stringify(outcomes)}`);
  t.true(outcomes.config_error > 0);
});

/** Every path (array of keys/indices) of a plain JSON-like object, leaves and inner nodes. */
function pathsOf(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) out.push(...pathsOf(v, [...prefix, i]));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...prefix, k]));
  }
  return out;
}

type Edit = {
  readonly at: number;
  readonly kind: 'set' | 'delete' | 'add';
  readonly key: string;
  readonly value: unknown;
};

function applyEdits(base: unknown, edits: readonly Edit[]): unknown {
  const doc = structuredClone(base) as Record<string, unknown>;
  for (const edit of edits) {
    const paths = pathsOf(doc);
    const where = paths[edit.at % paths.length]!;
    if (where.length === 0) {
      if (edit.kind === 'add')
        Object.defineProperty(doc, edit.key, {
          value: edit.value,
          enumerable: true,
          configurable: true,
          writable: true,
        });
      continue;
    }
    const parent = where
      .slice(0, -1)
      .reduce<unknown>((node, k) => (node as Record<string | number, unknown>)[k], doc) as Record<
      string | number,
      unknown
    >;
    const last = where[where.length - 1]!;
    if (edit.kind === 'set') parent[last] = edit.value;
    else if (edit.kind === 'delete') delete parent[last];
    else if (parent[last] !== null && typeof parent[last] === 'object' && !Array.isArray(parent[last])) {
      // defineProperty so that '__proto__' becomes an own key, as YAML parsing makes it.
      Object.defineProperty(parent[last], edit.key, {
        value: edit.value,
        enumerable: true,
        configurable: true,
        writable: true,
      });
    }
  }
  return doc;
}

const edits = fc.array(
  fc.record({
    at: fc.nat(),
    kind: fc.constantFrom('set', 'delete', 'add'),
    key,
    value: yamlValue,
  }) as fc.Arbitrary<Edit>,
  { minLength: 1, maxLength: 4 },
);

test('config fuzz - valid configs with random keys replaced, deleted or added, through both parse functions', async (t) => {
  t.notThrows(() => parseCollectorConfig(VALID_COLLECTOR, dir), 'the base collector config is valid');
  t.notThrows(() => parseAgentConfig(VALID_AGENT, dir), 'the base agent config is valid');
  const outcomes = { ok: 0, config_error: 0 };
  const deadline = Date.now() + 25_000;
  await fc.assert(
    fc.asyncProperty(edits, edits, async (collectorEdits, agentEdits) => {
      if (Date.now() > deadline) return;
      const c = applyEdits(VALID_COLLECTOR, collectorEdits);
      const a = applyEdits(VALID_AGENT, agentEdits);
      outcomes[await onlyConfigError(() => parseCollectorConfig(c, dir))]++;
      outcomes[await onlyConfigError(() => parseAgentConfig(a, dir))]++;
    }),
    { numRuns: 1000, endOnFailure: true },
  );
  t.log(`outcomes: ${JSON.stringify(outcomes)}`);
  t.true(outcomes.ok > 0 && outcomes.config_error > 0, 'both outcomes occur');
});
