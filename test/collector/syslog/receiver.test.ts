/**
 * The syslog receiver in the real collector process, fed by real senders: util-linux `logger` (RFC 5424 and RFC
 * 3164, TCP with both framings, UDP), a private rsyslogd forwarding a file with omfwd, and a TLS client; plus bad
 * input on raw sockets, which must be counted and skipped without closing the other connections.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile, appendFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import test from 'ava';
import { CollectorClient } from '../../../shared/client/collector-client.ts';
import type { WireRecord } from '../../../shared/record.ts';
import { CollectorProcess } from '../../helpers/collector-process.ts';
import { findTool } from '../../helpers/external-tools.ts';
import { needs } from '../../helpers/requirement.ts';
import { freePort } from '../../helpers/ports.ts';
import { waitFor } from '../support.ts';

const run = promisify(execFile);
const RSYSLOG_MODULES = '/usr/lib/x86_64-linux-gnu/rsyslog';
const withLogger = needs(findTool('logger'), 'logger is not installed (apt-get install bsdutils)');
const withRsyslog = needs(
  findTool('rsyslogd', ['/usr/sbin/rsyslogd']),
  'rsyslogd is not installed (apt-get install rsyslog)',
);

let collector: CollectorProcess;
let client: CollectorClient;
let tcpPort: number;
let udpPort: number;
let tlsPort: number;
let dir: string;
let certPem: Buffer;

test.before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-syslog-'));
  // A self-signed certificate for the TLS listener.
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    path.join(dir, 'key.pem'),
    '-out',
    path.join(dir, 'cert.pem'),
  ]);
  certPem = await import('node:fs/promises').then((fs) => fs.readFile(path.join(dir, 'cert.pem')));
  tcpPort = await freePort();
  udpPort = await freePort();
  tlsPort = await freePort();
  collector = await CollectorProcess.start({
    config: {
      syslog: [
        { protocol: 'tcp', port: tcpPort, topic: 'syslog-tcp', max_message_bytes: 4096 },
        { protocol: 'udp', port: udpPort, topic: 'syslog-udp' },
        {
          protocol: 'tls',
          port: tlsPort,
          topic: 'syslog-tls',
          tls: { cert_file: path.join(dir, 'cert.pem'), key_file: path.join(dir, 'key.pem') },
        },
      ],
    },
  });
  client = new CollectorClient({ urls: collector.url });
});

test.after.always(async () => {
  await collector?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function recordsOf(topic: string): Promise<WireRecord[]> {
  try {
    return (await client.fetch(topic, 0, 0, { maxBytes: 16 * 1024 * 1024 })).records;
  } catch {
    return [];
  }
}

async function waitForRecords(topic: string, match: (r: WireRecord) => boolean, count = 1): Promise<WireRecord[]> {
  return await waitFor(`${count} matching records in ${topic}`, async () => {
    const found = (await recordsOf(topic)).filter(match);
    return found.length >= count ? found : undefined;
  });
}

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${collector.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((p) => l.includes(p)));
  return line ? Number(line.split(' ').pop()) : 0;
}

withLogger.test(
  'syslog - logger RFC 5424 over TCP (newline and octet-counting framing): labels, structured data as fields',
  async (t, logger) => {
    const base = ['--server', '127.0.0.1', '--port', String(tcpPort), '--tcp', '--rfc5424', '-i', '-t', 'billing'];
    await run(logger, [
      ...base,
      '-p',
      'local3.warning',
      '--msgid',
      'PAY1',
      '--sd-id',
      'order@32473',
      '--sd-param',
      'id="A-17"',
      '--sd-param',
      'amount="12.50"',
      'payment retried for order A-17',
    ]);
    await run(logger, [...base, '--octet-count', '-p', 'user.err', 'counted frame from logger']);
    const [retried] = await waitForRecords('syslog-tcp', (r) => r.value === 'payment retried for order A-17');
    t.like(retried!.labels, { app: 'billing', msgid: 'PAY1', facility: 'local3', level: 'warning' });
    t.truthy(retried!.labels.host);
    t.is(retried!.labels.procid, undefined, 'the process id is a field, not a label');
    t.truthy(retried!.fields?.procid);
    t.like(retried!.fields, { 'order@32473.id': 'A-17', 'order@32473.amount': '12.50' });
    t.true(Math.abs(retried!.timestamp - Date.now()) < 5 * 60_000);
    const [counted] = await waitForRecords('syslog-tcp', (r) => r.value === 'counted frame from logger');
    t.like(counted!.labels, { facility: 'user', level: 'err', app: 'billing' });
  },
);

withLogger.test('syslog - logger RFC 3164 over UDP and TCP', async (t, logger) => {
  await run(logger, [
    '--server',
    '127.0.0.1',
    '--port',
    String(udpPort),
    '--udp',
    '--rfc3164',
    '-t',
    'cron',
    '-p',
    'cron.info',
    'udp bsd message',
  ]);
  await run(logger, [
    '--server',
    '127.0.0.1',
    '--port',
    String(tcpPort),
    '--tcp',
    '--rfc3164',
    '-t',
    'sshd',
    '-p',
    'auth.notice',
    'tcp bsd message',
  ]);
  const [udp] = await waitForRecords('syslog-udp', (r) => r.value === 'udp bsd message');
  t.like(udp!.labels, { app: 'cron', facility: 'cron', level: 'info' });
  const [tcp] = await waitForRecords('syslog-tcp', (r) => r.value === 'tcp bsd message');
  t.like(tcp!.labels, { app: 'sshd', facility: 'auth', level: 'notice', host: os.hostname() });
});

withRsyslog.test(
  'syslog - rsyslog omfwd forwards a file to the TCP listener, every line arrives in order',
  async (t, rsyslogd) => {
    const work = await mkdtemp(path.join(dir, 'rsyslog-'));
    const input = path.join(work, 'app.log');
    await writeFile(input, '');
    const conf = path.join(work, 'rsyslog.conf');
    await writeFile(
      conf,
      `global(workDirectory="${work}")
module(load="${RSYSLOG_MODULES}/imfile.so" mode="polling" pollingInterval="1")
ruleset(name="fwd") {
  action(type="omfwd" target="127.0.0.1" port="${tcpPort}" protocol="tcp" tcp_framing="octet-counted"
         template="RSYSLOG_SyslogProtocol23Format" action.resumeRetryCount="-1")
}
input(type="imfile" file="${input}" tag="shop" facility="local0" severity="info" ruleset="fwd" addMetadata="off")
`,
    );
    const child = spawn(rsyslogd, ['-n', '-f', conf, '-i', path.join(work, 'rsyslogd.pid'), '-M', RSYSLOG_MODULES], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    try {
      const lines = Array.from({ length: 500 }, (_v, i) => `order ${String(i).padStart(4, '0')} shipped`);
      await appendFile(input, `${lines.slice(0, 250).join('\n')}\n`);
      await new Promise((r) => setTimeout(r, 500));
      await appendFile(input, `${lines.slice(250).join('\n')}\n`);
      const got = await waitForRecords('syslog-tcp', (r) => r.labels.app === 'shop', 500).catch((error: Error) => {
        throw new Error(`${error.message}; rsyslogd said: ${stderr}`);
      });
      t.deepEqual(
        got.map((r) => r.value),
        lines,
      );
      t.like(got[0]!.labels, { facility: 'local0', level: 'info' });
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  },
);

test('syslog - TLS listener (RFC 5425): octet-counted messages over TLS are stored', async (t) => {
  const socket = tls.connect({ host: '127.0.0.1', port: tlsPort, ca: certPem });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  const msg = '<134>1 2026-12-02T10:00:00.000Z edge-1 haproxy 77 - - tls frame one';
  socket.end(`${Buffer.byteLength(msg)} ${msg}`);
  const [r] = await waitForRecords('syslog-tls', (x) => x.value === 'tls frame one');
  t.like(r!.labels, { host: 'edge-1', app: 'haproxy', facility: 'local0', level: 'info' });
  t.deepEqual(r!.fields, { procid: '77' });
  t.is(r!.timestamp, Date.UTC(2026, 11, 2, 10, 0, 0));
  t.true((await metric('tributary_collector_receiver_connections_opened_total', 'transport="tls"')) >= 1);
});

test('syslog - malformed and oversized messages are counted and skipped; the connection and others stay open', async (t) => {
  const before = {
    malformed: await metric('tributary_collector_receiver_errors_total', 'transport="tcp",kind="malformed"'),
    oversized: await metric('tributary_collector_receiver_errors_total', 'transport="tcp",kind="oversized"'),
  };
  const other = net.connect({ host: '127.0.0.1', port: tcpPort });
  const bad = net.connect({ host: '127.0.0.1', port: tcpPort });
  await Promise.all([other, bad].map((s) => new Promise((r) => s.once('connect', r))));
  let badClosed = false;
  bad.on('close', () => {
    badClosed = true;
  });
  bad.write('no priority at all\n');
  bad.write(`<13>${'x'.repeat(10_000)}\n`); // above max_message_bytes (4096), newline framed
  bad.write(`9000 <13>${'y'.repeat(8995)}`); // above the cap, octet counted: skipped by its length
  bad.write('12x not a count\n');
  bad.write('<13>1 bad-time host app - - - m\n');
  bad.write('<13>Dec  2 10:00:00 h app: survivor on the bad connection\n');
  other.write('<14>Dec  2 10:00:00 h app: from the other connection\n');
  await waitForRecords('syslog-tcp', (r) => r.value === 'survivor on the bad connection');
  await waitForRecords('syslog-tcp', (r) => r.value === 'from the other connection');
  await waitFor('error counters', async () => {
    const malformed = await metric('tributary_collector_receiver_errors_total', 'transport="tcp",kind="malformed"');
    const oversized = await metric('tributary_collector_receiver_errors_total', 'transport="tcp",kind="oversized"');
    return malformed - before.malformed === 3 && oversized - before.oversized === 2 ? true : undefined;
  });
  t.false(badClosed);
  bad.write('<13>Dec  2 10:00:01 h app: still writable\n');
  await waitForRecords('syslog-tcp', (r) => r.value === 'still writable');
  other.destroy();
  bad.destroy();
});
