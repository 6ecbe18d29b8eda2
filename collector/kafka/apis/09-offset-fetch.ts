/**
 * OffsetFetch (key 9), versions 1-5: the group's committed offsets from the collector's offset store (shared with
 * our HTTP groups); -1 where nothing is committed. A null topic list (v2+) asks for every committed partition.
 * Needs the read role.
 */
import { KafkaWriter } from '../codec/primitives.ts';
import { groupRefusal, type KafkaApi } from '../context.ts';
import { ApiKey, kafkaErrorFor } from '../protocol.ts';

export const offsetFetchApi: KafkaApi = {
  key: ApiKey.OffsetFetch,
  name: 'OffsetFetch',
  minVersion: 1,
  maxVersion: 5,
  async handle(request, ctx) {
    const v = request.header.apiVersion;
    const r = request.body;
    const group = r.string();
    const requested = r.nullableArray((r) => ({ name: r.string(), partitions: r.array((r) => r.int32(), 4) }), 6);
    let errorCode = await groupRefusal(ctx, request.session, group, false);
    const committed = new Map<string, Map<number, { offset: number; metadata: string }>>();
    if (errorCode === 0) {
      try {
        for (const c of await ctx.store.offsets.fetch(group)) {
          let t = committed.get(c.topic);
          if (!t) {
            t = new Map();
            committed.set(c.topic, t);
          }
          t.set(c.partition, { offset: c.offset, metadata: c.metadata });
        }
      } catch (error) {
        errorCode = kafkaErrorFor(error);
      }
    }
    const topics =
      requested ?? [...committed].map(([name, partitions]) => ({ name, partitions: [...partitions.keys()].sort() }));
    request.countError(errorCode);
    const w = new KafkaWriter(64 + topics.reduce((n, t) => n + t.name.length + 24 * t.partitions.length + 8, 0));
    if (v >= 3) w.int32(0);
    w.array(topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => {
        const c = committed.get(t.name)?.get(p);
        w.int32(p).int64(c?.offset ?? -1);
        if (v >= 5) w.int32(-1); // committed_leader_epoch
        w.nullableString(c?.metadata ?? '').int16(v < 2 ? errorCode : 0);
      });
    });
    if (v >= 2) w.int16(errorCode);
    return w;
  },
};
