/**
 * FindCoordinator (key 10), versions 0-2 (v0 must be there: librdkafka's consumer checks it): the collector that
 * coordinates a group (cluster view: one collector, or the one chosen for the group among several). Transaction
 * coordinators (key_type 1) do not exist: COORDINATOR_NOT_AVAILABLE.
 */
import { isValidName } from '../../../shared/names.ts';
import { KafkaWriter } from '../codec/primitives.ts';
import type { KafkaApi } from '../context.ts';
import { ApiKey, ErrorCode } from '../protocol.ts';

export const findCoordinatorApi: KafkaApi = {
  key: ApiKey.FindCoordinator,
  name: 'FindCoordinator',
  minVersion: 0,
  maxVersion: 2,
  async handle(request, ctx) {
    const v = request.header.apiVersion;
    const key = request.body.string();
    const keyType = v >= 1 ? request.body.int8() : 0;
    let errorCode = 0;
    let message: string | null = null;
    if (keyType !== 0) {
      errorCode = ErrorCode.COORDINATOR_NOT_AVAILABLE;
      message = 'Tributary has no transactions';
    } else if (!isValidName(key)) {
      errorCode = ErrorCode.INVALID_GROUP_ID;
      message = "group names are 1-200 characters of A-Z a-z 0-9 '.' '_' '-'";
    }
    request.countError(errorCode);
    const broker = errorCode === 0 ? await ctx.cluster.coordinatorFor(key) : { nodeId: -1, host: '', port: -1 };
    const w = new KafkaWriter(64);
    if (v >= 1) w.int32(0);
    w.int16(errorCode);
    if (v >= 1) w.nullableString(message);
    return w.int32(broker.nodeId).string(broker.host).int32(broker.port);
  },
};
