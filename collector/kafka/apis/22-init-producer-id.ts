/**
 * InitProducerId (key 22), versions 0-1: hands an idempotent producer its id (epoch 0); producers.ts keeps its
 * sequences. The Java client 3.x enables idempotence by default and fails against a broker without this API. A
 * transactional id is refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED: there are no transactions.
 * Needs the produce role (CLUSTER_AUTHORIZATION_FAILED otherwise, as Kafka answers for IdempotentWrite).
 */
import { KafkaWriter } from '../codec/primitives.ts';
import { type KafkaApi, mayDo } from '../context.ts';
import { ApiKey, ErrorCode } from '../protocol.ts';

export const initProducerIdApi: KafkaApi = {
  key: ApiKey.InitProducerId,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 1,
  async handle(request, ctx) {
    const transactionalId = request.body.nullableString();
    request.body.int32(); // transaction_timeout_ms
    const errorCode =
      transactionalId !== null
        ? ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        : mayDo(ctx, request.session, 'produce')
          ? ErrorCode.NONE
          : ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
    request.countError(errorCode);
    const w = new KafkaWriter(32).int32(0).int16(errorCode);
    return errorCode === 0 ? w.int64(ctx.producers.newProducerId()).int16(0) : w.int64(-1).int16(-1);
  },
};
