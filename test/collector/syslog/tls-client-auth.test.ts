/**
 * A TLS syslog listener with `tls.ca_file` authenticates senders by client certificate (the way a syslog listener
 * off loopback is allowed without allow_unauthenticated): a sender without a certificate, or with one from another
 * CA, is refused and counted (`tls`); one with a certificate from the CA is read. Real TLS on a real socket; the
 * produce path is replaced by a list the test reads.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import test from 'ava';
import type { ReceiverErrorKind } from '../../../collector/receivers/receiver-events.ts';
import { SyslogReceiver } from '../../../collector/syslog/receiver.ts';
import { decodeRecords } from '../../../shared/batch-codec.ts';
import { silentLogger } from '../../../shared/logger.ts';
import { waitFor } from '../support.ts';

const run = promisify(execFile);

async function makeCa(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.crt`);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  return { cert, key };
}

async function issue(dir: string, ca: { cert: string; key: string }, name: string, ip?: string) {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.crt`);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', key, '-out', csr]);
  const ext = path.join(dir, `${name}.ext`);
  await import('node:fs/promises').then((fs) =>
    fs.writeFile(ext, ip ? `subjectAltName=IP:${ip}\n` : 'basicConstraints=CA:FALSE\n'),
  );
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    ext,
    '-out',
    cert,
  ]);
  return { cert, key };
}

test('tls with ca_file: only senders with a certificate from the CA are read; the others are refused and counted', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-syslog-mtls-'));
  const delivered: string[] = [];
  const errors: ReceiverErrorKind[] = [];
  let receiver: SyslogReceiver | undefined;
  try {
    const ca = await makeCa(dir, 'ca');
    const other = await makeCa(dir, 'other-ca');
    const server = await issue(dir, ca, 'server', '127.0.0.1');
    const client = await issue(dir, ca, 'client');
    const stranger = await issue(dir, other, 'stranger');
    receiver = new SyslogReceiver({
      listener: {
        protocol: 'tls',
        host: '127.0.0.1',
        port: 0,
        topic: 't',
        maxMessageBytes: 4096,
        maxConnections: 10,
        maxPendingBytes: 64 * 1024,
        tls: { certFile: server.cert, keyFile: server.key, caFile: ca.cert },
      },
      limits: { maxRecordsPerRequest: 500_000, maxLineBytes: 1024 * 1024 },
      deliver: async (batches) => {
        for (const b of batches) for (const r of decodeRecords(b.bytes)) delivered.push(r.value.toString());
      },
      events: {
        received() {},
        stored() {},
        error: (kind) => errors.push(kind),
        connectionOpened() {},
        connectionClosed() {},
      },
      logger: silentLogger(),
    });
    await receiver.start();
    const caPem = await readFile(ca.cert);
    const send = async (creds: { cert: string; key: string } | undefined, text: string) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port: receiver!.port,
        ca: caPem,
        ...(creds ? { cert: await readFile(creds.cert), key: await readFile(creds.key) } : {}),
      });
      socket.on('error', () => {});
      await new Promise<void>((resolve) => {
        socket.once('secureConnect', () => {
          socket.end(`<13>Dec  2 10:00:00 h app: ${text}\n`);
        });
        socket.once('close', () => resolve());
      });
    };
    await send(undefined, 'no certificate');
    await send(stranger, 'certificate from another CA');
    await send(client, 'trusted sender');
    await waitFor('the trusted message', () => (delivered.includes('trusted sender') ? true : undefined), 30_000);
    await waitFor(
      'two refusals counted',
      () => (errors.filter((e) => e === 'tls').length >= 2 ? true : undefined),
      30_000,
    );
    t.deepEqual(delivered, ['trusted sender']);
  } finally {
    await receiver?.close(5000);
    await rm(dir, { recursive: true, force: true });
  }
});
