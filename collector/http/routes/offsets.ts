/** `GET /v1/topics/{topic}/offsets?at=earliest|latest|<ms>|<ISO-8601>`: one offset per partition. */
import { InvalidArgumentError } from '../../../shared/errors.ts';
import { assertValidName } from '../../../shared/names.ts';
import type { Offset, PartitionId } from '../../../shared/record.ts';
import type { RouteModule } from '../context.ts';

function parseAt(at: string | undefined): 'earliest' | 'latest' | number {
  const value = (at ?? 'latest').trim();
  if (value === 'earliest' || value === 'latest') return value;
  if (/^\d+$/.test(value) && Number.isSafeInteger(Number(value))) return Number(value);
  const ms = Date.parse(value);
  if (Number.isSafeInteger(ms) && ms >= 0 && /^\d{4}-\d{2}-\d{2}/.test(value)) return ms;
  throw new InvalidArgumentError(
    `the parameter 'at' must be earliest, latest, milliseconds since the epoch or an ISO-8601 time, got ${JSON.stringify(value)}`,
  );
}

export const offsetsRoutes: RouteModule = {
  name: 'offsets',
  register(app, ctx) {
    app.get<{ Params: { topic: string }; Querystring: { at?: string } }>(
      '/v1/topics/:topic/offsets',
      { config: { role: 'read' } },
      async (request) => {
        const { topic } = request.params;
        assertValidName('topic', topic);
        const at = parseAt(request.query.at);
        const info = await ctx.store.describeTopic(topic);
        const partitions: { partition: PartitionId; offset: Offset }[] = [];
        for (const p of info.partitions) {
          const offset =
            at === 'earliest'
              ? p.startOffset
              : at === 'latest'
                ? p.endOffset
                : await ctx.store.offsetForTimestamp(topic, p.partition, at);
          partitions.push({ partition: p.partition, offset });
        }
        return { partitions };
      },
    );
  },
};
