/**
 * Produce (key 0), versions 3-7 served, 0-7 advertised (librdkafka up to 2.11 checks for fixed version ranges and
 * otherwise silently stops compressing; a request below v3 gets UNSUPPORTED_VERSION per partition). Each
 * partition's record set is decoded (codec/produced-batch.ts: CRC-32C, compression, limits), checked against the
 * idempotent producer's sequences (producers.ts) and handed to the collector's one produce path with the partition
 * the producer chose; the answer is sent only once every append is durable under the topic's flush policy. With
 * acks=0 nothing is answered, as Kafka does (the client expects no response). acks other than 0, 1, -1:
 * INVALID_REQUIRED_ACKS. Transactional producers (transactional_id set) are refused with
 * TRANSACTIONAL_ID_AUTHORIZATION_FAILED: there are no transactions.
 *
 * Needs the produce role; otherwise TOPIC_AUTHORIZATION_FAILED for every partition, and nothing is stored.
 */
import { performance } from 'node:perf_hooks';
import { isValidName } from '../../../shared/names.ts';
import { KafkaWriter } from '../codec/primitives.ts';
import { decodeProducedRecords, InvalidKafkaBatchError } from '../codec/produced-batch.ts';
import { type KafkaApi, type KafkaContext, type KafkaRequest, principalOf } from '../context.ts';
import { ApiKey, ErrorCode, kafkaErrorFor } from '../protocol.ts';

interface PartitionAnswer {
  readonly partition: number;
  readonly errorCode: number;
  readonly baseOffset: number;
}

export const produceApi: KafkaApi = {
  key: ApiKey.Produce,
  name: 'Produce',
  minVersion: 0,
  maxVersion: 7,
  async handle(request, ctx) {
    const started = performance.now();
    const v = request.header.apiVersion;
    const r = request.body;
    const transactionalId = v >= 3 ? r.nullableString() : null;
    const acks = r.int16();
    r.int32(); // timeout_ms: appends are not bounded here; the client's own timeout applies
    const topics = r.array(
      (r) => ({
        name: r.string(),
        partitions: r.array((r) => ({ partition: r.int32(), records: r.nullableBytes() }), 8),
      }),
      6,
    );
    const refuse = (errorCode: number) =>
      topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode, baseOffset: -1 })),
      }));
    let answers: { name: string; partitions: PartitionAnswer[] }[];
    if (v < 3) answers = refuse(ErrorCode.UNSUPPORTED_VERSION);
    else if (acks !== 0 && acks !== 1 && acks !== -1) answers = refuse(ErrorCode.INVALID_REQUIRED_ACKS);
    else if (transactionalId !== null) answers = refuse(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    else {
      answers = await Promise.all(
        topics.map(async (t) => ({
          name: t.name,
          partitions: await Promise.all(
            t.partitions.map((p) => producePartition(request, ctx, t.name, p.partition, p.records, started)),
          ),
        })),
      );
    }
    for (const t of answers) for (const p of t.partitions) request.countError(p.errorCode);
    if (acks === 0) return undefined;
    const w = new KafkaWriter(64 + answers.reduce((n, t) => n + t.name.length + 40 * t.partitions.length, 0));
    w.array(answers, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => {
        w.int32(p.partition).int16(p.errorCode).int64(p.baseOffset);
        if (v >= 2) w.int64(-1); // log_append_time: -1, topics use CreateTime
        if (v >= 5) w.int64(-1); // log_start_offset: unknown here (clients use it only for diagnostics)
      });
    });
    if (v >= 1) w.int32(0); // throttle_time_ms
    return w;
  },
};

async function producePartition(
  request: KafkaRequest,
  ctx: KafkaContext,
  topic: string,
  partition: number,
  recordSet: Buffer | null,
  started: number,
): Promise<PartitionAnswer> {
  const fail = (errorCode: number, message?: string): PartitionAnswer => {
    if (message) ctx.logger.debug({ topic, partition, errorCode, message }, 'kafka produce refused');
    return { partition, errorCode, baseOffset: -1 };
  };
  const principal = principalOf(ctx, request.session);
  if (principal === undefined || !(principal.role === 'admin' || principal.role === 'produce')) {
    return fail(ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  }
  if (!isValidName(topic)) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION);
  if (recordSet === null || recordSet.length === 0) return fail(ErrorCode.CORRUPT_MESSAGE, 'no records');
  let batches: ReturnType<typeof decodeProducedRecords>;
  try {
    batches = decodeProducedRecords(
      recordSet,
      {
        maxInflated: ctx.collector.limits.maxDecompressedBytes,
        maxValue: ctx.collector.limits.maxLineBytes,
      },
      Date.now(),
    );
  } catch (error) {
    if (error instanceof InvalidKafkaBatchError) return fail(error.errorCode, error.message);
    throw error;
  }
  const key = `${topic}\0${partition}`;
  let firstOffset = -1;
  // Batches of one partition are appended in order, one produce call each, so that each is checked against the
  // sequences the previous one left.
  for (const batch of batches) {
    const check = ctx.producers.check(batch.producerId, batch.producerEpoch, batch.baseSequence, key);
    if (check.kind === 'error') return fail(check.errorCode, check.message);
    if (check.kind === 'duplicate') {
      if (firstOffset < 0) firstOffset = check.baseOffset;
      continue;
    }
    try {
      const result = await ctx.produce.produceRecords(principal, topic, batch.records, {
        encoding: 'kafka',
        partition,
        startedAt: started,
      });
      const baseOffset = result.partitions[0]?.baseOffset ?? -1;
      ctx.producers.appended(
        batch.producerId,
        batch.producerEpoch,
        batch.baseSequence,
        batch.records.length,
        baseOffset,
        key,
      );
      if (firstOffset < 0) firstOffset = baseOffset;
    } catch (error) {
      const errorCode = kafkaErrorFor(error);
      if (errorCode === ErrorCode.UNKNOWN_SERVER_ERROR) {
        ctx.logger.error({ err: error, topic, partition }, 'kafka produce failed');
      }
      return fail(errorCode, (error as Error).message);
    }
  }
  return { partition, errorCode: 0, baseOffset: firstOffset };
}
