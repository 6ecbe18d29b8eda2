/**
 * Consumer group offsets: commit, fetch (with each partition's end offset and lag), list groups, delete a group.
 * A commit that names a member and generation is fenced by the group coordinator (`context.groups.checkCommit`):
 * a stale member's commit is refused (409) before anything is written.
 */
import { z } from 'zod';
import { PartitionNotFoundError } from '../../../shared/errors.ts';
import { assertValidName, isValidName } from '../../../shared/names.ts';
import type { CommitRequest } from '../../storage/log-store.ts';
import type { RouteModule } from '../context.ts';
import { parseJsonBody } from '../json-body.ts';

const CommitBody = z.strictObject({
  offsets: z
    .array(
      z.strictObject({
        topic: z.string().refine(isValidName, { message: 'invalid topic name' }),
        partition: z.number().int().min(0),
        offset: z.number().int().min(0),
        metadata: z.string().max(4096).optional(),
      }),
    )
    .min(1)
    .max(100_000),
  member_id: z.string().optional(),
  generation_id: z.number().int().optional(),
});

export const groupOffsetsRoutes: RouteModule = {
  name: 'group-offsets',
  register(app, ctx) {
    app.post<{ Params: { group: string } }>(
      '/v1/groups/:group/offsets',
      { config: { role: 'read' } },
      async (request, reply) => {
        const { group } = request.params;
        assertValidName('group', group);
        const body = parseJsonBody(CommitBody, request.body, 'commit');
        await ctx.groups.checkCommit(group, body.member_id, body.generation_id);
        for (const o of body.offsets) {
          const partitions = await ctx.topics.partitionsFor(o.topic, false);
          if (o.partition >= partitions) throw new PartitionNotFoundError(o.topic, o.partition, partitions);
        }
        const offsets: CommitRequest[] = body.offsets.map((o) => ({
          topic: o.topic,
          partition: o.partition,
          offset: o.offset,
          ...(o.metadata !== undefined ? { metadata: o.metadata } : {}),
        }));
        await ctx.store.offsets.commit(group, offsets);
        return reply.code(200).send({ committed: offsets.length });
      },
    );

    app.get<{ Params: { group: string } }>(
      '/v1/groups/:group/offsets',
      { config: { role: 'read' } },
      async (request) => {
        const { group } = request.params;
        assertValidName('group', group);
        const committed = await ctx.store.offsets.fetch(group);
        const ends = new Map<string, number>();
        for (const topic of new Set(committed.map((c) => c.topic))) {
          if (!ctx.store.hasTopic(topic)) continue;
          for (const p of (await ctx.store.describeTopic(topic)).partitions)
            ends.set(`${topic}/${p.partition}`, p.endOffset);
        }
        return {
          offsets: committed.map((c) => {
            const end = ends.get(`${c.topic}/${c.partition}`);
            return {
              topic: c.topic,
              partition: c.partition,
              offset: c.offset,
              metadata: c.metadata,
              commit_timestamp: c.commitTimestamp,
              end_offset: end ?? null,
              lag: end === undefined ? null : Math.max(0, end - c.offset),
            };
          }),
        };
      },
    );

    app.get('/v1/groups', { config: { role: 'read' } }, async () => {
      return { groups: (await ctx.store.offsets.listGroups()).sort() };
    });

    app.delete<{ Params: { group: string } }>(
      '/v1/groups/:group',
      { config: { role: 'admin' } },
      async (request, reply) => {
        assertValidName('group', request.params.group);
        await ctx.store.offsets.deleteGroup(request.params.group);
        return reply.code(204).send();
      },
    );
  },
};
