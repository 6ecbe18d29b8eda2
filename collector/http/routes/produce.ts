/**
 * `POST /v1/topics/{topic}/records`: reads the body (binary batches or NDJSON), validates all of it, and hands the
 * batches to the produce path (collector/produce/produce.ts), which answers once every append is durable.
 */
import { performance } from 'node:perf_hooks';
import { InvalidArgumentError } from '../../../shared/errors.ts';
import { assertValidName } from '../../../shared/names.ts';
import { BATCH_CONTENT_TYPE, NDJSON_CONTENT_TYPE } from '../../../shared/wire.ts';
import { decodeBinaryBody, decodeNdjsonBody } from '../../produce/produce-body.ts';
import { produceResponseBody } from '../../produce/produce.ts';
import { principalOf, type RouteModule } from '../context.ts';

export const produceRoutes: RouteModule = {
  name: 'produce',
  register(app, ctx) {
    app.post<{ Params: { topic: string } }>(
      '/v1/topics/:topic/records',
      { config: { role: 'produce' } },
      async (request, reply) => {
        const startedAt = performance.now();
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
        const result = await ctx.produce.produce(principalOf(request), topic, batches, {
          encoding: binary ? 'binary' : 'ndjson',
          startedAt,
        });
        return reply.send(produceResponseBody(result));
      },
    );
  },
};
