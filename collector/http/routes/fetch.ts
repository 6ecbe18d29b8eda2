/**
 * `GET /v1/topics/{topic}/partitions/{partition}/records?offset=N&max_bytes=M&wait_ms=W`: records from `offset` on,
 * as whole batches (`Accept: application/vnd.tributary.batch`) or JSON. With `wait_ms` and nothing at `offset` yet,
 * the request waits on store.waitForAppend, which wakes as soon as an append lands; the wait is cancelled when the
 * client goes away or the collector shuts down.
 */
import { performance } from 'node:perf_hooks';
import { decodeRecords } from '../../../shared/batch-codec.ts';
import { PartitionNotFoundError } from '../../../shared/errors.ts';
import { assertValidName } from '../../../shared/names.ts';
import { toWireRecord } from '../../../shared/record.ts';
import { BATCH_CONTENT_TYPE } from '../../../shared/wire.ts';
import type { RouteModule } from '../context.ts';
import { intParam } from '../query-params.ts';

interface FetchQuery {
  offset?: string;
  max_bytes?: string;
  wait_ms?: string;
}

export const fetchRoutes: RouteModule = {
  name: 'fetch',
  register(app, ctx) {
    const limits = ctx.options.limits;
    app.get<{ Params: { topic: string; partition: string }; Querystring: FetchQuery }>(
      '/v1/topics/:topic/partitions/:partition/records',
      { config: { role: 'read' } },
      async (request, reply) => {
        const started = performance.now();
        const { topic } = request.params;
        assertValidName('topic', topic);
        const partition = intParam(request.params.partition, 'partition', { max: 1_000_000 });
        const offset = intParam(request.query.offset, 'offset');
        const maxBytes = intParam(request.query.max_bytes, 'max_bytes', {
          min: 1,
          max: limits.maxFetchBytes,
          default: Math.min(1024 * 1024, limits.maxFetchBytes),
        });
        const waitMs = intParam(request.query.wait_ms, 'wait_ms', { max: limits.maxWaitMs, default: 0 });
        const partitions = await ctx.topics.partitionsFor(topic, false);
        if (partition >= partitions) throw new PartitionNotFoundError(topic, partition, partitions);

        // The stored bytes are read into reused memory, given back once the response is written (or abandoned).
        const memory = ctx.fetchMemory.forAnswer();
        reply.raw.once('close', () => memory.release());
        const readInto = (size: number) => memory.bufferOf(size);
        let result = await ctx.store.read(topic, partition, offset, maxBytes, readInto);
        if (result.batches.length === 0 && waitMs > 0) {
          const gone = new AbortController();
          const onClose = () => {
            if (!reply.raw.writableFinished) gone.abort();
          };
          reply.raw.once('close', onClose);
          try {
            const signal = AbortSignal.any([gone.signal, ctx.lifecycle.shutdownSignal]);
            if (await ctx.store.waitForAppend(topic, partition, offset, waitMs, signal)) {
              result = await ctx.store.read(topic, partition, offset, maxBytes, readInto);
            }
          } finally {
            reply.raw.off('close', onClose);
          }
          if (gone.signal.aborted) return reply; // nobody to answer
        }

        const binary = String(request.headers.accept ?? '').includes(BATCH_CONTENT_TYPE);
        ctx.metrics.observeFetch(binary ? 'binary' : 'json', (performance.now() - started) / 1000);
        if (binary) {
          return reply
            .header('content-type', BATCH_CONTENT_TYPE)
            .header('tributary-next-offset', String(result.nextOffset))
            .header('tributary-start-offset', String(result.startOffset))
            .header('tributary-end-offset', String(result.endOffset))
            .send(result.batches);
        }
        const records = decodeRecords(result.batches)
          .filter((r) => r.offset >= offset)
          .map(toWireRecord);
        return reply.send({
          records,
          next_offset: result.nextOffset,
          start_offset: result.startOffset,
          end_offset: result.endOffset,
        });
      },
    );
  },
};
