/**
 * ListGroups (key 16), versions 0-2: every consumer group the collector knows: with committed offsets, with
 * members (either protocol), or coordinated here by Kafka clients. Needs the read role.
 */
import { KafkaWriter } from '../codec/primitives.ts';
import { type KafkaApi, mayDo } from '../context.ts';
import { ApiKey, ErrorCode } from '../protocol.ts';

export const listGroupsApi: KafkaApi = {
  key: ApiKey.ListGroups,
  name: 'ListGroups',
  minVersion: 0,
  maxVersion: 2,
  async handle(request, ctx) {
    const v = request.header.apiVersion;
    const allowed = mayDo(ctx, request.session, 'read');
    const names = allowed
      ? [
          ...new Set([
            ...(await ctx.store.offsets.listGroups()),
            ...(await ctx.store.membership.listGroups()),
            ...ctx.groups.list(),
          ]),
        ].sort()
      : [];
    const errorCode = allowed ? 0 : ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
    request.countError(errorCode);
    const w = new KafkaWriter(64 + names.reduce((n, g) => n + g.length + 12, 0));
    if (v >= 1) w.int32(0);
    w.int16(errorCode);
    return w.array(names, (w, name) => w.string(name).string('consumer'));
  },
};
