/**
 * OffsetCommit (key 8), versions 2-7: commits into the collector's offset store, the same one our HTTP groups use,
 * so `tributary groups describe` and the lag metrics show Kafka consumers. Fenced by the Kafka group's generation
 * (groups.ts): ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS. A group in use by our HTTP protocol
 * is refused with INCONSISTENT_GROUP_PROTOCOL. Needs the read role.
 */
import { isValidName } from '../../../shared/names.ts';
import { KafkaWriter } from '../codec/primitives.ts';
import { groupRefusal, type KafkaApi, readMemberFields } from '../context.ts';
import { ApiKey, ErrorCode, kafkaErrorFor } from '../protocol.ts';

export const offsetCommitApi: KafkaApi = {
  key: ApiKey.OffsetCommit,
  name: 'OffsetCommit',
  minVersion: 2,
  maxVersion: 7,
  async handle(request, ctx) {
    const v = request.header.apiVersion;
    const r = request.body;
    const { group, generation, memberId } = readMemberFields(r, v, 7);
    if (v <= 4) r.int64(); // retention_time_ms: offsets are kept until the group is deleted
    const topics = r.array(
      (r) => ({
        name: r.string(),
        partitions: r.array((r) => {
          const partition = r.int32();
          const offset = r.int64();
          if (v >= 6) r.int32(); // committed_leader_epoch
          return { partition, offset, metadata: r.nullableString() ?? '' };
        }, 14),
      }),
      6,
    );
    let refused =
      (await groupRefusal(ctx, request.session, group, true)) ||
      (await ctx.groups.checkCommit(group, memberId, generation));
    const answers = topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ ...p, errorCode: refused as number })),
    }));
    if (refused === 0) {
      const valid: { topic: string; partition: number; offset: number; metadata: string }[] = [];
      for (const t of answers) {
        let count = 0;
        try {
          count = isValidName(t.name) ? await ctx.topics.partitionsFor(t.name, false) : 0;
        } catch {
          count = 0;
        }
        for (const p of t.partitions) {
          if (p.partition < 0 || p.partition >= count) p.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          else if (p.offset < 0) p.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
          else
            valid.push({
              topic: t.name,
              partition: p.partition,
              offset: p.offset,
              metadata: p.metadata.slice(0, 4096),
            });
        }
      }
      if (valid.length > 0) {
        try {
          await ctx.store.offsets.commit(group, valid);
        } catch (error) {
          refused = kafkaErrorFor(error);
          for (const t of answers) for (const p of t.partitions) if (p.errorCode === 0) p.errorCode = refused;
        }
      }
    }
    const w = new KafkaWriter(32 + answers.reduce((n, t) => n + t.name.length + 6 * t.partitions.length + 8, 0));
    if (v >= 3) w.int32(0);
    w.array(answers, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => {
        request.countError(p.errorCode);
        w.int32(p.partition).int16(p.errorCode);
      });
    });
    return w;
  },
};
