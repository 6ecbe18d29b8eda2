/**
 * JoinGroup (key 11), versions 0-5: joins (or rejoins) a consumer group and waits for the rebalance to complete
 * (groups.ts). Static membership (group_instance_id, v5) is accepted but not kept: such members are dynamic here.
 * Needs the read role (GROUP_AUTHORIZATION_FAILED otherwise).
 */
import { DEFAULT_SESSION_TIMEOUTS } from '../../groups/group-coordinator.ts';
import { KafkaWriter } from '../codec/primitives.ts';
import { groupRefusal, type KafkaApi } from '../context.ts';
import { failedJoin, type JoinAnswer } from '../groups.ts';
import { ApiKey, ErrorCode } from '../protocol.ts';

export const joinGroupApi: KafkaApi = {
  key: ApiKey.JoinGroup,
  name: 'JoinGroup',
  minVersion: 0,
  maxVersion: 5,
  async handle(request, ctx) {
    const v = request.header.apiVersion;
    const r = request.body;
    const group = r.string();
    const sessionTimeoutMs = r.int32();
    const rebalanceTimeoutMs = v >= 1 ? r.int32() : sessionTimeoutMs;
    const memberId = r.string();
    if (v >= 5) r.nullableString(); // group_instance_id
    const protocolType = r.string();
    const protocols = r.array((r) => ({ name: r.string(), metadata: Buffer.from(r.bytes()) }), 6);
    const fail = (errorCode: number): JoinAnswer => failedJoin(errorCode, memberId);
    let answer: JoinAnswer;
    const refused = await groupRefusal(ctx, request.session, group, true);
    if (refused) answer = fail(refused);
    else if (sessionTimeoutMs < DEFAULT_SESSION_TIMEOUTS.minMs || sessionTimeoutMs > DEFAULT_SESSION_TIMEOUTS.maxMs) {
      answer = fail(ErrorCode.INVALID_SESSION_TIMEOUT);
    } else {
      answer = await ctx.groups.join(group, {
        memberId,
        clientId: request.header.clientId ?? '',
        sessionTimeoutMs,
        rebalanceTimeoutMs: Math.max(rebalanceTimeoutMs, sessionTimeoutMs),
        protocolType,
        protocols,
      });
    }
    request.countError(answer.errorCode);
    const w = new KafkaWriter(128 + answer.members.reduce((n, m) => n + m.memberId.length + m.metadata.length + 8, 0));
    if (v >= 2) w.int32(0);
    w.int16(answer.errorCode).int32(answer.generation).string(answer.protocolName).string(answer.leader);
    w.string(answer.memberId);
    w.array(answer.members, (w, m) => {
      w.string(m.memberId);
      if (v >= 5) w.nullableString(null);
      w.nullableBytes(m.metadata);
    });
    return w;
  },
};
