/**
 * ListOffsets (key 2), versions 1-3: per partition, the offset for a timestamp: -2 the log start (earliest), -1
 * the log end (latest, Kafka's high watermark: every stored record is committed here), otherwise the first offset
 * whose record timestamp is >= the timestamp (LogStore.offsetForTimestamp; the found offset and no timestamp, as
 * our time index is per batch) or -1 when there is none. Needs the read role.
 */
import { isValidName } from '../../../shared/names.ts';
import { KafkaWriter } from '../codec/primitives.ts';
import { type KafkaApi, type KafkaContext, mayDo } from '../context.ts';
import { ApiKey, ErrorCode, kafkaErrorFor } from '../protocol.ts';

const LATEST = -1;
const EARLIEST = -2;

interface PartitionAnswer {
  readonly partition: number;
  readonly errorCode: number;
  readonly timestamp: number;
  readonly offset: number;
}

export const listOffsetsApi: KafkaApi = {
  key: ApiKey.ListOffsets,
  name: 'ListOffsets',
  minVersion: 1,
  maxVersion: 3,
  async handle(request, ctx) {
    const v = request.header.apiVersion;
    const r = request.body;
    r.int32(); // replica_id
    if (v >= 2) r.int8(); // isolation_level: every stored record is committed
    const topics = r.array(
      (r) => ({ name: r.string(), partitions: r.array((r) => ({ partition: r.int32(), timestamp: r.int64() }), 12) }),
      6,
    );
    const allowed = mayDo(ctx, request.session, 'read');
    const answers = await Promise.all(
      topics.map(async (t) => ({
        name: t.name,
        partitions: await Promise.all(
          t.partitions.map((p) =>
            allowed
              ? offsetFor(ctx, t.name, p.partition, p.timestamp)
              : { ...p, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, offset: -1, timestamp: -1 },
          ),
        ),
      })),
    );
    const w = new KafkaWriter(64 + answers.length * 64);
    if (v >= 2) w.int32(0); // throttle_time_ms
    w.array(answers, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => {
        request.countError(p.errorCode);
        w.int32(p.partition).int16(p.errorCode).int64(p.timestamp).int64(p.offset);
      });
    });
    return w;
  },
};

async function offsetFor(
  ctx: KafkaContext,
  topic: string,
  partition: number,
  timestamp: number,
): Promise<PartitionAnswer> {
  const fail = (errorCode: number) => ({ partition, errorCode, timestamp: -1, offset: -1 });
  if (!isValidName(topic)) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  try {
    const count = await ctx.topics.partitionsFor(topic, false);
    if (partition < 0 || partition >= count) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    if (timestamp === LATEST || timestamp === EARLIEST) {
      const info = (await ctx.store.describeTopic(topic)).partitions[partition]!;
      return {
        partition,
        errorCode: 0,
        timestamp: -1,
        offset: timestamp === LATEST ? info.endOffset : info.startOffset,
      };
    }
    if (timestamp < 0) return fail(ErrorCode.INVALID_REQUEST);
    const offset = await ctx.store.offsetForTimestamp(topic, partition, timestamp);
    const info = (await ctx.store.describeTopic(topic)).partitions[partition]!;
    return offset >= info.endOffset
      ? { partition, errorCode: 0, timestamp: -1, offset: -1 }
      : { partition, errorCode: 0, timestamp, offset };
  } catch (error) {
    return fail(kafkaErrorFor(error));
  }
}
