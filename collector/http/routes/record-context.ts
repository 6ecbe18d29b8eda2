/**
 * `GET /v1/topics/{topic}/partitions/{partition}/context?offset=N&before=20&after=20` — role `read`: the record at
 * `offset` with the records just before and after it from the same source (collector/query/record-context.ts),
 * `{"before": [...], "record": {...}, "after": [...], "partial"}`, oldest first, in the record shape of fetch.
 * `before` / `after` are at most 500; `max_scan_bytes` (default 64 MiB) caps the bytes read.
 */
import { assertValidName } from '../../../shared/names.ts';
import { toWireRecord } from '../../../shared/record.ts';
import { recordContext } from '../../query/record-context.ts';
import type { RouteModule } from '../context.ts';
import { intParam } from '../query-params.ts';

interface ContextQuery {
  offset?: string;
  before?: string;
  after?: string;
  max_scan_bytes?: string;
}

export const recordContextRoutes: RouteModule = {
  name: 'record-context',
  register(app, ctx) {
    app.get<{ Params: { topic: string; partition: string }; Querystring: ContextQuery }>(
      '/v1/topics/:topic/partitions/:partition/context',
      { config: { role: 'read' } },
      async (request) => {
        const { topic } = request.params;
        assertValidName('topic', topic);
        const answer = await recordContext(ctx.store, {
          topic,
          partition: intParam(request.params.partition, 'partition', { max: 1_000_000 }),
          offset: intParam(request.query.offset, 'offset'),
          before: intParam(request.query.before, 'before', { max: 500, default: 20 }),
          after: intParam(request.query.after, 'after', { max: 500, default: 20 }),
          maxScanBytes: intParam(request.query.max_scan_bytes, 'max_scan_bytes', {
            min: 1,
            default: 64 * 1024 * 1024,
          }),
        });
        return {
          before: answer.before.map(toWireRecord),
          record: toWireRecord(answer.record),
          after: answer.after.map(toWireRecord),
          partial: answer.partial,
        };
      },
    );
  },
};
