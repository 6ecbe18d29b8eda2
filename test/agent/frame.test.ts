import test from 'ava';
import { MultilineAggregator, TimedMultiline, type FramedEvent } from '../../agent/frame/multiline.ts';
import { makeParser, parseLogfmt, parseTimestamp } from '../../agent/frame/parse.ts';

const b = (s: string) => Buffer.from(s);

test('multiline - continuation lines join the event that started them', (t) => {
  const m = new MultilineAggregator({ startPattern: /^\d{4}-/, maxEventBytes: 1000 });
  t.is(m.handleLine(b('2026-01-01 boom'), 16, false, 0), undefined);
  t.is(m.handleLine(b('  at f (a.js:1)'), 32, false, 1), undefined);
  t.is(m.handleLine(b('  at g (b.js:2)'), 48, false, 2), undefined);
  const done = m.handleLine(b('2026-01-01 next'), 64, false, 3);
  t.deepEqual(done && { value: done.value.toString(), end: done.end }, {
    value: '2026-01-01 boom\n  at f (a.js:1)\n  at g (b.js:2)',
    end: 48,
  });
  t.is(m.flushIfIdle(100, 1000), undefined, 'not idle long enough');
  t.is(m.flushIfIdle(1003, 1000)?.value.toString(), '2026-01-01 next');
  t.false(m.hasPending);
});

test('multiline - an event is capped at maxEventBytes and marked truncated', (t) => {
  const m = new MultilineAggregator({ startPattern: /^S/, maxEventBytes: 10 });
  m.handleLine(b('S123456'), 8, false, 0);
  m.handleLine(b('continued'), 18, false, 0);
  const e = m.flush()!;
  t.is(e.value.toString(), 'S123456\nco');
  t.true(e.truncated);
  t.is(e.end, 18);
});

test('multiline - the timer adapter flushes an idle event after the timeout', async (t) => {
  const events: FramedEvent[] = [];
  const m = new TimedMultiline({ startPattern: /^S/, maxEventBytes: 100, timeoutMs: 50, emit: (e) => events.push(e) });
  m.line(b('S one'), 6, false);
  m.line(b(' two'), 11, false);
  t.is(events.length, 0);
  const deadline = Date.now() + 5000;
  while (events.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.is(events[0]?.value.toString(), 'S one\n two');
  m.close();
});

test('parse - json extracts top-level fields with their JSON types, and the timestamp', (t) => {
  const p = makeParser({ kind: 'json' });
  const r = p(b('{"ts":"2026-01-02T03:04:05.678Z","level":"warn","n":3,"obj":{"a":1},"nul":null}'));
  t.true(r.ok);
  t.is(r.timestamp, Date.parse('2026-01-02T03:04:05.678Z'));
  t.deepEqual(r.fields, { ts: '2026-01-02T03:04:05.678Z', level: 'warn', n: 3, obj: { a: 1 }, nul: null });
  t.is(p(b('{"ts":1767323045678,"status":"203"}')).timestamp, 1767323045678, 'a numeric timestamp');
  t.deepEqual(p(b('{"status":"203"}')).fields, { status: '203' }, 'a string stays a string');
  t.false(p(b('not json')).ok);
  t.false(p(b('[1,2]')).ok);
});

test('parse - logfmt with quotes, escapes and bare keys', (t) => {
  t.deepEqual(parseLogfmt('level=info msg="hello \\"you\\"" took=3ms flag'), {
    level: 'info',
    msg: 'hello "you"',
    took: '3ms',
    flag: 'true',
  });
  t.is(parseLogfmt('just some words'), undefined);
  const p = makeParser({ kind: 'logfmt', timestampField: 'at' });
  t.is(p(b('at=1764000000 level=x')).timestamp, 1764000000000);
});

test('parse - timestamps in seconds, milliseconds, nanoseconds and ISO text', (t) => {
  t.is(parseTimestamp('1764000000'), 1764000000000);
  t.is(parseTimestamp('1764000000.5'), 1764000000500);
  t.is(parseTimestamp('1764000000123'), 1764000000123);
  t.is(parseTimestamp('1764000000123456789'), 1764000000123);
  t.is(parseTimestamp('2026-11-25T01:02:03Z'), Date.parse('2026-11-25T01:02:03Z'));
  t.is(parseTimestamp('yesterday'), undefined);
});

test('parse - the json parser never lets a key change the prototype', (t) => {
  const r = makeParser({ kind: 'json' })(b('{"__proto__":"x","a":"1"}'));
  t.is(Object.getPrototypeOf(r.fields), Object.prototype);
  t.is(r.fields?.a, '1');
});
