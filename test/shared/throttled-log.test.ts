/**
 * throttled log - a failure that repeats every second is logged once, then at most once per interval with how many
 * were held back, and its end is logged; other kinds are not held back by it. (Pure: an injected clock.)
 */
import test from 'ava';
import { createLogger } from '../../shared/logger.ts';
import { ThrottledLog } from '../../shared/throttled-log.ts';

test('throttled log - once, then once per interval with the count, then the recovery', (t) => {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'info', name: 't', destination: { write: (s) => lines.push(JSON.parse(s)) } });
  let now = 0;
  const log = new ThrottledLog({ logger, intervalMs: 60_000, now: () => now });
  for (; now < 130_000; now += 1_000) log.warn('sweep', { bucket: 'tributary_groups' }, 'sweep failed');
  log.warn('other', {}, 'other failed');
  log.recovered('sweep', {}, 'sweep succeeds again');
  t.deepEqual(
    lines.map((l) => [l.msg, l.repeatedSinceLastLog, l.bucket]),
    [
      ['sweep failed', undefined, 'tributary_groups'],
      ['sweep failed', 59, 'tributary_groups'],
      ['sweep failed', 59, 'tributary_groups'],
      ['other failed', undefined, undefined],
      ['sweep succeeds again', 9, undefined],
    ],
  );
  log.recovered('sweep', {}, 'sweep succeeds again');
  t.is(lines.length, 5, 'a recovery without a failure says nothing');
});
