/** Helpers shared by the collector's tests: an HTTP call with a token, polling with a deadline, batch building. */
import { encodeBatch } from '../../shared/batch-codec.ts';

export const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
export const PRODUCE_TOKEN = 'produce-token-0123456789abcdef';
export const READ_TOKEN = 'read-token-0123456789abcdef';

export const TOKENS = [
  { name: 'admin', token: ADMIN_TOKEN, role: 'admin' },
  { name: 'agent', token: PRODUCE_TOKEN, role: 'produce' },
  { name: 'reader', token: READ_TOKEN, role: 'read' },
];

export interface CallResult {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: unknown;
}

export async function call(
  url: string,
  init: { method?: string; body?: string | Buffer; headers?: Record<string, string>; token?: string } = {},
): Promise<CallResult> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  const res = await fetch(url, { method: init.method ?? 'GET', headers, body: init.body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export function errorOf(result: CallResult): { code: string; message: string } {
  const body = result.json as { error?: { code: string; message: string } } | undefined;
  if (!body?.error) throw new Error(`expected an error body, got ${result.status} ${result.text}`);
  return body.error;
}

export function ndjson(records: readonly object[]): string {
  return `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;
}

/** One batch of `count` records for `key`, values `${prefix}-${i}`. */
export function batchOf(key: string, count: number, prefix = key, timestamp = 1_764_000_000_000): Buffer {
  return encodeBatch({
    key,
    labels: { host: 'test' },
    records: Array.from({ length: count }, (_v, i) => ({
      timestamp: timestamp + i,
      value: Buffer.from(`${prefix}-${i}`),
    })),
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v as T;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
    await sleep(100);
  }
}

/** Parses Prometheus text exposition into samples (name, labels, value); comments skipped. */
export function parsePrometheusText(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    }
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}
