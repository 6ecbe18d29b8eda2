import test from 'ava';
import { parseCollectorConfig } from '../../collector/config.ts';
import { ConfigError } from '../../shared/errors.ts';

test('syslog listeners: defaults, and the rules that keep them safe', (t) => {
  const ok = parseCollectorConfig({ syslog: [{ protocol: 'tcp', port: 5514 }] }, '/etc/tributary').options;
  t.like(ok.syslog![0], {
    protocol: 'tcp',
    host: '127.0.0.1',
    port: 5514,
    topic: 'syslog',
    maxMessageBytes: 64 * 1024,
    maxConnections: 1000,
    maxPendingBytes: 1024 * 1024,
  });
  t.deepEqual(ok.otlp, { enabled: true, topic: 'otlp' });
  const refuse = (raw: unknown, message: RegExp) =>
    t.throws(() => parseCollectorConfig(raw), { instanceOf: ConfigError, message });
  refuse({ syslog: [{ protocol: 'tcp', host: '0.0.0.0', port: 514 }] }, /syslog\.0\.host: .*allow_unauthenticated/);
  refuse({ syslog: [{ protocol: 'tls', port: 6514 }] }, /syslog\.0\.tls: protocol tls needs cert_file/);
  refuse({ syslog: [{ protocol: 'udp', port: 514, tls: { cert_file: 'a' } }] }, /only protocol tls/);
  refuse({ syslog: [{ protocol: 'tcp', port: 514, topic: '../x' }] }, /syslog\.0\.topic/);
  refuse(
    { limits: { max_line_bytes: '4KiB' }, syslog: [{ protocol: 'tcp', port: 514, max_message_bytes: '8KiB' }] },
    /max_message_bytes.*max_line_bytes/,
  );
  refuse({ syslog: [{ protocol: 'sctp', port: 514 }] }, /protocol/);
  refuse({ otlp: { topic: 'a/b' } }, /otlp\.topic/);
  // Off loopback: allowed with client certificates, or when the network is declared trusted.
  t.notThrows(() =>
    parseCollectorConfig({
      syslog: [{ protocol: 'tls', host: '0.0.0.0', port: 6514, tls: { cert_file: 'c', key_file: 'k', ca_file: 'ca' } }],
    }),
  );
  t.notThrows(() =>
    parseCollectorConfig({ allow_unauthenticated: true, syslog: [{ protocol: 'udp', host: '0.0.0.0', port: 514 }] }),
  );
});
