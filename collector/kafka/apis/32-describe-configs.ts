/**
 * DescribeConfigs (key 32), versions 0-3: a topic's settings in Kafka's names (retention.ms, retention.bytes,
 * segment.bytes, segment.ms, cleanup.policy; -1 for no limit); a broker (the collector) has no settings shown.
 * Needs the read role (TOPIC_AUTHORIZATION_FAILED otherwise).
 */
import { KafkaWriter } from '../codec/primitives.ts';
import { type KafkaApi, mayDo } from '../context.ts';
import { ApiKey, ErrorCode, kafkaErrorFor } from '../protocol.ts';

const TOPIC = 2;
const BROKER = 4;

interface Resource {
  readonly type: number;
  readonly name: string;
  readonly errorCode: number;
  readonly message: string | null;
  readonly configs: readonly { name: string; value: string }[];
}

export const describeConfigsApi: KafkaApi = {
  key: ApiKey.DescribeConfigs,
  name: 'DescribeConfigs',
  minVersion: 0,
  maxVersion: 3,
  async handle(request, ctx) {
    const v = request.header.apiVersion;
    const r = request.body;
    const resources = r.array(
      (r) => ({ type: r.int8(), name: r.string(), keys: r.nullableArray((r) => r.string(), 2) }),
      7,
    );
    if (v >= 1) r.bool(); // include_synonyms
    if (v >= 3) r.bool(); // include_documentation
    const allowed = mayDo(ctx, request.session, 'read');
    const answers: Resource[] = [];
    for (const res of resources) {
      const answer = (errorCode: number, message: string | null, configs: Resource['configs'] = []) =>
        answers.push({ type: res.type, name: res.name, errorCode, message, configs });
      if (!allowed) answer(ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'needs a token with role read');
      else if (res.type === BROKER) answer(0, null);
      else if (res.type !== TOPIC) answer(ErrorCode.INVALID_REQUEST, 'only topics and brokers have configs');
      else {
        try {
          const { config } = await ctx.store.describeTopic(res.name);
          const all = [
            { name: 'cleanup.policy', value: 'delete' },
            { name: 'retention.ms', value: String(config.retentionMs ?? -1) },
            { name: 'retention.bytes', value: String(config.retentionBytes ?? -1) },
            { name: 'segment.bytes', value: String(config.segmentBytes) },
            { name: 'segment.ms', value: String(config.segmentMs) },
          ];
          answer(0, null, res.keys === null ? all : all.filter((c) => res.keys!.includes(c.name)));
        } catch (error) {
          answer(kafkaErrorFor(error), (error as Error).message);
        }
      }
    }
    const w = new KafkaWriter(256);
    w.int32(0);
    w.array(answers, (w, a) => {
      request.countError(a.errorCode);
      w.int16(a.errorCode).nullableString(a.message).int8(a.type).string(a.name);
      w.array(a.configs, (w, c) => {
        w.string(c.name).nullableString(c.value).bool(false); // read_only
        if (v === 0)
          w.bool(false); // is_default
        else w.int8(1); // config_source: DYNAMIC_TOPIC_CONFIG
        w.bool(false); // is_sensitive
        if (v >= 1) w.int32(0); // synonyms
        if (v >= 3) w.int8(0).nullableString(null); // config_type, documentation
      });
    });
    return w;
  },
};
