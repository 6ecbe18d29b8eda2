/**
 * Authentication on the Kafka listener: with tokens configured, clients authenticate with SASL/PLAIN (the password
 * is a token) and the token's role decides what they may do. A wrong token is refused and gets no data; a token
 * without the role gets the Kafka authorization error, never data; and SASL over the TLS listener with a
 * self-signed certificate (kafka.tls) works end to end.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { CollectorClient } from '../../shared/client/collector-client.ts';
import { ADMIN_TOKEN, PRODUCE_TOKEN, READ_TOKEN, TOKENS } from '../collector/support.ts';
import { withKcat, type KafkaCollector, run, startKafkaCollector } from './support.ts';

let dir: string;
let cert: string;
let kafka: KafkaCollector;
let client: CollectorClient;

test.before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-kafka-tls-'));
  cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const made = spawnSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1'],
      ...['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    ],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`openssl failed (required for this test): ${made.stderr}`);
  kafka = await startKafkaCollector({ config: { tokens: TOKENS, kafka: { tls: { cert_file: cert, key_file: key } } } });
  client = new CollectorClient({ urls: kafka.collector.url, token: ADMIN_TOKEN });
  await client.produce('secure', [{ key: 'k', value: 'secret line', labels: { host: 'h' } }]);
});

test.after.always(async () => {
  await kafka?.collector.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function sasl(token: string): string[] {
  return [
    ...['-X', 'security.protocol=SASL_SSL', '-X', 'sasl.mechanisms=PLAIN', '-X', 'sasl.username=user'],
    ...['-X', `sasl.password=${token}`, '-X', `ssl.ca.location=${cert}`],
  ];
}

withKcat.test(
  'auth - SASL/PLAIN over TLS with a read token consumes; with the produce token it produces',
  async (t) => {
    const produced = await run(
      'kcat',
      ['-b', kafka.bootstrap, ...sasl(PRODUCE_TOKEN), '-P', '-t', 'secure', '-k', 'k'],
      'produced over kafka\n',
    );
    t.is(produced.code, 0, produced.stderr);
    const consumed = await run('kcat', [
      ...['-b', kafka.bootstrap, ...sasl(READ_TOKEN), '-C', '-t', 'secure', '-o', 'beginning', '-e', '-q'],
      ...['-f', '%s\n'],
    ]);
    t.is(consumed.code, 0, consumed.stderr);
    t.deepEqual(consumed.stdout.trim().split('\n'), ['secret line', 'produced over kafka']);
  },
);

withKcat.test('auth - a wrong token is refused with an authentication error and gets no data', async (t) => {
  const consumed = await run(
    'kcat',
    [
      ...[
        '-b',
        kafka.bootstrap,
        ...sasl('wrong-token-0123456789abcdef'),
        '-C',
        '-t',
        'secure',
        '-o',
        'beginning',
        '-e',
      ],
    ],
    '',
    20_000,
  );
  t.not(consumed.code, 0);
  t.notRegex(consumed.stdout, /secret line/);
  t.regex(consumed.stderr, /[Aa]uthentication failed|SASL/);
});

withKcat.test('auth - a token without the role gets the Kafka authorization error, never data', async (t) => {
  // The produce token may not read.
  const consumed = await run(
    'kcat',
    [...['-b', kafka.bootstrap, ...sasl(PRODUCE_TOKEN), '-C', '-t', 'secure', '-o', 'beginning', '-e']],
    '',
    20_000,
  );
  t.notRegex(consumed.stdout, /secret line/);
  t.regex(consumed.stderr, /[Aa]uthoriz/);
  // The read token may not produce.
  const produced = await run(
    'kcat',
    ['-b', kafka.bootstrap, ...sasl(READ_TOKEN), '-P', '-t', 'secure', '-k', 'k'],
    'must not be stored\n',
    30_000,
  );
  t.not(produced.code, 0);
  t.regex(produced.stderr, /[Aa]uthoriz/);
  const info = await client.describeTopic('secure');
  const total = info.partitions.reduce((n, p) => n + p.end_offset, 0);
  const lines = [];
  for (const p of info.partitions)
    lines.push(...(await client.fetch('secure', p.partition, 0)).records.map((r) => r.value));
  t.false(lines.includes('must not be stored'));
  t.true(total >= 1);
});

withKcat.test('auth - a client that skips SASL is disconnected before any data', async (t) => {
  const consumed = await run(
    'kcat',
    [
      ...[
        '-b',
        kafka.bootstrap,
        '-X',
        'security.protocol=SSL',
        '-X',
        `ssl.ca.location=${cert}`,
        '-C',
        '-t',
        'secure',
        '-e',
      ],
    ],
    '',
    15_000,
  );
  t.not(consumed.code, 0);
  t.notRegex(consumed.stdout, /secret line/);
});
