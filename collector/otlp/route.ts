/**
 * `POST /v1/logs`: OTLP/HTTP logs (protobuf `application/x-protobuf` or JSON `application/json`, optionally
 * gzip), into the topic of `otlp.topic`, through the one produce path, answered once durable.
 *
 * Same tokens and roles as produce (role `produce`); the same body caps (max_body_bytes, max_decompressed_bytes,
 * streamed inflation), max_records_per_request, max_line_bytes. The answer is an ExportLogsServiceResponse in the
 * request's encoding: empty when everything was stored, with `partial_success` (rejected count and the reasons) when
 * some records could not be (records.ts). A body that is not a valid export is refused whole (400) and nothing is
 * stored; errors use the collector's JSON error body and status codes, which OTLP exporters read by status (429,
 * 502, 503, 504 retried; other 4xx not).
 *
 * The parsers are registered in this route's own fastify scope: `application/json` here is an OTLP body read as
 * bytes, while the rest of the API keeps fastify's JSON parser.
 */
import { performance } from 'node:perf_hooks';
import type { FastifyRequest } from 'fastify';
import { InvalidArgumentError } from '../../shared/errors.ts';
import { readCappedBody } from '../http/body.ts';
import { principalOf, type RouteModule } from '../http/context.ts';
import { decodeExportLogsRequest, type OtlpEncoding } from './decode.ts';
import { toRecords } from './records.ts';
import { EXPORT_LOGS_RESPONSE } from './schema.ts';

export const OTLP_LOGS_PATH = '/v1/logs';
export const PROTOBUF_CONTENT_TYPE = 'application/x-protobuf';
export const JSON_CONTENT_TYPE = 'application/json';

function encodingOf(request: FastifyRequest): OtlpEncoding {
  const type = String(request.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  if (type === PROTOBUF_CONTENT_TYPE) return 'protobuf';
  if (type === JSON_CONTENT_TYPE) return 'json';
  throw new InvalidArgumentError(
    `send OTLP logs as ${PROTOBUF_CONTENT_TYPE} or ${JSON_CONTENT_TYPE} (got Content-Type '${type}')`,
  );
}

export const otlpRoutes: RouteModule = {
  name: 'otlp',
  register(app, ctx) {
    const otlp = ctx.options.otlp ?? { enabled: true, topic: 'otlp' };
    if (!otlp.enabled) return;
    const events = ctx.metrics.receiverEvents('otlp', 'http');
    const limits = ctx.options.limits;
    void app.register(async (scope) => {
      scope.removeContentTypeParser(JSON_CONTENT_TYPE);
      scope.addContentTypeParser(
        [JSON_CONTENT_TYPE, PROTOBUF_CONTENT_TYPE],
        async (request: FastifyRequest, payload: NodeJS.ReadableStream) => readCappedBody(request, payload, limits),
      );
      scope.post(OTLP_LOGS_PATH, { config: { role: 'produce' } }, async (request, reply) => {
        const startedAt = performance.now();
        const encoding = encodingOf(request);
        const body = request.body;
        if (!Buffer.isBuffer(body)) throw new InvalidArgumentError('the request has no body');
        let converted: ReturnType<typeof toRecords>;
        try {
          converted = toRecords(decodeExportLogsRequest(body, encoding), limits, Date.now());
        } catch (error) {
          events.error('malformed');
          throw error;
        }
        const { records, rejected, errorMessage } = converted;
        events.received(records.length + rejected, body.length);
        if (rejected > 0) events.error('oversized', rejected);
        if (records.length > 0) {
          try {
            await ctx.produce.produceRecords(principalOf(request), otlp.topic, records, {
              encoding: 'otlp',
              startedAt,
            });
          } catch (error) {
            events.error('store');
            throw error;
          }
          events.stored(records.length);
        }
        const partialSuccess = rejected > 0 ? { rejectedLogRecords: rejected, errorMessage } : undefined;
        if (encoding === 'protobuf') {
          const message = EXPORT_LOGS_RESPONSE.fromObject(partialSuccess ? { partialSuccess } : {});
          return reply.type(PROTOBUF_CONTENT_TYPE).send(Buffer.from(EXPORT_LOGS_RESPONSE.encode(message).finish()));
        }
        return reply
          .type(JSON_CONTENT_TYPE)
          .send(partialSuccess ? { partialSuccess: { rejectedLogRecords: String(rejected), errorMessage } } : {});
      });
    });
  },
};
