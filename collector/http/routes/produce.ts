/**
 * `POST /v1/topics/{topic}/records`: validate the whole body, then append per partition in parallel, and answer
 * once every append is durable (LogStore.append resolves only then). Partition choice: partitionForKey(key).
 *
 * Appends to different partitions are independent: if one fails after another succeeded, the error is returned
 * and the records of the partitions that succeeded stay stored (each partition's append is all-or-nothing).
 */
import { performance } from 'node:perf_hooks';
import { InvalidArgumentError, TopicNotFoundError } from '../../../shared/errors.ts';
import { assertValidName } from '../../../shared/names.ts';
import { partitionForKey } from '../../../shared/partitioner.ts';
import type { PartitionId } from '../../../shared/record.ts';
import type { AppendResult } from '../../storage/log-store.ts';
import { BATCH_CONTENT_TYPE, NDJSON_CONTENT_TYPE } from '../body.ts';
import type { RouteModule } from '../context.ts';
import { decodeBinaryBody, decodeNdjsonBody, type ProducedBatch } from '../produce-body.ts';

export const produceRoutes: RouteModule = {
  name: 'produce',
  register(app, ctx) {
    app.post<{ Params: { topic: string } }>(
      '/v1/topics/:topic/records',
      { config: { role: 'produce' } },
      async (request, reply) => {
        const started = performance.now();
        const { topic } = request.params;
        assertValidName('topic', topic);
        const contentType = String(request.headers['content-type'] ?? '')
          .split(';')[0]!
          .trim()
          .toLowerCase();
        if (!Buffer.isBuffer(request.body)) {
          throw new InvalidArgumentError(
            `send the records as ${BATCH_CONTENT_TYPE} or ${NDJSON_CONTENT_TYPE} (got Content-Type '${contentType}')`,
          );
        }
        const binary = contentType === BATCH_CONTENT_TYPE;
        const batches = binary
          ? decodeBinaryBody(request.body, ctx.options.limits)
          : decodeNdjsonBody(request.body, ctx.options.limits);

        const partitionCount = await ctx.topics.partitionsFor(topic);
        const byPartition = new Map<PartitionId, ProducedBatch[]>();
        for (const batch of batches) {
          const p = partitionForKey(batch.key, partitionCount);
          const list = byPartition.get(p);
          if (list) list.push(batch);
          else byPartition.set(p, [batch]);
        }
        let results: (AppendResult & { partition: PartitionId })[];
        try {
          results = await Promise.all(
            [...byPartition].map(async ([partition, list]) => ({
              partition,
              ...(await ctx.store.append(
                topic,
                partition,
                list.map((b) => b.bytes),
              )),
            })),
          );
        } catch (error) {
          if (error instanceof TopicNotFoundError) ctx.topics.forget(topic);
          throw error;
        }
        results.sort((a, b) => a.partition - b.partition);
        ctx.metrics.observeProduce(binary ? 'binary' : 'ndjson', (performance.now() - started) / 1000);
        return reply.send({
          record_count: results.reduce((n, r) => n + r.recordCount, 0),
          partitions: results.map((r) => ({
            partition: r.partition,
            base_offset: r.baseOffset,
            last_offset: r.lastOffset,
            record_count: r.recordCount,
          })),
        });
      },
    );
  },
};
