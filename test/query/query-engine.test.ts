import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import { matchesLabels, parseMatcher } from '../../shared/query/matchers.ts';
import { MAX_SKEW_MS, type QueryHit, type QueryRequest, runQuery } from '../../collector/query/query-engine.ts';
import { FileLogStore } from '../../collector/storage/file/index.ts';
import { encodeBatch } from '../../shared/batch-codec.ts';
import { partitionForKey } from '../../shared/partitioner.ts';

const HOSTS = ['web-1', 'web-2', 'db-1'];
const SERVICES = ['api', 'auth', 'billing'];
const WORDS = ['GET /health', 'POST /login', 'ERROR timeout', 'warn slow query', 'Error: disk', 'ok'];
const T0 = 1_764_000_000_000;

interface Stored {
  partition: number;
  offset: number;
  timestamp: number;
  labels: Record<string, string>;
  value: string;
}

/**
 * Fills a 3-partition topic with small segments. With `disorder`, timestamps go back by up to 40 s now and then
 * (several sources in one partition), which is inside MAX_SKEW_MS.
 */
async function fixture(seed: number, disorder = false) {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-query-'));
  const store = await FileLogStore.open({ dataDir: dir, retentionCheckIntervalMs: 0 });
  await store.createTopic('logs', { partitions: 3, segmentBytes: 8192 });
  let rand = seed;
  const next = (n: number) => {
    rand = (rand * 1103515245 + 12345) % 2 ** 31;
    return rand % n;
  };
  const all: Stored[] = [];
  for (let b = 0; b < 200; b++) {
    const host = HOSTS[next(3)]!;
    const service = SERVICES[next(3)]!;
    const key = `${host}:/var/log/${service}.log`;
    const labels = { host, service };
    const records = Array.from({ length: 1 + next(12) }, (_, i) => ({
      timestamp: T0 + b * 1000 + i * 10 - (disorder ? next(3) * 20_000 : 0),
      value: Buffer.from(`${WORDS[next(WORDS.length)]} #${b}-${i} `.padEnd(60, '.')),
    }));
    const partition = partitionForKey(key, 3);
    const result = await store.appendChecked('logs', partition, [encodeBatch({ key, labels, records })]);
    records.forEach((r, i) => {
      all.push({ partition, offset: result.baseOffset + i, timestamp: r.timestamp, labels, value: r.value.toString() });
    });
  }
  return { store, all, cleanup: () => store.close().then(() => rm(dir, { recursive: true, force: true })) };
}

function bruteForce(all: Stored[], q: Omit<QueryRequest, 'topic'>): string[] {
  // The plain definition of a text match, independent of the engine's byte-level prefilters.
  const flags = q.ignoreCase ? 'i' : '';
  const grep = q.grep === undefined ? undefined : new RegExp(q.grep.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), flags);
  const regex = q.regex === undefined ? undefined : new RegExp(q.regex, flags);
  const hits = all.filter(
    (r) =>
      (q.since === undefined || r.timestamp >= q.since) &&
      (q.until === undefined || r.timestamp < q.until) &&
      matchesLabels(r.labels, q.matchers ?? []) &&
      (grep === undefined || grep.test(r.value)) &&
      (regex === undefined || regex.test(r.value)),
  );
  hits.sort((a, b) =>
    q.order === 'oldest'
      ? a.timestamp - b.timestamp || a.partition - b.partition || a.offset - b.offset
      : b.timestamp - a.timestamp || a.partition - b.partition || b.offset - a.offset,
  );
  return hits.slice(0, q.limit).map((r) => `${r.partition}/${r.offset}`);
}

async function collectAll(store: FileLogStore, q: QueryRequest) {
  const hits: QueryHit[] = [];
  const gen = runQuery(store, q);
  let step = await gen.next();
  while (!step.done) {
    hits.push(step.value);
    step = await gen.next();
  }
  return { hits, summary: step.value };
}

const key = (h: QueryHit) => `${h.partition}/${h.offset}`;

