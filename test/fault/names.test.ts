/**
 * Hostile topic and group names over HTTP, against the real collector: `..`, `/` (raw and as %2F), NUL, a
 * backslash, look-alike unicode (Cyrillic 'а', fullwidth '／', a combining dot), over-long names, in every place a
 * name enters: the path of produce, fetch, offsets, describe and group offsets, the body of topic creation and of a
 * group commit. Each is refused with 400 invalid_argument and a message naming the problem (a raw '/' splits the
 * path, so no route matches it: 404), and the directory tree around the data directory is identical before and
 * after: nothing was created inside it, nothing outside it.
 *
 * Requests go through node:http with the path written as is: fetch (WHATWG URL) would normalise `..` and `%2e%2e`
 * away before sending, hiding exactly what an attacker's client would send.
 */
import http from 'node:http';
import { readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { CollectorProcess } from '../helpers/collector-process.ts';
import { listTree } from './support.ts';

const MARK = `escape${process.pid}`;

/** Names as they appear in a URL path segment (already percent-encoded where a client would encode). */
const PATH_NAMES: readonly { readonly what: string; readonly segment: string; readonly rawSlash?: boolean }[] = [
  { what: "'..'", segment: '..' },
  { what: "'.'", segment: '.' },
  { what: "'%2E%2E'", segment: '%2E%2E' },
  { what: "'..%2F..%2F<mark>'", segment: `..%2F..%2F${MARK}` },
  { what: "'a%2Fb'", segment: 'a%2Fb' },
  { what: "'%2Ftmp%2F<mark>'", segment: `%2Ftmp%2F${MARK}` },
  { what: "'a%5Cb' (backslash)", segment: 'a%5Cb' },
  { what: "'..%5C<mark>'", segment: `..%5C${MARK}` },
  { what: 'NUL', segment: 'a%00b' },
  { what: 'Cyrillic а', segment: encodeURIComponent('t\u0430pic') },
  { what: 'fullwidth ／', segment: encodeURIComponent('a\uff0fb') },
  { what: 'fullwidth ．．', segment: encodeURIComponent('\uff0e\uff0e') },
  { what: 'combining dot', segment: encodeURIComponent('a\u0307') },
  { what: 'percent-encoded percent', segment: '%252F' },
  { what: "raw '/'", segment: `..%2F${MARK}/x`, rawSlash: true },
];

/** The same hostile names as JSON strings (for request bodies). */
const BODY_NAMES: readonly string[] = [
  '..',
  '.',
  `../../${MARK}`,
  `/tmp/${MARK}`,
  'a/b',
  'a\\b',
  'a\u0000b',
  't\u0430pic',
  'a\uff0fb',
  '\uff0e\uff0e',
  'a\u0307',
  'a'.repeat(201),
  '',
  ' ',
  'a b',
];

interface Answer {
  readonly status: number;
  readonly body: string;
}

function request(
  base: string,
  method: string,
  rawPath: string,
  body?: string,
  type = 'application/json',
): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path: rawPath,
        headers: body === undefined ? {} : { 'content-type': type, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

let collector: CollectorProcess;

test.before(async () => {
  collector = await CollectorProcess.start();
  // One real topic and a committed group offset, so group commits name an existing partition.
  const made = await request(collector.url, 'POST', '/v1/topics', JSON.stringify({ name: 'real', partitions: 1 }));
  if (made.status !== 201) throw new Error(`create real: ${made.status} ${made.body}`);
});

test.after.always(async () => {
  await collector?.dispose();
});

function assertRefused(t: import('ava').ExecutionContext, answer: Answer, what: string, rawSlash = false): void {
  if (rawSlash && answer.status === 404) {
    t.regex(answer.body, /"code":"(not_found|topic_not_found|partition_not_found)"/, `${what}: ${answer.body}`);
    return;
  }
  t.is(answer.status, 400, `${what}: ${answer.body}`);
  let error: { code?: string; message?: string } | undefined;
  try {
    error = (JSON.parse(answer.body) as { error?: { code?: string; message?: string } }).error;
  } catch {
    error = undefined;
  }
  t.is(error?.code, 'invalid_argument', `${what}: ${answer.body}`);
  t.regex(error?.message ?? '', /invalid (topic|group) name|name/i, `${what}: the message names the problem`);
}

test.serial(
  'names - hostile topic and group names are refused everywhere with 400, and nothing is created inside or outside the data directory',
  async (t) => {
    const root = collector.dir;
    const before = await listTree(root);
    const tmpBefore = new Set(await readdir(os.tmpdir()));
    const ndjson = `${JSON.stringify({ key: 'k', value: 'v' })}\n`;
    const commit = (topic: string) => JSON.stringify({ offsets: [{ topic, partition: 0, offset: 0 }] });

    for (const { what, segment, rawSlash } of PATH_NAMES) {
      const calls: [string, Promise<Answer>][] = [
        ['produce', request(collector.url, 'POST', `/v1/topics/${segment}/records`, ndjson, 'application/x-ndjson')],
        ['fetch', request(collector.url, 'GET', `/v1/topics/${segment}/partitions/0/records?offset=0`)],
        ['offsets', request(collector.url, 'GET', `/v1/topics/${segment}/offsets?at=earliest`)],
        ['describe', request(collector.url, 'GET', `/v1/topics/${segment}`)],
        ['delete topic', request(collector.url, 'DELETE', `/v1/topics/${segment}`)],
        ['commit group', request(collector.url, 'POST', `/v1/groups/${segment}/offsets`, commit('real'))],
        ['read group', request(collector.url, 'GET', `/v1/groups/${segment}/offsets`)],
        ['delete group', request(collector.url, 'DELETE', `/v1/groups/${segment}`)],
      ];
      for (const [route, answer] of calls) assertRefused(t, await answer, `${route} with ${what}`, rawSlash);
    }
    for (const name of BODY_NAMES) {
      const shown = JSON.stringify(name.length > 20 ? `${name.slice(0, 20)}…` : name);
      assertRefused(
        t,
        await request(collector.url, 'POST', '/v1/topics', JSON.stringify({ name, partitions: 1 })),
        `create topic ${shown}`,
      );
      assertRefused(
        t,
        await request(collector.url, 'POST', '/v1/groups/g1/offsets', commit(name)),
        `commit for topic ${shown}`,
      );
    }

    const topics = JSON.parse((await request(collector.url, 'GET', '/v1/topics')).body) as { topics: unknown[] };
    t.deepEqual(
      topics.topics.map((x) => (typeof x === 'string' ? x : (x as { name: string }).name)),
      ['real'],
      'no topic was created',
    );
    const groups = JSON.parse((await request(collector.url, 'GET', '/v1/groups')).body) as { groups: unknown[] };
    t.deepEqual(groups.groups, [], 'no group was created');
    t.deepEqual(await listTree(root), before, `the tree under ${root} (config and data directory) is unchanged`);
    const tmpNew = (await readdir(os.tmpdir())).filter((n) => !tmpBefore.has(n) && n.includes(MARK));
    t.deepEqual(tmpNew, [], `nothing named after the escape marker appeared in ${os.tmpdir()}`);
    const parentNew = (await readdir(path.dirname(root))).filter((n) => n.includes(MARK));
    t.deepEqual(parentNew, []);
    t.is((await request(collector.url, 'GET', '/healthz')).status, 200);
  },
);

test.serial(
  'names - valid 200-character topic and group names work in every path; 201-character ones are 400 invalid_argument',
  async (t) => {
    const long = 'a'.repeat(200);
    const group = 'g'.repeat(200);
    const made = await request(collector.url, 'POST', '/v1/topics', JSON.stringify({ name: long, partitions: 1 }));
    t.is(made.status, 201, made.body);
    const ndjson = `${JSON.stringify({ key: 'k', value: 'v' })}\n`;
    const commit = JSON.stringify({ offsets: [{ topic: long, partition: 0, offset: 1 }] });
    const routes: [string, string, string, string?, string?][] = [
      ['produce', 'POST', `/v1/topics/${long}/records`, ndjson, 'application/x-ndjson'],
      ['fetch', 'GET', `/v1/topics/${long}/partitions/0/records?offset=0`],
      ['offsets', 'GET', `/v1/topics/${long}/offsets?at=earliest`],
      ['describe', 'GET', `/v1/topics/${long}`],
      ['query', 'GET', `/v1/topics/${long}/query?text=v`],
      ['commit group', 'POST', `/v1/groups/${group}/offsets`, commit],
      ['read group', 'GET', `/v1/groups/${group}/offsets`],
      ['delete group', 'DELETE', `/v1/groups/${group}`],
      ['delete topic', 'DELETE', `/v1/topics/${long}`],
    ];
    for (const [route, method, rawPath, body, type] of routes) {
      const answer = await request(collector.url, method, rawPath, body, type);
      t.true(answer.status >= 200 && answer.status < 300, `${route}: ${answer.status} ${answer.body.slice(0, 200)}`);
      if (route === 'fetch') t.regex(answer.body, /"value":"v"/, 'the produced record reads back');
      if (route === 'read group') t.regex(answer.body, /"offset":1/, 'the committed offset reads back');
    }
    assertRefused(t, await request(collector.url, 'GET', `/v1/topics/${long}a`), 'describe with a 201-character name');
    assertRefused(
      t,
      await request(collector.url, 'GET', `/v1/groups/${group}g/offsets`),
      'read group with a 201-character name',
    );
  },
);
