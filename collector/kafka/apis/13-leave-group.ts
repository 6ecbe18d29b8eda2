/** LeaveGroup (key 13), versions 0-3: the member leaves at once and the group rebalances (groups.ts). */
import { KafkaWriter } from '../codec/primitives.ts';
import { groupRefusal, type KafkaApi } from '../context.ts';
import { ApiKey } from '../protocol.ts';

export const leaveGroupApi: KafkaApi = {
  key: ApiKey.LeaveGroup,
  name: 'LeaveGroup',
  minVersion: 0,
  maxVersion: 3,
  async handle(request, ctx) {
    const v = request.header.apiVersion;
    const r = request.body;
    const group = r.string();
    const memberIds =
      v >= 3 ? r.array((r) => ({ id: r.string(), instance: r.nullableString() }), 3).map((m) => m.id) : [r.string()];
    const refused = await groupRefusal(ctx, request.session, group, false);
    const results = memberIds.map((id) => ({ id, errorCode: refused || ctx.groups.leave(group, id) }));
    const errorCode = refused || (v < 3 ? results[0]!.errorCode : 0);
    request.countError(errorCode);
    const w = new KafkaWriter(32);
    if (v >= 1) w.int32(0);
    w.int16(errorCode);
    if (v >= 3) w.array(results, (w, m) => w.string(m.id).nullableString(null).int16(m.errorCode));
    return w;
  },
};
