/**
 * Heartbeat (key 12), versions 0-3: keeps a member's session; REBALANCE_IN_PROGRESS (27) makes it rejoin,
 * ILLEGAL_GENERATION and UNKNOWN_MEMBER_ID make it start over (groups.ts).
 */
import { KafkaWriter } from '../codec/primitives.ts';
import { groupRefusal, type KafkaApi, readMemberFields } from '../context.ts';
import { ApiKey } from '../protocol.ts';

export const heartbeatApi: KafkaApi = {
  key: ApiKey.Heartbeat,
  name: 'Heartbeat',
  minVersion: 0,
  maxVersion: 3,
  async handle(request, ctx) {
    const v = request.header.apiVersion;
    const r = request.body;
    const { group, generation, memberId } = readMemberFields(r, v, 3);
    const errorCode =
      (await groupRefusal(ctx, request.session, group, true)) || ctx.groups.heartbeat(group, generation, memberId);
    request.countError(errorCode);
    const w = new KafkaWriter(8);
    if (v >= 1) w.int32(0);
    return w.int16(errorCode);
  },
};
