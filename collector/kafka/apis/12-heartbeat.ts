/**
 * Heartbeat (key 12), versions 0-3: keeps a member's session; REBALANCE_IN_PROGRESS (27) makes it rejoin,
 * ILLEGAL_GENERATION and UNKNOWN_MEMBER_ID make it start over (groups.ts).
 */
import { isValidName } from '../../../shared/names.ts';
import { KafkaWriter } from '../codec/primitives.ts';
import { coordinates, type KafkaApi, mayDo } from '../context.ts';
import { ApiKey, ErrorCode } from '../protocol.ts';

export const heartbeatApi: KafkaApi = {
  key: ApiKey.Heartbeat,
  name: 'Heartbeat',
  minVersion: 0,
  maxVersion: 3,
  async handle(request, ctx) {
    const v = request.header.apiVersion;
    const r = request.body;
    const group = r.string();
    const generation = r.int32();
    const memberId = r.string();
    if (v >= 3) r.nullableString();
    const errorCode = !isValidName(group)
      ? ErrorCode.INVALID_GROUP_ID
      : !mayDo(ctx, request.session, 'read')
        ? ErrorCode.GROUP_AUTHORIZATION_FAILED
        : !(await coordinates(ctx, group))
          ? ErrorCode.NOT_COORDINATOR
          : ctx.groups.heartbeat(group, generation, memberId);
    request.countError(errorCode);
    const w = new KafkaWriter(8);
    if (v >= 1) w.int32(0);
    return w.int16(errorCode);
  },
};
