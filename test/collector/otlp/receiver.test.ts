/**
 * OTLP/HTTP logs at POST /v1/logs of the real collector process, with the OpenTelemetry JavaScript SDK's own OTLP
 * exporters as the client (protobuf with gzip, JSON), the collector's tokens and roles, partial success, and bad
 * bodies that must store nothing.
 */
import { gzipSync } from 'node:zlib';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPLogExporter as JsonExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  InMemoryLogRecordExporter,
  LoggerProvider,
  type LogRecordExporter,
  type ReadableLogRecord,
  SimpleLogRecordProcessor,
} from '@opentelemetry/sdk-logs';
import test from 'ava';
import { CollectorClient } from '../../../shared/client/collector-client.ts';
import type { WireRecord } from '../../../shared/record.ts';
import { CollectorProcess } from '../../helpers/collector-process.ts';
import { call, errorOf, PRODUCE_TOKEN, READ_TOKEN, TOKENS, waitFor } from '../support.ts';

let collector: CollectorProcess;
let reader: CollectorClient;

test.before(async () => {
  collector = await CollectorProcess.start({
    config: { tokens: TOKENS, otlp: { topic: 'otel' }, limits: { max_line_bytes: 4096 } },
  });
  reader = new CollectorClient({ urls: collector.url, token: READ_TOKEN });
});

test.after.always(async () => {
  await collector?.dispose();
});

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

/** Log records made by the SDK (resource, scope, severity, attributes, trace context). */
function sdkRecords(service: string, bodies: readonly string[]): ReadableLogRecord[] {
  const memory = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': service, 'host.name': 'node-7', 'service.version': '2.1.0' }),
    processors: [new SimpleLogRecordProcessor({ exporter: memory })],
  });
  const logger = provider.getLogger('orders', '0.9.0');
  for (const body of bodies) {
    logger.emit({
      severityNumber: SeverityNumber.ERROR,
      severityText: 'ERROR',
      body,
      attributes: { 'http.route': '/orders/:id', retry: 3 },
      timestamp: new Date(Date.UTC(2026, 11, 2, 9, 30, 0, 5)),
      context: trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 }),
    });
  }
  return memory.getFinishedLogRecords();
}

async function exportWith(exporter: LogRecordExporter, records: ReadableLogRecord[]) {
  const result = await new Promise<{ code: ExportResultCode; error?: Error }>((resolve) =>
    exporter.export(records, resolve),
  );
  await exporter.shutdown();
  return result;
}

async function stored(): Promise<WireRecord[]> {
  try {
    return (await reader.fetch('otel', 0, 0, { maxBytes: 16 * 1024 * 1024 })).records;
  } catch {
    return [];
  }
}

for (const [name, make] of [
  [
    'protobuf + gzip (exporter-logs-otlp-proto)',
    () =>
      new ProtoExporter({
        url: `${collector.url}/v1/logs`,
        headers: { Authorization: `Bearer ${PRODUCE_TOKEN}` },
        compression: CompressionAlgorithm.GZIP,
      }),
  ],
  [
    'JSON (exporter-logs-otlp-http)',
    () => new JsonExporter({ url: `${collector.url}/v1/logs`, headers: { Authorization: `Bearer ${PRODUCE_TOKEN}` } }),
  ],
] as const) {
  test.serial(
    `otlp - the SDK's ${name} exporter: records stored with resource labels, severity, trace ids`,
    async (t) => {
      const service = name.startsWith('protobuf') ? 'checkout-proto' : 'checkout-json';
      const bodies = Array.from({ length: 50 }, (_v, i) => `${service} order ${i} failed`);
      const result = await exportWith(make(), sdkRecords(service, bodies));
      t.is(result.code, ExportResultCode.SUCCESS, result.error?.message);
      const got = await waitFor('stored', async () => {
        const mine = (await stored()).filter((r) => r.labels.service === service);
        return mine.length === bodies.length ? mine : undefined;
      });
      t.deepEqual(
        got.map((r) => r.value),
        bodies,
      );
      t.like(got[0]!.labels, {
        'service.name': service,
        'host.name': 'node-7',
        host: 'node-7',
        'service.version': '2.1.0',
        level: 'error',
      });
      t.is(got[0]!.key, `node-7/${service}`);
      t.is(got[0]!.timestamp, Date.UTC(2026, 11, 2, 9, 30, 0, 5));
      t.like(got[0]!.fields, {
        trace_id: TRACE_ID,
        span_id: SPAN_ID,
        trace_flags: '01',
        severity_text: 'ERROR',
        severity_number: '17',
        'http.route': '/orders/:id',
        retry: '3',
        'scope.name': 'orders',
      });
    },
  );
}

