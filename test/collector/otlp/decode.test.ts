import { SeverityNumber } from '@opentelemetry/api-logs';
import { JsonLogsSerializer, ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import test from 'ava';
import { decodeExportLogsRequest } from '../../../collector/otlp/decode.ts';
import { toRecords } from '../../../collector/otlp/records.ts';
import { InvalidArgumentError } from '../../../shared/errors.ts';

const TRACE = '5b8efff798038103d269b633813fc60c';
const SPAN = 'eee19b7ec3c1b174';

/** Log records as the OpenTelemetry SDK makes them, serialized by its own OTLP serializers. */
function sdkExport(): { protobuf: Buffer; json: Buffer } {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout', 'host.name': 'web-1', 'deployment.env': 'prod' }),
    processors: [new SimpleLogRecordProcessor({ exporter })],
  });
  const logger = provider.getLogger('shop.checkout', '1.2.3');
  logger.emit({
    timestamp: new Date(Date.UTC(2026, 11, 2, 10, 0, 0, 123)),
    severityNumber: SeverityNumber.WARN,
    severityText: 'WARN',
    body: 'payment retried',
    attributes: { 'order.id': 'A-17', attempt: 2, ok: false },
    context: undefined,
  });
  logger.emit({ severityNumber: SeverityNumber.ERROR, body: { code: 42, tags: ['a', 'b'] } });
  const records = exporter.getFinishedLogRecords();
  return {
    protobuf: Buffer.from(ProtobufLogsSerializer.serializeRequest(records)!),
    json: Buffer.from(JsonLogsSerializer.serializeRequest(records)!),
  };
}

for (const encoding of ['protobuf', 'json'] as const) {
  test(`${encoding}: an SDK export decodes to labelled records with body, severity, attributes`, (t) => {
    const body = sdkExport()[encoding];
    const decoded = decodeExportLogsRequest(body, encoding);
    const { records, rejected } = toRecords(decoded, { maxLineBytes: 1024 }, 1);
    t.is(rejected, 0);
    t.is(records.length, 2);
    const [warn, error] = records;
    t.is(warn!.key, 'web-1/checkout');
    t.like(warn!.labels, {
      'service.name': 'checkout',
      service: 'checkout',
      'host.name': 'web-1',
      host: 'web-1',
      'deployment.env': 'prod',
      level: 'warn',
    });
    t.is(warn!.timestamp, Date.UTC(2026, 11, 2, 10, 0, 0, 123));
    t.is(Buffer.from(warn!.value).toString(), 'payment retried');
    t.like(warn!.fields, {
      'order.id': 'A-17',
      attempt: '2',
      ok: 'false',
      severity_number: '13',
      severity_text: 'WARN',
      'scope.name': 'shop.checkout',
      'scope.version': '1.2.3',
    });
    t.is(error!.labels.level, 'error');
    t.deepEqual(JSON.parse(Buffer.from(error!.value).toString()), { code: 42, tags: ['a', 'b'] });
  });
}

test('JSON: trace and span ids are hex, 64-bit numbers as strings, bytes as base64 (OTLP JSON encoding)', (t) => {
  const body = Buffer.from(
    JSON.stringify({
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'api' } }] },
          scopeLogs: [
            {
              scope: { name: 'x' },
              logRecords: [
                {
                  timeUnixNano: '1544712660300000000',
                  severityNumber: 10,
                  body: { bytesValue: Buffer.from([1, 2, 255]).toString('base64') },
                  traceId: TRACE,
                  spanId: SPAN,
                  flags: 1,
                  attributes: [{ key: 'big', value: { intValue: '9007199254740993' } }],
                },
              ],
            },
          ],
        },
      ],
    }),
  );
  const { records } = toRecords(decodeExportLogsRequest(body, 'json'), { maxLineBytes: 1024 }, 1);
  t.is(records[0]!.timestamp, 1544712660300);
  t.deepEqual([...records[0]!.value], [1, 2, 255]);
  t.like(records[0]!.fields, { trace_id: TRACE, span_id: SPAN, trace_flags: '01', big: '9007199254740993' });
  t.is(records[0]!.labels.level, 'info');
  t.is(records[0]!.key, '-/api');
});

test('a record too large for max_line_bytes is rejected alone (partial success)', (t) => {
  const body = Buffer.from(
    JSON.stringify({
      resourceLogs: [
        {
          scopeLogs: [{ logRecords: [{ body: { stringValue: 'x'.repeat(100) } }, { body: { stringValue: 'short' } }] }],
        },
      ],
    }),
  );
  const r = toRecords(decodeExportLogsRequest(body, 'json'), { maxLineBytes: 50 }, 7);
  t.is(r.rejected, 1);
  t.regex(r.errorMessage, /max_line_bytes/);
  t.is(r.records.length, 1);
  t.is(r.records[0]!.timestamp, 7);
  t.is(r.records[0]!.key, '-/unknown_service');
});

test('malformed bodies are a clear InvalidArgumentError', (t) => {
  const cases: [string | Buffer, 'json' | 'protobuf'][] = [
    ['{', 'json'],
    ['[]', 'json'],
    ['{"resourceLogs": 3}', 'json'],
    ['{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "xyz"}]}]}]}', 'json'],
    ['{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "abcd"}]}]}]}', 'json'],
    ['{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": -1}]}]}]}', 'json'],
    [Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), 'protobuf'],
    [Buffer.from([0xff, 0xff]), 'protobuf'],
  ];
  for (const [body, encoding] of cases) {
    const error = t.throws(() => decodeExportLogsRequest(Buffer.from(body), encoding), {
      instanceOf: InvalidArgumentError,
    });
    t.regex(error.message, /OTLP/);
  }
  let deep = '{"stringValue":"x"}';
  for (let i = 0; i < 100; i++) deep = `{"arrayValue":{"values":[${deep}]}}`;
  t.throws(
    () =>
      decodeExportLogsRequest(
        Buffer.from(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":${deep}}]}]}]}`),
        'json',
      ),
    { instanceOf: InvalidArgumentError, message: /nested deeper/ },
  );
});
