/**
 * The Kafka listener's configuration and the idempotent producer's sequence rules, in process: kafka.* keys parse
 * into options (host:port forms, TLS pairs), bad values name the key, a non-loopback listener without tokens is
 * refused at start; a retried batch is recognised, a gap and an old epoch are refused.
 */
import test from 'ava';
import { startCollector } from '../../collector/collector.ts';
import { parseCollectorConfig } from '../../collector/config.ts';
import { ProducerRegistry } from '../../collector/kafka/producers.ts';
import { ErrorCode } from '../../collector/kafka/protocol.ts';
import { ConfigError } from '../../shared/errors.ts';

test('kafka config - listen and advertised take host:port (IPv6 in brackets); unset means no listener', (t) => {
  t.is(parseCollectorConfig({}).options.kafka, undefined);
  const { options } = parseCollectorConfig({
    kafka: { listen: '[::1]:9092', advertised: 'logs.example.com:19092', max_request_bytes: '8MiB' },
  });
  t.deepEqual(options.kafka?.listen, { host: '::1', port: 9092 });
  t.deepEqual(options.kafka?.advertised, { host: 'logs.example.com', port: 19092 });
  t.is(options.kafka?.maxRequestBytes, 8 * 1024 * 1024);
  t.is(options.kafka?.requestTimeoutMs, 60_000);
});

test('kafka config - a bad address or half a TLS pair is an error naming the key', (t) => {
  t.throws(() => parseCollectorConfig({ kafka: { listen: '9092' } }), {
    instanceOf: ConfigError,
    message: /kafka\.listen/,
  });
  t.throws(() => parseCollectorConfig({ kafka: { listen: 'host:99999' } }), { message: /kafka\.listen/ });
  t.throws(() => parseCollectorConfig({ kafka: { listen: '127.0.0.1:9092', tls: { cert_file: 'c.pem' } } }), {
    message: /kafka\.tls/,
  });
});

test('kafka config - a non-loopback Kafka listener without tokens is refused at start', async (t) => {
  const { options } = parseCollectorConfig({ kafka: { listen: '0.0.0.0:0' }, data_dir: '/nonexistent-unused' });
  await t.throwsAsync(startCollector(options), { instanceOf: ConfigError, message: /Kafka protocol on 0\.0\.0\.0/ });
});

test('idempotent producer - in-order batches append; a retry is answered with its offset; a gap or an old epoch is refused', (t) => {
  const producers = new ProducerRegistry(() => 1_000);
  const id = producers.newProducerId();
  t.true(producers.newProducerId() > id);
  t.deepEqual(producers.check(id, 0, 0, 'p0'), { kind: 'append' });
  producers.appended(id, 0, 0, 10, 100, 'p0');
  t.deepEqual(producers.check(id, 0, 10, 'p0'), { kind: 'append' });
  producers.appended(id, 0, 10, 5, 110, 'p0');
  // The first batch again (a retry after a lost answer): not stored twice.
  t.deepEqual(producers.check(id, 0, 0, 'p0'), { kind: 'duplicate', baseOffset: 100 });
  const gap = producers.check(id, 0, 20, 'p0');
  t.is(gap.kind === 'error' ? gap.errorCode : 0, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  // Another partition keeps its own sequence; a newer epoch starts over.
  t.deepEqual(producers.check(id, 0, 0, 'p1'), { kind: 'append' });
  producers.appended(id, 1, 0, 1, 200, 'p0');
  const old = producers.check(id, 0, 15, 'p0');
  t.is(old.kind === 'error' ? old.errorCode : 0, ErrorCode.INVALID_PRODUCER_EPOCH);
  // Not idempotent: never checked.
  t.deepEqual(producers.check(-1, -1, -1, 'p0'), { kind: 'append' });
});
