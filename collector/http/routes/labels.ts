/**
 * `GET /v1/topics/{topic}/labels` — the label names of a topic's records in a time range;
 * `GET /v1/topics/{topic}/labels/{name}/values` — the values of one label. Role `read`. Both take `since` / `until`
 * (default: the last hour), repeatable `where` matchers, `limit` (default 1000) and `max_scan_bytes` /
 * `max_scan_ms` (default 64 MiB / 2 s: these serve autocompletion, which wants a quick answer more than a complete
 * one; `partial` says the budget ran out).
 */
import { InvalidArgumentError } from '../../../shared/errors.ts';
import { assertValidName } from '../../../shared/names.ts';
import { parseTimeSpec } from '../../../shared/time-spec.ts';
import { collectLabels } from '../../query/labels.ts';
import { parseMatcher } from '../../../shared/query/matchers.ts';
import type { RouteModule } from '../context.ts';
import { intParam } from '../query-params.ts';

interface LabelsQuery {
  since?: string;
  until?: string;
  where?: string | string[];
  limit?: string;
  max_scan_bytes?: string;
  max_scan_ms?: string;
}

const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,199}$/;
const MAX_MATCHERS = 32;

function labelsRequest(topic: string, query: LabelsQuery) {
  assertValidName('topic', topic);
  const where = query.where === undefined ? [] : Array.isArray(query.where) ? query.where : [query.where];
  if (where.length > MAX_MATCHERS) throw new InvalidArgumentError(`at most ${MAX_MATCHERS} label matchers`);
  const since = parseTimeSpec(query.since ?? '1h', 'since');
  const until = query.until ? parseTimeSpec(query.until, 'until') : undefined;
  if (until !== undefined && since >= until) throw new InvalidArgumentError('since must be earlier than until');
  return {
    topic,
    since,
    ...(until !== undefined ? { until } : {}),
    matchers: where.map(parseMatcher),
    limit: intParam(query.limit, 'limit', { min: 1, max: 10_000, default: 1000 }),
    maxScanBytes: intParam(query.max_scan_bytes, 'max_scan_bytes', { min: 1, default: 64 * 1024 * 1024 }),
    maxScanMs: intParam(query.max_scan_ms, 'max_scan_ms', { min: 1, max: 60_000, default: 2000 }),
  };
}

export const labelsRoutes: RouteModule = {
  name: 'labels',
  register(app, ctx) {
    app.get<{ Params: { topic: string }; Querystring: LabelsQuery }>(
      '/v1/topics/:topic/labels',
      { config: { role: 'read' } },
      async (request) => {
        const answer = await collectLabels(ctx.store, labelsRequest(request.params.topic, request.query));
        return { names: answer.values, truncated: answer.truncated, partial: answer.partial };
      },
    );

    app.get<{ Params: { topic: string; name: string }; Querystring: LabelsQuery }>(
      '/v1/topics/:topic/labels/:name/values',
      { config: { role: 'read' } },
      async (request) => {
        const { name } = request.params;
        if (!LABEL_NAME.test(name)) {
          throw new InvalidArgumentError(`${JSON.stringify(name)} is not a label name: [A-Za-z_][A-Za-z0-9_.-]*`);
        }
        const answer = await collectLabels(ctx.store, { ...labelsRequest(request.params.topic, request.query), name });
        return { name, values: answer.values, truncated: answer.truncated, partial: answer.partial };
      },
    );
  },
};
