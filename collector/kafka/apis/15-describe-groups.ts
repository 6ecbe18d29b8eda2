/**
 * DescribeGroups (key 15), versions 0-4: a group's state, protocol and members. Groups coordinated here by Kafka
 * clients show their Kafka state (with each member's metadata and assignment); groups of our HTTP protocol show
 * Stable with their members (no Kafka metadata), or Empty; an unknown group is Dead, as Kafka answers.
 * Needs the read role (GROUP_AUTHORIZATION_FAILED otherwise).
 */
import { isValidName } from '../../../shared/names.ts';
import { KafkaWriter } from '../codec/primitives.ts';
import { type KafkaApi, mayDo } from '../context.ts';
import type { GroupDescription } from '../groups.ts';
import { ApiKey, ErrorCode } from '../protocol.ts';

const EMPTY = Buffer.alloc(0);

export const describeGroupsApi: KafkaApi = {
  key: ApiKey.DescribeGroups,
  name: 'DescribeGroups',
  minVersion: 0,
  maxVersion: 4,
  async handle(request, ctx) {
    const v = request.header.apiVersion;
    const names = request.body.array((r) => r.string(), 2);
    if (v >= 3) request.body.bool(); // include_authorized_operations
    const allowed = mayDo(ctx, request.session, 'read');
    const answers: { name: string; errorCode: number; description: GroupDescription }[] = [];
    for (const name of names) {
      const dead: GroupDescription = { state: 'Dead', protocolType: '', protocolName: '', members: [] };
      if (!allowed) answers.push({ name, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, description: dead });
      else if (!isValidName(name)) answers.push({ name, errorCode: ErrorCode.INVALID_GROUP_ID, description: dead });
      else {
        const kafka = ctx.groups.describe(name);
        if (kafka) answers.push({ name, errorCode: 0, description: kafka });
        else {
          const stored = await ctx.store.membership.get(name);
          const known = stored !== undefined || (await ctx.store.offsets.listGroups()).includes(name);
          const description: GroupDescription = !known
            ? dead
            : {
                state: stored && stored.members.length > 0 ? 'Stable' : 'Empty',
                protocolType: 'consumer',
                protocolName: '',
                members: (stored?.members ?? []).map((m) => ({
                  memberId: m.memberId,
                  clientId: m.clientId,
                  metadata: EMPTY,
                  assignment: EMPTY,
                })),
              };
          answers.push({ name, errorCode: 0, description });
        }
      }
    }
    const w = new KafkaWriter(256);
    if (v >= 1) w.int32(0);
    w.array(answers, (w, a) => {
      request.countError(a.errorCode);
      const d = a.description;
      w.int16(a.errorCode).string(a.name).string(d.state).string(d.protocolType).string(d.protocolName);
      w.array(d.members, (w, m) => {
        w.string(m.memberId);
        if (v >= 4) w.nullableString(null);
        w.string(m.clientId).string('').nullableBytes(m.metadata).nullableBytes(m.assignment);
      });
      if (v >= 3) w.int32(-2147483648); // authorized_operations: not computed
    });
    return w;
  },
};
