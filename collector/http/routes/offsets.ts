/**
 * `GET /v1/topics/{topic}/offsets?at=earliest|latest|<ms>|<ISO-8601>`: one offset per partition. The resolution of
 * `at` is shared with resetting a group's offsets (group-members.ts).
 */
import { InvalidArgumentError } from '../../../shared/errors.ts';
import { assertValidName } from '../../../shared/names.ts';
import type { Offset, PartitionId, TimestampMs } from '../../../shared/record.ts';
import type { LogStore } from '../../storage/log-store.ts';
import type { RouteModule } from '../context.ts';

export function parseAt(at: string | undefined): 'earliest' | 'latest' | number {
  const value = (at ?? 'latest').trim();
  if (value === 'earliest' || value === 'latest') return value;
  if (/^\d+$/.test(value) && Number.isSafeInteger(Number(value))) return Number(value);
  const ms = Date.parse(value);
  if (Number.isSafeInteger(ms) && ms >= 0 && /^\d{4}-\d{2}-\d{2}/.test(value)) return ms;
  throw new InvalidArgumentError(
    `the parameter 'at' must be earliest, latest, milliseconds since the epoch or an ISO-8601 time, got ${JSON.stringify(value)}`,
  );
}

/** One offset per partition of `topic`: its start, its end, or the first offset at or after a time. */
export async function offsetsAt(
  store: LogStore,
  topic: string,
  at: 'earliest' | 'latest' | TimestampMs,
): Promise<{ partition: PartitionId; offset: Offset }[]> {
  const partitions: { partition: PartitionId; offset: Offset }[] = [];
  for (const p of (await store.describeTopic(topic)).partitions) {
    const offset =
      at === 'earliest'
        ? p.startOffset
        : at === 'latest'
          ? p.endOffset
          : await store.offsetForTimestamp(topic, p.partition, at);
    partitions.push({ partition: p.partition, offset });
  }
  return partitions;
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
        return { partitions: await offsetsAt(ctx.store, topic, parseAt(request.query.at)) };
      },
    );
  },
};
