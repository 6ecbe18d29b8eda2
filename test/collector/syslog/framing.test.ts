import test from 'ava';
import fc from 'fast-check';
import { type FrameEvent, SyslogFrameSplitter } from '../../../collector/syslog/framing.ts';

function frames(events: FrameEvent[]): string[] {
  return events.map((e) =>
    e.kind === 'message' ? e.bytes.toString() : e.kind === 'oversized' ? `<oversized ${e.bytes}>` : '<malformed>',
  );
}

function run(max: number, chunks: (string | Buffer)[], end = true): string[] {
  const s = new SyslogFrameSplitter(max);
  const out: FrameEvent[] = [];
  for (const c of chunks) out.push(...s.push(Buffer.isBuffer(c) ? c : Buffer.from(c)));
  if (end) out.push(...s.end());
  return frames(out);
}

test('octet counting and newline framing, mixed on one stream', (t) => {
  t.deepEqual(run(1000, ['11 <13>1 - - x', '\n<13>hello\r\n', '5 <1>ab<14>bye\n']), [
    '<13>1 - - x',
    '<13>hello',
    '<1>ab',
    '<14>bye',
  ]);
});

test('a counted message may contain newlines, and split across any chunks', (t) => {
  const msg = '<13>1 - - - - - - line1\nline2';
  const stream = `${Buffer.byteLength(msg)} ${msg}${Buffer.byteLength(msg)} ${msg}`;
  for (let cut = 0; cut <= stream.length; cut++) {
    t.deepEqual(run(1000, [stream.slice(0, cut), stream.slice(cut)]), [msg, msg], `cut at ${cut}`);
  }
});

test('an oversized counted message is skipped by its length and the stream stays in sync', (t) => {
  const big = 'x'.repeat(500);
  t.deepEqual(run(100, [`500 ${big}6 <13>ok`]), ['<oversized 500>', '<13>ok']);
});

test('an oversized newline message is discarded to its LF without buffering it', (t) => {
  const s = new SyslogFrameSplitter(100);
  const out: FrameEvent[] = [];
  for (let i = 0; i < 100; i++) {
    out.push(...s.push(Buffer.from('y'.repeat(1000))));
    t.true(s.bufferedBytes <= 100);
  }
  out.push(...s.push(Buffer.from('\n<13>next\n')));
  t.deepEqual(frames(out), ['<oversized 100000>', '<13>next']);
});

test('a bad octet count is malformed and framing resumes after the next LF', (t) => {
  t.deepEqual(run(100, ['12x not a count\n<13>fine\n']), ['<malformed>', '<13>fine']);
  t.deepEqual(run(100, ['99999999999999999999 x\n<13>fine\n']), ['<malformed>', '<13>fine']);
});

test('end of stream: a last line without LF is a message, a cut counted frame is malformed', (t) => {
  t.deepEqual(run(100, ['<13>a\n<13>b']), ['<13>a', '<13>b']);
  t.deepEqual(run(100, ['20 <13>short']), ['<malformed>']);
});

test('property: any sequence of short messages, framed either way and chunked anyhow, comes out as sent', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 40 }), fc.boolean()), { maxLength: 20 }),
      fc.array(fc.nat(60), { maxLength: 10 }),
      (messages, cuts) => {
        const bodies = messages.map(([m, counted]) => {
          const body = `<13>${m.replace(/[\r\n\0]/g, '_')}`;
          return { body, wire: counted ? `${Buffer.byteLength(body)} ${body}` : `${body}\n` };
        });
        const stream = Buffer.from(bodies.map((b) => b.wire).join(''));
        const chunks: Buffer[] = [];
        let at = 0;
        for (const c of cuts) {
          chunks.push(stream.subarray(at, Math.min(stream.length, at + c)));
          at = Math.min(stream.length, at + c);
        }
        chunks.push(stream.subarray(at));
        t.deepEqual(
          run(1000, chunks),
          bodies.map((b) => b.body.replace(/[\r\n\0]+$/, '')),
        );
      },
    ),
    { numRuns: 300 },
  );
});
