/**
 * SyncGroup (key 14), versions 0-3: the leader hands in the assignment it computed; every member gets its part
 * once the leader's has arrived (groups.ts).
 */
import { isValidName } from '../../../shared/names.ts';
import { KafkaWriter } from '../codec/primitives.ts';
import { coordinates, type KafkaApi, mayDo } from '../context.ts';
import type { SyncAnswer } from '../groups.ts';
import { ApiKey, ErrorCode } from '../protocol.ts';

export const syncGroupApi: KafkaApi = {
  key: ApiKey.SyncGroup,
  name: 'SyncGroup',
  minVersion: 0,
  maxVersion: 3,
  async handle(request, ctx) {
    const v = request.header.apiVersion;
    const r = request.body;
    const group = r.string();
    const generation = r.int32();
    const memberId = r.string();
    if (v >= 3) r.nullableString();
    const assignments = r.array((r) => ({ memberId: r.string(), assignment: Buffer.from(r.bytes()) }), 6);
    const empty = Buffer.alloc(0);
    let answer: SyncAnswer;
    if (!isValidName(group)) answer = { errorCode: ErrorCode.INVALID_GROUP_ID, assignment: empty };
    else if (!mayDo(ctx, request.session, 'read')) {
      answer = { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, assignment: empty };
    } else if (!(await coordinates(ctx, group))) {
      answer = { errorCode: ErrorCode.NOT_COORDINATOR, assignment: empty };
    } else answer = await ctx.groups.sync(group, generation, memberId, assignments);
    request.countError(answer.errorCode);
    const w = new KafkaWriter(16 + answer.assignment.length);
    if (v >= 1) w.int32(0);
    return w.int16(answer.errorCode).nullableBytes(answer.assignment);
  },
};
