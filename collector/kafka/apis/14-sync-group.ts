/**
 * SyncGroup (key 14), versions 0-3: the leader hands in the assignment it computed; every member gets its part
 * once the leader's has arrived (groups.ts).
 */
import { KafkaWriter } from '../codec/primitives.ts';
import { groupRefusal, type KafkaApi, readMemberFields } from '../context.ts';
import type { SyncAnswer } from '../groups.ts';
import { ApiKey } from '../protocol.ts';

export const syncGroupApi: KafkaApi = {
  key: ApiKey.SyncGroup,
  name: 'SyncGroup',
  minVersion: 0,
  maxVersion: 3,
  async handle(request, ctx) {
    const v = request.header.apiVersion;
    const r = request.body;
    const { group, generation, memberId } = readMemberFields(r, v, 3);
    const assignments = r.array((r) => ({ memberId: r.string(), assignment: Buffer.from(r.bytes()) }), 6);
    const refused = await groupRefusal(ctx, request.session, group, true);
    const answer: SyncAnswer = refused
      ? { errorCode: refused, assignment: Buffer.alloc(0) }
      : await ctx.groups.sync(group, generation, memberId, assignments);
    request.countError(answer.errorCode);
    const w = new KafkaWriter(16 + answer.assignment.length);
    if (v >= 1) w.int32(0);
    return w.int16(answer.errorCode).nullableBytes(answer.assignment);
  },
};
