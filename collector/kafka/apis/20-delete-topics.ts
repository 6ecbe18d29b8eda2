/**
 * DeleteTopics (key 20), versions 0-3: deletes topics and all their data, as the HTTP API does. Needs the admin
 * role (TOPIC_AUTHORIZATION_FAILED otherwise); a missing topic gets UNKNOWN_TOPIC_OR_PARTITION.
 */
import { isValidName } from '../../../shared/names.ts';
import { KafkaWriter } from '../codec/primitives.ts';
import { type KafkaApi, mayDo } from '../context.ts';
import { ApiKey, ErrorCode, kafkaErrorFor } from '../protocol.ts';

export const deleteTopicsApi: KafkaApi = {
  key: ApiKey.DeleteTopics,
  name: 'DeleteTopics',
  minVersion: 0,
  maxVersion: 3,
  async handle(request, ctx) {
    const v = request.header.apiVersion;
    const names = request.body.array((r) => r.string(), 2);
    request.body.int32(); // timeout_ms
    const admin = mayDo(ctx, request.session, 'admin');
    const answers: { name: string; errorCode: number }[] = [];
    for (const name of names) {
      let errorCode = 0;
      if (!admin) errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
      else if (!isValidName(name)) errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      else {
        try {
          await ctx.topics.delete(name);
        } catch (error) {
          errorCode = kafkaErrorFor(error);
        }
      }
      answers.push({ name, errorCode });
    }
    const w = new KafkaWriter(32 + answers.reduce((n, a) => n + a.name.length + 6, 0));
    if (v >= 1) w.int32(0);
    w.array(answers, (w, a) => {
      request.countError(a.errorCode);
      w.string(a.name).int16(a.errorCode);
    });
    return w;
  },
};
