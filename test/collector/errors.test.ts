/**
 * One error envelope, `{"error": {"code", "message"}}`, for every status the collector answers — including those
 * fastify raises itself before a route runs — and the statuses HTTP clients expect: 405 with `Allow` for a wrong
 * method on a route, 414 for an over-long name, 415 with its own code. Against a real collector process.
 */
import test from 'ava';
import { CollectorProcess } from '../helpers/collector-process.ts';

interface Envelope {
  readonly error: { readonly code: string; readonly message: string };
}

async function call(url: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: Envelope }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: Envelope;
  try {
    body = JSON.parse(text) as Envelope;
  } catch {
    throw new Error(`${res.status}: not JSON: ${text}`);
  }
  return { status: res.status, headers: res.headers, body };
}

test('errors - every status carries the API envelope, fastify-raised ones included', async (t) => {
  const collector = await CollectorProcess.start();
  t.teardown(() => collector.dispose());
  const url = collector.url;

  const long = await call(`${url}/v1/topics/${'a'.repeat(5000)}/records`, { method: 'POST', body: 'x' });
  t.is(long.status, 414);
  t.is(long.body.error.code, 'uri_too_long');
  t.regex(long.body.error.message, /at most 200 characters/);

  const badEscape = await call(`${url}/v1/topics/%ZZ/records`);
  t.is(badEscape.status, 400);
  t.is(badEscape.body.error.code, 'invalid_argument');
  t.regex(badEscape.body.error.message, /not a valid URL/);

  const wrongMethod = await call(`${url}/v1/topics/app/records`);
  t.is(wrongMethod.status, 405);
  t.is(wrongMethod.body.error.code, 'method_not_allowed');
  t.is(wrongMethod.headers.get('allow'), 'POST');

  const media = await call(`${url}/v1/topics/app/records`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml' },
    body: '<x/>',
  });
  t.is(media.status, 415);
  t.is(media.body.error.code, 'unsupported_media_type');

  const missing = await call(`${url}/v1/nope`);
  t.is(missing.status, 404);
  t.is(missing.body.error.code, 'not_found');

  const nosuch = await call(`${url}/v1/topics/nosuch/query`);
  t.is(nosuch.status, 404);
  t.is(nosuch.body.error.code, 'topic_not_found');
});
