/**
 * The regex prefilter is sound: whenever a regex matches a line, one of its required literals is in the line's
 * bytes. Checked on hand-picked patterns and on random patterns from a small regex grammar against random lines.
 */
import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { compileLineFilter } from '../../shared/query/line-filter.ts';
import { requiredLiterals } from '../../shared/query/regex-literals.ts';

test('regex literals - hand-picked patterns', (t) => {
  t.deepEqual(requiredLiterals('id=99999\\b|status=5\\d\\d', ''), ['id=99999', 'status=5']);
  t.deepEqual(requiredLiterals('timeout after \\d+ms', ''), ['timeout after ']);
  t.deepEqual(requiredLiterals('colou?r mismatch', ''), ['r mismatch']);
  t.deepEqual(requiredLiterals('GET /api/v1\\.items+', ''), ['GET /api/v1.items']);
  t.deepEqual(requiredLiterals('a(b|c)*deff?g', ''), ['def']);
  t.is(requiredLiterals('error', 'i'), undefined, 'case-insensitive: no prefilter');
  t.is(requiredLiterals('err|x', ''), undefined, 'an alternative without a literal of 3+ characters: no prefilter');
  t.deepEqual(requiredLiterals('(error|warn) disk', ''), [' disk']);
  t.is(requiredLiterals('[a-z]+', ''), undefined);
  t.is(requiredLiterals('caf\u00e9 ouvert', '')?.[0], ' ouvert', 'non-ASCII characters end a run');
});

const atoms = ['a', 'b', 'c', 'ab', 'abc', ' ', '.', '\\d', '\\w', '\\b', '[ab]', '[^a]', '(a|bc)', '(?:b|c)', 'é'];
const quantifiers = ['', '', '', '?', '*', '+', '{2}', '{1,3}', '*?'];
const piece = fc.tuple(fc.constantFrom(...atoms), fc.constantFrom(...quantifiers)).map(([a, q]) => a + q);
const alternative = fc.array(piece, { minLength: 1, maxLength: 6 }).map((p) => p.join(''));
const pattern = fc
  .tuple(fc.array(alternative, { minLength: 1, maxLength: 3 }), fc.boolean(), fc.boolean())
  .map(([alts, start, end]) => `${start ? '^' : ''}${alts.join('|')}${end ? '$' : ''}`);
const line = fc
  .array(fc.constantFrom('a', 'b', 'c', ' ', '1', 'é', 'x', '\u00ff', 'ab', 'abc'), { maxLength: 30 })
  .map((p) => p.join(''));

test('regex literals - random patterns: a line the regex matches always contains a required literal', (t) => {
  // Each check is an assertion: a failing case says which line and what differed, with the counterexample.
  t.notThrows(() =>
    fc.assert(
      fc.property(pattern, fc.array(line, { minLength: 1, maxLength: 20 }), (source, lines) => {
        let regex: RegExp;
        try {
          regex = new RegExp(source);
        } catch {
          return true; // e.g. a quantified \b: not a regex, the collector answers 400
        }
        const literals = requiredLiterals(source, '');
        const filter = compileLineFilter({ regex: source });
        for (const l of lines) {
          const bytes = Buffer.from(l);
          const expected = regex.test(l);
          if (expected && literals !== undefined) {
            assert.ok(
              literals.some((lit) => l.includes(lit)),
              `${JSON.stringify(l)} matches /${source}/ but holds none of ${JSON.stringify(literals)}`,
            );
          }
          assert.equal(filter.matches(bytes), expected, `filter and RegExp disagree on ${JSON.stringify(l)}`);
          if (expected) {
            const framed = Buffer.concat([Buffer.from('\x00\x01'), bytes, Buffer.from('\x02')]);
            assert.ok(filter.mayMatch(framed), `mayMatch rules out a batch holding ${JSON.stringify(l)}`);
          }
        }
        return true;
      }),
      { numRuns: 3000 },
    ),
  );
});
