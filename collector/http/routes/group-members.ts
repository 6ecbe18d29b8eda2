/**
 * Consumer group membership over HTTP (docs/api.md, "Consumer groups"): join, heartbeat, leave, describe, and
 * resetting a group's offsets, which is refused while members are active. The coordinator (collector/groups, wired
 * in collector.ts with its expiry sweep) holds the rules; this module parses requests.
 */
import { z } from 'zod';
import { InvalidArgumentError } from '../../../shared/errors.ts';
import { assertValidName, isValidName } from '../../../shared/names.ts';
import { heartbeatIntervalFor } from '../../groups/group-coordinator.ts';
import type { CommitRequest } from '../../storage/log-store.ts';
import type { RouteModule } from '../context.ts';
import { parseJsonBody } from '../json-body.ts';
import { offsetsAt, parseAt } from './offsets.ts';

const JoinBody = z.strictObject({
  topics: z
    .array(z.string().refine(isValidName, { message: 'invalid topic name' }))
    .min(1)
    .max(100),
  member_id: z.string().max(400).optional(),
  client_id: z.string().max(100).optional(),
  session_timeout_ms: z.number().int().positive().optional(),
});

const HeartbeatBody = z.strictObject({ generation_id: z.number().int().min(0) });

const ResetBody = z.strictObject({
  to: z.union([z.string(), z.number().int().min(0)]),
  topics: z
    .array(z.string().refine(isValidName, { message: 'invalid topic name' }))
    .min(1)
    .max(1000)
    .optional(),
});

function memberIdParam(memberId: string): string {
  if (memberId.length > 400 || !/^[A-Za-z0-9._-]+$/.test(memberId)) {
    throw new InvalidArgumentError('invalid member id: use the member_id the join answered');
  }
  return memberId;
}

export const groupMembersRoutes: RouteModule = {
  name: 'group-members',
  register(app, ctx) {
    const coordinator = ctx.groups;

    app.post<{ Params: { group: string } }>(
      '/v1/groups/:group/members',
      { config: { role: 'read' } },
      async (request) => {
        const body = parseJsonBody(JoinBody, request.body, 'join');
        const joined = await coordinator.join(request.params.group, {
          topics: body.topics,
          ...(body.member_id !== undefined ? { memberId: body.member_id } : {}),
          ...(body.client_id !== undefined ? { clientId: body.client_id } : {}),
          ...(body.session_timeout_ms !== undefined ? { sessionTimeoutMs: body.session_timeout_ms } : {}),
        });
        return {
          member_id: joined.memberId,
          generation_id: joined.generation,
          assignment: joined.assignment,
          session_timeout_ms: joined.sessionTimeoutMs,
          heartbeat_interval_ms: joined.heartbeatIntervalMs,
          members: joined.memberCount,
        };
      },
    );

    app.post<{ Params: { group: string; member: string } }>(
      '/v1/groups/:group/members/:member/heartbeat',
      { config: { role: 'read' } },
      async (request) => {
        const body = parseJsonBody(HeartbeatBody, request.body, 'heartbeat');
        const memberId = memberIdParam(request.params.member);
        return {
          generation_id: (await coordinator.heartbeat(request.params.group, memberId, body.generation_id)).generation,
        };
      },
    );

    app.delete<{ Params: { group: string; member: string } }>(
      '/v1/groups/:group/members/:member',
      { config: { role: 'read' } },
      async (request, reply) => {
        await coordinator.leave(request.params.group, memberIdParam(request.params.member));
        return reply.code(204).send();
      },
    );

    app.get<{ Params: { group: string } }>(
      '/v1/groups/:group/members',
      { config: { role: 'read' } },
      async (request) => {
        const membership = await coordinator.describe(request.params.group);
        return {
          generation_id: membership?.generation ?? null,
          members: (membership?.members ?? []).map((m) => ({
            member_id: m.memberId,
            client_id: m.clientId,
            topics: m.topics,
            assignment: m.assignment,
            session_timeout_ms: m.sessionTimeoutMs,
            heartbeat_interval_ms: heartbeatIntervalFor(m.sessionTimeoutMs),
            last_heartbeat: m.lastHeartbeatMs,
          })),
        };
      },
    );

    app.post<{ Params: { group: string } }>(
      '/v1/groups/:group/offsets/reset',
      { config: { role: 'admin' } },
      async (request) => {
        const { group } = request.params;
        assertValidName('group', group);
        const body = parseJsonBody(ResetBody, request.body, 'reset');
        const at = parseAt(String(body.to));
        await coordinator.assertNoMembers(group, 'reset offsets');
        const topics = body.topics ?? [...new Set((await ctx.store.offsets.fetch(group)).map((c) => c.topic))];
        if (topics.length === 0) {
          throw new InvalidArgumentError(
            `group ${group} has no committed offsets to reset: name the topics to set its offsets for`,
          );
        }
        const offsets: CommitRequest[] = [];
        for (const topic of topics.sort()) {
          for (const { partition, offset } of await offsetsAt(ctx.store, topic, at)) {
            offsets.push({ topic, partition, offset });
          }
        }
        await ctx.store.offsets.commit(group, offsets);
        return { offsets };
      },
    );
  },
};
