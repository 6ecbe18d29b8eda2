/**
 * console - the search's pure parts (collector/console/web/src/search-state.ts): the URL form round-trips, matcher
 * text splits into the API's `where` values, autocompletion finds what the caret is in and inserts the choice,
 * and highlighting finds the matches of a text or regex filter.
 */
import test from 'ava';
import {
  applyCompletion,
  completionAt,
  filterParams,
  matchRanges,
  parseSearch,
  resolveRange,
  type SearchState,
  searchParams,
  splitMatchers,
} from '../../collector/console/web/src/search-state.ts';

test('search state - the URL form round-trips, presets and absolute ranges alike', (t) => {
  const state: SearchState = {
    topic: 'app',
    matchers: 'service="api", level=~"warn|error"',
    text: 'time(out|d out)',
    regex: true,
    caseSensitive: false,
    range: { kind: 'absolute', from: Date.parse('2026-12-01T10:00:00Z'), to: Date.parse('2026-12-01T11:00:00Z') },
  };
  t.deepEqual(parseSearch(searchParams(state)), state);
  const preset = { ...state, range: { kind: 'preset', preset: '7d' } } as const;
  t.deepEqual(parseSearch(searchParams(preset)), preset);
  t.deepEqual(parseSearch(new URLSearchParams('range=nonsense&from=garbage')).range, { kind: 'preset', preset: '1h' });
  t.deepEqual(resolveRange({ kind: 'preset', preset: '5m' }, 1_000_000), { since: 700_000, until: 1_000_000 });
});

test('search state - matchers split on commas outside quotes, LogQL braces allowed', (t) => {
  t.deepEqual(splitMatchers('{service="api", level=~"warn|error"}'), ['service="api"', 'level=~"warn|error"']);
  t.deepEqual(splitMatchers(`msg="a, b", host!='x,y' ,`), ['msg="a, b"', "host!='x,y'"]);
  t.deepEqual(splitMatchers('  '), []);
  t.deepEqual(filterParams({ ...parseSearch(new URLSearchParams()), matchers: 'a=b', text: 'x' }), {
    where: ['a=b'],
    grep: 'x',
    ignore_case: true,
  });
});

test('search state - autocompletion of label names, then values', (t) => {
  const name = completionAt('service="api", lev', 18);
  t.deepEqual(name, { kind: 'name', prefix: 'lev', start: 15 });
  t.deepEqual(applyCompletion('service="api", lev', 18, name!, 'level'), {
    text: 'service="api", level=',
    caret: 21,
  });
  const value = completionAt('level=~"wa', 10);
  t.deepEqual(value, { kind: 'value', name: 'level', op: '=~', prefix: 'wa', start: 7 });
  t.deepEqual(applyCompletion('level=~"wa', 10, value!, 'warn.x'), { text: 'level=~"warn\\.x"', caret: 16 });
  t.is(completionAt('service="api"', 13), undefined, 'nothing to complete after a closed value');
});

test('search state - highlighting finds every match, text or regex, with or without case', (t) => {
  const line = 'Timeout: upstream timeout, timed out';
  t.deepEqual(matchRanges(line, { text: 'timeout', regex: false, caseSensitive: false }), [
    [0, 7],
    [18, 25],
  ]);
  t.deepEqual(matchRanges(line, { text: 'timeout', regex: false, caseSensitive: true }), [[18, 25]]);
  t.deepEqual(matchRanges(line, { text: 'time(out|d out)', regex: true, caseSensitive: true }), [
    [18, 25],
    [27, 36],
  ]);
  t.deepEqual(matchRanges(line, { text: '(', regex: true, caseSensitive: true }), [], 'a bad regex highlights nothing');
});
