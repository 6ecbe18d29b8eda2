/**
 * CreateTopics (key 19), versions 0-4: creates topics through the same topic access as the HTTP API (names,
 * limits, defaults). num_partitions -1 takes topics.default_partitions; the replication factor and manual
 * replica assignments are ignored (one copy on the file backend, storage.replicas on JetStream). Configs
 * understood: retention.ms, retention.bytes, segment.bytes, segment.ms (-1 for no limit where Kafka allows it),
 * cleanup.policy=delete; anything else is refused with INVALID_CONFIG. validate_only checks without creating.
 * Needs the admin role (TOPIC_AUTHORIZATION_FAILED otherwise).
 */
import { isValidName } from '../../../shared/names.ts';
import type { TopicConfig } from '../../storage/log-store.ts';
import { KafkaWriter } from '../codec/primitives.ts';
import { type KafkaApi, mayDo } from '../context.ts';
import { ApiKey, ErrorCode, kafkaErrorFor } from '../protocol.ts';

interface Answer {
  readonly name: string;
  readonly errorCode: number;
  readonly message: string | null;
}

class InvalidConfig extends Error {}

function topicConfig(configs: readonly { name: string; value: string | null }[]): Partial<TopicConfig> {
  const out: { -readonly [K in keyof TopicConfig]?: TopicConfig[K] } = {};
  const number = (name: string, value: string | null, allowUnlimited: boolean): number | null => {
    const n = Number(value);
    if (value === null || !Number.isSafeInteger(n) || n < (allowUnlimited ? -1 : 1) || n === 0) {
      throw new InvalidConfig(`${name}: expected a positive whole number${allowUnlimited ? ' or -1' : ''}`);
    }
    return n === -1 ? null : n;
  };
  for (const { name, value } of configs) {
    switch (name) {
      case 'retention.ms':
        out.retentionMs = number(name, value, true);
        break;
      case 'retention.bytes':
        out.retentionBytes = number(name, value, true);
        break;
      case 'segment.bytes':
        out.segmentBytes = number(name, value, false)!;
        break;
      case 'segment.ms':
        out.segmentMs = number(name, value, false)!;
        break;
      case 'cleanup.policy':
        if (value !== 'delete') throw new InvalidConfig('cleanup.policy: only "delete" (there is no compaction)');
        break;
      default:
        throw new InvalidConfig(
          `${name}: not a topic setting Tributary understands (retention.ms, retention.bytes, segment.bytes, segment.ms)`,
        );
    }
  }
  return out;
}

export const createTopicsApi: KafkaApi = {
  key: ApiKey.CreateTopics,
  name: 'CreateTopics',
  minVersion: 0,
  maxVersion: 4,
  async handle(request, ctx) {
    const v = request.header.apiVersion;
    const r = request.body;
    const topics = r.array(
      (r) => ({
        name: r.string(),
        partitions: r.int32(),
        replication: r.int16(),
        assignments: r.array((r) => ({ partition: r.int32(), brokers: r.array((r) => r.int32(), 4) }), 8),
        configs: r.array((r) => ({ name: r.string(), value: r.nullableString() }), 4),
      }),
      14,
    );
    r.int32(); // timeout_ms
    const validateOnly = v >= 1 ? r.bool() : false;
    const admin = mayDo(ctx, request.session, 'admin');
    const answers: Answer[] = [];
    for (const t of topics) {
      const fail = (errorCode: number, message: string | null) => answers.push({ name: t.name, errorCode, message });
      if (!admin) {
        fail(ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'creating topics needs a token with role admin');
        continue;
      }
      if (!isValidName(t.name)) {
        fail(ErrorCode.INVALID_TOPIC_EXCEPTION, "topic names are 1-200 characters of A-Z a-z 0-9 '.' '_' '-'");
        continue;
      }
      if (t.partitions === 0 || t.partitions < -1) {
        fail(ErrorCode.INVALID_PARTITIONS, 'num_partitions must be at least 1 (or -1 for the default)');
        continue;
      }
      let config: Partial<TopicConfig>;
      try {
        config = topicConfig(t.configs);
      } catch (error) {
        fail(ErrorCode.INVALID_CONFIG, (error as Error).message);
        continue;
      }
      if (t.partitions > 0) config = { ...config, partitions: t.partitions };
      if (validateOnly) {
        fail(ctx.store.hasTopic(t.name) ? ErrorCode.TOPIC_ALREADY_EXISTS : 0, null);
        continue;
      }
      try {
        await ctx.topics.create(t.name, config);
        fail(0, null);
      } catch (error) {
        fail(kafkaErrorFor(error), (error as Error).message);
      }
    }
    const w = new KafkaWriter(64 + answers.reduce((n, a) => n + a.name.length + (a.message?.length ?? 0) + 8, 0));
    if (v >= 2) w.int32(0);
    w.array(answers, (w, a) => {
      request.countError(a.errorCode);
      w.string(a.name).int16(a.errorCode);
      if (v >= 1) w.nullableString(a.message);
    });
    return w;
  },
};
