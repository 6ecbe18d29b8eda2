/**
 * TLS: with cert_file and key_file the collector serves HTTPS only; a client trusting the certificate can produce
 * and fetch, plain HTTP on the same port gets no API answer.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { CollectorProcess } from '../helpers/collector-process.ts';

function openssl(): boolean {
  const found = spawnSync('sh', ['-c', 'command -v openssl'], { encoding: 'utf8' });
  if (found.status === 0) return true;
  if (process.env.CI === 'true') throw new Error('openssl is required under CI=true');
  return false;
}

function request(
  url: string,
  ca: Buffer,
  options: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: options.method ?? 'GET', headers: options.headers, ca }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

(openssl() ? test : test.skip)('tls - the collector serves HTTPS with the configured certificate', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-tls-'));
  let collector: CollectorProcess | undefined;
  try {
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    const made = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { encoding: 'utf8' },
    );
    t.is(made.status, 0, made.stderr);
    collector = await CollectorProcess.start({
      config: { tls: { cert_file: cert, key_file: key } },
      ca: readFileSync(cert),
    });
    const base = collector.url;
    const ca = readFileSync(cert);
    const produced = await request(`${base}/v1/topics/secure/records`, ca, {
      method: 'POST',
      body: '{"key":"k","value":"over tls"}\n',
      headers: { 'content-type': 'application/x-ndjson' },
    });
    t.is(produced.status, 200, produced.body);
    const fetched = await request(`${base}/v1/topics/secure/partitions/0/records?offset=0`, ca);
    t.is(fetched.status, 200);
    t.regex(fetched.body, /over tls/);
    // Plain HTTP to the TLS port gets no API answer.
    const plain = await fetch(`http://127.0.0.1:${collector.port}/healthz`).then(
      (r) => r.status,
      () => 'refused',
    );
    t.not(plain, 200);
  } finally {
    await collector?.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});
