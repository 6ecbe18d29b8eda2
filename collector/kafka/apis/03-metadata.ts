/**
 * Metadata (key 3), versions 0-6: the brokers (every live collector, cluster.ts), and for each requested topic (all
 * topics when the list is null, or empty before v1) its partitions, each led by the collector itself: with one
 * collector every partition is there; on JetStream every collector serves every partition, so each is led by the
 * broker the client asked (it keeps talking to the collector it reached).
 *
 * A topic that does not exist is created when the client allows it (v4+: allow_auto_topic_creation; before v4
 * always), the collector's topics.auto_create is on and the connection may produce, as Kafka's
 * auto.create.topics.enable does; otherwise UNKNOWN_TOPIC_OR_PARTITION. An invalid name: INVALID_TOPIC_EXCEPTION.
 */
import { isValidName } from '../../../shared/names.ts';
import type { KafkaWriter } from '../codec/primitives.ts';
import { KafkaWriter as Writer } from '../codec/primitives.ts';
import { type KafkaApi, type KafkaContext, type KafkaRequest, mayDo } from '../context.ts';
import { ApiKey, ErrorCode, kafkaErrorFor } from '../protocol.ts';

export const CLUSTER_ID = 'tributary';

interface TopicMetadata {
  readonly name: string;
  readonly errorCode: number;
  readonly partitions: number;
}

export const metadataApi: KafkaApi = {
  key: ApiKey.Metadata,
  name: 'Metadata',
  minVersion: 0,
  maxVersion: 6,
  async handle(request, ctx) {
    const v = request.header.apiVersion;
    const r = request.body;
    const requested = r.nullableArray((r) => r.string(), 2);
    const allowAutoCreate = v >= 4 ? r.bool() : true;
    const all = requested === null || (v === 0 && requested.length === 0);
    const topics = all
      ? await allTopics(request, ctx)
      : await Promise.all([...new Set(requested)].map((t) => describeOne(request, ctx, t, allowAutoCreate)));
    for (const t of topics) request.countError(t.errorCode);
    return await writeMetadata(ctx, v, topics);
  },
};

async function allTopics(request: KafkaRequest, ctx: KafkaContext): Promise<TopicMetadata[]> {
  if (!mayDo(ctx, request.session, 'read') && !mayDo(ctx, request.session, 'produce')) return [];
  return (await ctx.store.listTopics()).map((t) => ({ name: t.name, errorCode: 0, partitions: t.config.partitions }));
}

async function describeOne(
  request: KafkaRequest,
  ctx: KafkaContext,
  name: string,
  allowAutoCreate: boolean,
): Promise<TopicMetadata> {
  if (!isValidName(name)) return { name, errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, partitions: 0 };
  if (!mayDo(ctx, request.session, 'read') && !mayDo(ctx, request.session, 'produce')) {
    return { name, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, partitions: 0 };
  }
  try {
    const autoCreate = allowAutoCreate && ctx.collector.autoCreateTopics && mayDo(ctx, request.session, 'produce');
    return { name, errorCode: 0, partitions: await ctx.topics.partitionsFor(name, autoCreate) };
  } catch (error) {
    return { name, errorCode: kafkaErrorFor(error), partitions: 0 };
  }
}

async function writeMetadata(ctx: KafkaContext, v: number, topics: readonly TopicMetadata[]): Promise<KafkaWriter> {
  const w = new Writer(256 + topics.reduce((n, t) => n + 40 + t.name.length + t.partitions * 30, 0));
  const self = ctx.cluster.self();
  if (v >= 3) w.int32(0); // throttle_time_ms
  w.array(await ctx.cluster.brokers(), (w, b) => {
    w.int32(b.nodeId).string(b.host).int32(b.port);
    if (v >= 1) w.nullableString(null); // rack
  });
  if (v >= 2) w.nullableString(CLUSTER_ID);
  if (v >= 1) w.int32(self.nodeId); // controller_id
  w.array(topics, (w, t) => {
    w.int16(t.errorCode).string(t.name);
    if (v >= 1) w.bool(false); // is_internal
    w.int32(t.partitions);
    for (let p = 0; p < t.partitions; p++) {
      w.int16(0).int32(p).int32(self.nodeId); // error_code, partition_index, leader_id
      w.int32(1).int32(self.nodeId); // replica_nodes
      w.int32(1).int32(self.nodeId); // isr_nodes
      if (v >= 5) w.int32(0); // offline_replicas
    }
  });
  return w;
}
