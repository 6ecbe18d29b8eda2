/**
 * `GET /v1/topics/{topic}/query` — search a topic (collector/query/query-engine.ts), streamed as NDJSON: one record
 * per line, in the order asked for, then one summary line `{"summary": {...}}` with `partial` and `cursor`.
 * `GET /v1/topics/{topic}/tail` — new matching records as NDJSON, as they are appended, until the client leaves.
 * Both need the read role. Parameters are checked before the first byte is sent, so a bad one is a 400.
 */
import { Readable } from 'node:stream';
import { InvalidArgumentError } from '../../../shared/errors.ts';
import { assertValidName } from '../../../shared/names.ts';
import { toWireRecord } from '../../../shared/record.ts';
import { parseTimeSpec } from '../../../shared/time-spec.ts';
import { compileLineFilter } from '../../../shared/query/line-filter.ts';
import { FIELD_PREFIX, type LabelMatcher, parseMatcher } from '../../../shared/query/matchers.ts';
import { followQuery, type QueryHit, type QueryRequest, runQuery } from '../../query/query-engine.ts';
import type { RouteModule } from '../context.ts';
import { intParam } from '../query-params.ts';

export interface QueryString {
  since?: string;
  until?: string;
  where?: string | string[];
  grep?: string;
  regex?: string;
  ignore_case?: string;
  limit?: string;
  order?: string;
  cursor?: string;
  max_scan_bytes?: string;
  max_scan_ms?: string;
}

const MAX_LIMIT = 100_000;
const MAX_MATCHERS = 32;
/** A query that takes this long, or stops at its scan budget, is logged (warn) with its duration and bytes. */
const SLOW_QUERY_MS = 1000;

/** The note for a matcher name no scanned batch had: what happened, and the likely fix. */
export function missingNameNote(name: string): string {
  if (name.startsWith(FIELD_PREFIX)) {
    return `no scanned record has the field '${name.slice(FIELD_PREFIX.length)}' (records without it compare as ""); fields come from the agent's parser (json, logfmt)`;
  }
  return `no scanned batch has the label '${name}' (records without it compare as ""); for a field parsed from the line, write field.${name}`;
}

export function hitToJson(hit: QueryHit): Record<string, unknown> {
  return { partition: hit.partition, ...toWireRecord(hit) };
}

/** The filters shared by query, tail and the aggregate routes (volume): time range, matchers, text. */
export function parseFilters(query: QueryString): Omit<QueryRequest, 'topic' | 'limit' | 'order'> {
  const where = query.where === undefined ? [] : Array.isArray(query.where) ? query.where : [query.where];
  if (where.length > MAX_MATCHERS) throw new InvalidArgumentError(`at most ${MAX_MATCHERS} label matchers`);
  const matchers: LabelMatcher[] = where.map(parseMatcher);
  const ignoreCase = query.ignore_case === 'true' || query.ignore_case === '1';
  const spec = {
    ...(query.grep ? { grep: query.grep } : {}),
    ...(query.regex ? { regex: query.regex } : {}),
    ignoreCase,
  };
  compileLineFilter(spec); // a bad regex is a 400 now, not an error mid-stream
  return {
    ...spec,
    matchers,
    ...(query.since ? { since: parseTimeSpec(query.since, 'since') } : {}),
    ...(query.until ? { until: parseTimeSpec(query.until, 'until') } : {}),
  };
}

export const queryRoutes: RouteModule = {
  name: 'query',
  register(app, ctx) {
    app.get<{ Params: { topic: string }; Querystring: QueryString }>(
      '/v1/topics/:topic/query',
      { config: { role: 'read' } },
      async (request, reply) => {
        const { topic } = request.params;
        assertValidName('topic', topic);
        const order = request.query.order ?? 'newest';
        if (order !== 'newest' && order !== 'oldest') {
          throw new InvalidArgumentError(`order must be "newest" or "oldest", got ${JSON.stringify(order)}`);
        }
        const query: QueryRequest = {
          topic,
          ...parseFilters(request.query),
          limit: intParam(request.query.limit, 'limit', { min: 1, max: MAX_LIMIT, default: 100 }),
          order,
          maxScanBytes: intParam(request.query.max_scan_bytes, 'max_scan_bytes', { min: 1, default: 1024 ** 3 }),
          maxScanMs: intParam(request.query.max_scan_ms, 'max_scan_ms', { min: 1, max: 60_000, default: 10_000 }),
          ...(request.query.cursor ? { cursor: request.query.cursor } : {}),
        };
        await ctx.store.describeTopic(topic); // 404 before streaming
        const results = runQuery(ctx.store, query);
        const first = await results.next(); // validation and the cursor fail here, still as a 4xx
        async function* lines(): AsyncGenerator<string> {
          let step = first;
          while (!step.done) {
            yield `${JSON.stringify(hitToJson(step.value))}\n`;
            step = await results.next();
          }
          const s = step.value;
          if (s.durationMs >= SLOW_QUERY_MS || s.partial) {
            ctx.logger.warn(
              {
                topic,
                duration_ms: s.durationMs,
                scanned_bytes: s.scannedBytes,
                partial: s.partial,
                ...(query.regex !== undefined ? { regex: query.regex } : {}),
                ...(query.grep !== undefined ? { grep: query.grep } : {}),
                matchers: query.matchers?.length ?? 0,
              },
              'slow query',
            );
          }
          yield `${JSON.stringify({
            summary: {
              count: s.count,
              partial: s.partial,
              cursor: s.cursor ?? null,
              scanned_bytes: s.scannedBytes,
              duration_ms: s.durationMs,
              notes: s.missingNames.map(missingNameNote),
            },
          })}\n`;
        }
        return reply.type('application/x-ndjson').send(Readable.from(lines()));
      },
    );

    app.get<{ Params: { topic: string }; Querystring: QueryString }>(
      '/v1/topics/:topic/tail',
      { config: { role: 'read' } },
      async (request, reply) => {
        const { topic } = request.params;
        assertValidName('topic', topic);
        const filters = parseFilters(request.query);
        await ctx.store.describeTopic(topic);
        const gone = new AbortController();
        request.raw.once('close', () => gone.abort());
        const signal = AbortSignal.any([gone.signal, ctx.lifecycle.shutdownSignal]);
        async function* lines(): AsyncGenerator<string> {
          // The first line names where the follow starts, so a client can show history up to there without gaps
          // or repeats (`tributary tail -n`).
          let started: (positions: ReadonlyMap<number, number>) => void = () => {};
          const startKnown = new Promise<ReadonlyMap<number, number>>((resolve) => {
            started = resolve;
          });
          const follow = followQuery(ctx.store, { topic, ...filters }, signal, (positions) => started(positions));
          const first = follow.next();
          const positions = await Promise.race([startKnown, first.then(() => new Map<number, number>())]);
          const start = Object.fromEntries([...positions].map(([p, offset]) => [String(p), offset]));
          yield `${JSON.stringify({ following: topic, start })}\n`;
          let step = await first;
          while (!step.done) {
            yield `${JSON.stringify(hitToJson(step.value))}\n`;
            step = await follow.next();
          }
        }
        reply.raw.on('close', () => gone.abort());
        return reply.type('application/x-ndjson').send(Readable.from(lines()));
      },
    );
  },
};
