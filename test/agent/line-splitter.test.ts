import test from 'ava';
import fc from 'fast-check';
import { LineSplitter } from '../../agent/read/line-splitter.ts';

interface Line {
  value: string;
  end: number;
  truncated: boolean;
}

function split(chunks: Buffer[], maxLineBytes = 1024): { lines: Line[]; splitter: LineSplitter } {
  const splitter = new LineSplitter({ maxLineBytes });
  const lines: Line[] = [];
  let pos = 0;
  for (const chunk of chunks) {
    splitter.push(chunk, pos, (v, end, truncated) => lines.push({ value: v.toString('latin1'), end, truncated }));
    pos += chunk.length;
  }
  return { lines, splitter };
}

test('line splitter - splits on newlines and reports end positions', (t) => {
  const { lines, splitter } = split([Buffer.from('ab\ncd\n\nef')]);
  t.deepEqual(lines, [
    { value: 'ab', end: 3, truncated: false },
    { value: 'cd', end: 6, truncated: false },
    { value: '', end: 7, truncated: false },
  ]);
  t.is(splitter.pendingBytes, 2, 'the partial last line waits');
});

test('line splitter - a line split across chunks is joined', (t) => {
  const { lines } = split([Buffer.from('hel'), Buffer.from('lo wo'), Buffer.from('rld\nx\n')]);
  t.deepEqual(
    lines.map((l) => [l.value, l.end]),
    [
      ['hello world', 12],
      ['x', 14],
    ],
  );
});

test('line splitter - CRLF loses its CR, a lone CR inside a line stays', (t) => {
  const { lines } = split([Buffer.from('a\r\nb\rc\r'), Buffer.from('\n')]);
  t.deepEqual(
    lines.map((l) => l.value),
    ['a', 'b\rc'],
  );
});

test('line splitter - invalid UTF-8 and binary bytes pass byte for byte', (t) => {
  const garbage = Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80, 0x0d, 0x41]);
  const splitter = new LineSplitter({ maxLineBytes: 100 });
  const out: Buffer[] = [];
  splitter.push(Buffer.concat([garbage, Buffer.from('\n')]), 0, (v) => out.push(Buffer.from(v)));
  t.deepEqual(out, [garbage]);
});

test('line splitter - a long line is truncated, counted, and the next line is intact', (t) => {
  const long = 'x'.repeat(5000);
  const chunks = [Buffer.from(`${long.slice(0, 1000)}`), Buffer.from(`${long.slice(1000)}\nnext\n`)];
  const { lines } = split(chunks, 100);
  t.is(lines.length, 2);
  t.is(lines[0]!.value, 'x'.repeat(100));
  t.true(lines[0]!.truncated);
  t.is(lines[0]!.end, 5001);
  t.deepEqual(lines[1], { value: 'next', end: 5006, truncated: false });
});

test('line splitter - a CRLF line of exactly the maximum is not truncated', (t) => {
  const { lines } = split([Buffer.from(`${'y'.repeat(10)}\r\n`)], 10);
  t.deepEqual(lines, [{ value: 'y'.repeat(10), end: 12, truncated: false }]);
  const split2 = split([Buffer.from('y'.repeat(6)), Buffer.from(`${'y'.repeat(4)}\r\n`)], 10);
  t.deepEqual(split2.lines, [{ value: 'y'.repeat(10), end: 12, truncated: false }]);
});

test('line splitter - memory held for an endless line stays bounded', (t) => {
  const splitter = new LineSplitter({ maxLineBytes: 1000 });
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  for (let i = 0; i < 200; i++) splitter.push(chunk, i * chunk.length, () => t.fail('no newline was written'));
  t.is(splitter.pendingBytes, 200 * chunk.length);
  let got: Buffer | undefined;
  splitter.push(Buffer.from('\n'), 200 * chunk.length, (v, _end, truncated) => {
    got = v;
    t.true(truncated);
  });
  t.is(got?.length, 1000);
});

test('line splitter - any chunking yields the same lines as splitting the whole (property)', (t) => {
  fc.assert(
    fc.property(
      fc
        .uint8Array({ maxLength: 400 })
        .map((a) => Buffer.from(a.map((b) => (b % 7 === 0 ? 10 : b % 11 === 0 ? 13 : b)))),
      fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 20 }),
      fc.integer({ min: 1, max: 40 }),
      (data, cuts, max) => {
        const whole = split([data], max).lines;
        const chunks: Buffer[] = [];
        let pos = 0;
        for (const c of cuts) {
          if (pos >= data.length) break;
          chunks.push(data.subarray(pos, pos + c));
          pos += c;
        }
        if (pos < data.length) chunks.push(data.subarray(pos));
        t.deepEqual(split(chunks, max).lines, whole);
        // The model: split on \n, drop one trailing \r, cut to max.
        const parts = data.toString('latin1').split('\n');
        parts.pop();
        let end = 0;
        const model = parts.map((p) => {
          end += p.length + 1;
          const v = p.endsWith('\r') ? p.slice(0, -1) : p;
          return { value: v.slice(0, max), end, truncated: v.length > max };
        });
        t.deepEqual(whole, model);
      },
    ),
    { numRuns: 300 },
  );
});