test('query - results equal a brute-force scan across partitions and segments', async (t) => {
  const { store, all, cleanup } = await fixture(7);
  t.teardown(cleanup);
  t.true(
    (await store.describeTopic('logs')).partitions.some((p) => (p.segmentCount ?? 0) > 3),
    'several segments',
  );
  const matcherTexts = ['host=web-1', 'host!=web-1', 'service=~"a.*"', 'service!~auth|api', 'missing!=x'];
  await t.notThrowsAsync(
    fc.assert(
      fc.asyncProperty(
        fc.record({
          since: fc.option(fc.integer({ min: T0 - 30_000, max: T0 + 130_000 }), { nil: undefined }),
          span: fc.option(fc.integer({ min: 1, max: 150_000 }), { nil: undefined }),
          matchers: fc.subarray(matcherTexts, { maxLength: 2 }),
          grep: fc.option(fc.constantFrom('GET', 'rror', 'slow'), { nil: undefined }),
          regex: fc.option(
            fc.constantFrom(
              '^(GET|POST) ',
              'error|warn',
              '#1\\d-',
              'ERROR timeout|slow query',
              'Error: d?isk',
              '/lo+gin',
            ),
            { nil: undefined },
          ),
          ignoreCase: fc.boolean(),
          limit: fc.integer({ min: 1, max: 400 }),
          order: fc.constantFrom('newest' as const, 'oldest' as const),
        }),
        async (p) => {
          const q: QueryRequest = {
            topic: 'logs',
            limit: p.limit,
            order: p.order,
            matchers: p.matchers.map(parseMatcher),
            ignoreCase: p.ignoreCase,
            ...(p.since !== undefined ? { since: p.since } : {}),
            ...(p.since !== undefined && p.span !== undefined ? { until: p.since + p.span } : {}),
            ...(p.grep ? { grep: p.grep } : {}),
            ...(p.regex ? { regex: p.regex } : {}),
          };
          const { hits } = await collectAll(store, q);
          const expected = bruteForce(all, q);
          // Equal timestamps may come in either order across partitions; the set and the count must match,
          // and the order by timestamp must hold.
          const ordered = hits.every((h, i) =>
            i === 0
              ? true
              : p.order === 'oldest'
                ? h.timestamp >= hits[i - 1]!.timestamp
                : h.timestamp <= hits[i - 1]!.timestamp,
          );
          // Thrown, not returned: fast-check then reports the difference with the counterexample.
          assert.equal(hits.length, expected.length, 'as many hits as a brute-force scan');
          assert.ok(ordered, `hits in ${p.order === 'oldest' ? 'ascending' : 'descending'} timestamp order`);
          if (hits.length < p.limit) {
            assert.deepEqual(hits.map(key).sort(), [...expected].sort());
            return;
          }
          // At the limit, ties at the boundary timestamp may be chosen differently: compare all but the boundary.
          const edge = hits.at(-1)!.timestamp;
          const inner = (list: string[], ts: (k: string) => number) => list.filter((k) => ts(k) !== edge);
          const tsOf = new Map(all.map((r) => [`${r.partition}/${r.offset}`, r.timestamp]));
          assert.deepEqual(
            inner(hits.map(key), (k) => tsOf.get(k)!).sort(),
            inner(expected, (k) => tsOf.get(k)!).sort(),
          );
        },
      ),
      { numRuns: 120 },
    ),
  );
  t.true(MAX_SKEW_MS >= 60_000, 'the fixture disorder (40 s) is within the allowed skew');
});

test('query - with timestamps out of order, every matching record is still found', async (t) => {
  const { store, all, cleanup } = await fixture(9, true);
  t.teardown(cleanup);
  for (const order of ['oldest', 'newest'] as const) {
    for (const [since, until] of [
      [undefined, undefined],
      [T0 + 20_000, T0 + 90_000],
      [T0 - 50_000, T0 + 10_000],
    ] as const) {
      const q: QueryRequest = {
        topic: 'logs',
        limit: 100_000,
        order,
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
      };
      const { hits } = await collectAll(store, q);
      t.deepEqual(hits.map(key).sort(), bruteForce(all, q).sort(), `${order} ${since}..${until}`);
    }
  }
});

test('query - a scan budget gives a partial result whose cursor resumes to the same total', async (t) => {
  const { store, all, cleanup } = await fixture(11);
  t.teardown(cleanup);
  for (const order of ['oldest', 'newest'] as const) {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    let partials = 0;
    do {
      const { hits, summary } = await collectAll(store, {
        topic: 'logs',
        limit: 10_000,
        order,
        maxScanBytes: 6000,
        ...(cursor ? { cursor } : {}),
      });
      seen.push(...hits.map(key));
      if (summary.partial) partials++;
      cursor = summary.cursor;
      pages++;
    } while (cursor && pages < 500);
    t.true(partials > 1, `${order}: the budget cut the scan`);
    t.is(seen.length, all.length, `${order}: every record once`);
    t.is(new Set(seen).size, all.length);
  }
});

test('query - limit pages with the cursor, newest first, without repeats', async (t) => {
  const { store, all, cleanup } = await fixture(3);
  t.teardown(cleanup);
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 200; page++) {
    const { hits, summary } = await collectAll(store, {
      topic: 'logs',
      limit: 50,
      order: 'newest',
      ...(cursor ? { cursor } : {}),
    });
    seen.push(...hits.map(key));
    cursor = summary.cursor;
    if (!cursor) break;
  }
  t.is(new Set(seen).size, seen.length);
  t.is(seen.length, all.length);
});

test('query - bad matchers, regexes and cursors are clear errors', async (t) => {
  const { store, cleanup } = await fixture(5);
  t.teardown(cleanup);
  t.throws(() => parseMatcher('host'), { message: /name=value/ });
  t.throws(() => parseMatcher('host=~"("'), { message: /not a valid regular expression/ });
  await t.throwsAsync(collectAll(store, { topic: 'logs', limit: 1, order: 'oldest', cursor: 'nonsense' }), {
    message: /cursor/,
  });
  await t.throwsAsync(collectAll(store, { topic: 'logs', limit: 0, order: 'oldest' }), { message: /limit/ });
});