test.serial(
  'otlp - the same tokens and roles as produce: no token 401, a read token 403, nothing stored',
  async (t) => {
    const before = (await stored()).length;
    const result = await exportWith(
      new JsonExporter({
        url: `${collector.url}/v1/logs`,
        headers: { Authorization: 'Bearer not-a-valid-token-at-all' },
      }),
      sdkRecords('intruder', ['x']),
    );
    t.is(result.code, ExportResultCode.FAILED);
    const body = JSON.stringify({ resourceLogs: [] });
    const headers = { 'content-type': 'application/json' };
    t.is((await call(`${collector.url}/v1/logs`, { method: 'POST', body, headers })).status, 401);
    t.is((await call(`${collector.url}/v1/logs`, { method: 'POST', body, headers, token: READ_TOKEN })).status, 403);
    t.is((await stored()).length, before);
  },
);

test.serial('otlp - a record too large is rejected alone: partial success in JSON and protobuf answers', async (t) => {
  const body = JSON.stringify({
    resourceLogs: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'partial' } }] },
        scopeLogs: [
          {
            logRecords: [
              { body: { stringValue: 'z'.repeat(5000) } },
              { body: { stringValue: 'kept beside a rejected one' } },
            ],
          },
        ],
      },
    ],
  });
  const res = await call(`${collector.url}/v1/logs`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
    token: PRODUCE_TOKEN,
  });
  t.is(res.status, 200);
  const answer = res.json as { partialSuccess: { rejectedLogRecords: string; errorMessage: string } };
  t.is(answer.partialSuccess.rejectedLogRecords, '1');
  t.regex(answer.partialSuccess.errorMessage, /max_line_bytes/);
  await waitFor('the kept record', async () =>
    (await stored()).some((r) => r.value === 'kept beside a rejected one') ? true : undefined,
  );
  t.false((await stored()).some((r) => r.value?.startsWith('zzz')));
});

test.serial('otlp - bad bodies: 400 or 413 with a clear error, nothing stored', async (t) => {
  const before = (await stored()).length;
  const post = (body: Buffer | string, type: string, extra: Record<string, string> = {}) =>
    call(`${collector.url}/v1/logs`, {
      method: 'POST',
      body,
      headers: { 'content-type': type, ...extra },
      token: PRODUCE_TOKEN,
    });
  const notJson = await post('{"resourceLogs": [', 'application/json');
  t.is(notJson.status, 400);
  t.regex(errorOf(notJson).message, /OTLP/);
  const badProto = await post(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), 'application/x-protobuf');
  t.is(badProto.status, 400);
  const badShape = await post(
    '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"zz"}]}]}]}',
    'application/json',
  );
  t.is(badShape.status, 400);
  t.regex(errorOf(badShape).message, /traceId/);
  const wrongType = await post('x', 'text/plain');
  t.true(wrongType.status === 400 || wrongType.status === 415);
  // A gzip bomb: 64 MiB of zeros, inflated only up to max_decompressed_bytes.
  const bomb = await post(gzipSync(Buffer.alloc(128 * 1024 * 1024)), 'application/x-protobuf', {
    'content-encoding': 'gzip',
  });
  t.is(bomb.status, 413);
  t.is((await stored()).length, before);
});
