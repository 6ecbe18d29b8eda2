/** The one backoff (shared/backoff.ts) of the agent's shipper and the client's Consumer and Producer. */
import test from 'ava';
import { backoffDelay, parseRetryAfter, sleep } from '../../shared/backoff.ts';

test('backoff - grows, is capped, has equal jitter (never below half the cap), and honours Retry-After', (t) => {
  const options = { initialMs: 100, maxMs: 10_000 };
  t.is(
    backoffDelay(0, options, undefined, () => 0),
    50,
    'attempt 0: at least half of the initial delay',
  );
  t.is(
    backoffDelay(0, options, undefined, () => 1),
    100,
  );
  t.is(
    backoffDelay(3, options, undefined, () => 1),
    800,
  );
  t.is(
    backoffDelay(3, options, undefined, () => 0),
    400,
  );
  t.is(
    backoffDelay(30, options, undefined, () => 1),
    10_000,
    'capped at maxMs',
  );
  t.is(
    backoffDelay(30, options, undefined, () => 0),
    5_000,
  );
  t.is(
    backoffDelay(0, options, 5000, () => 0),
    5000,
    'never sooner than Retry-After',
  );
  t.is(
    backoffDelay(0, options, 10_000_000, () => 0),
    100_000,
    'a Retry-After is believed up to 10 × maxMs',
  );
});

test('backoff - Retry-After as delta-seconds or an HTTP-date; anything else is ignored', (t) => {
  t.is(parseRetryAfter('3'), 3000);
  const at = Date.UTC(2026, 0, 1, 0, 0, 10);
  t.is(parseRetryAfter(new Date(at).toUTCString(), at - 10_000), 10_000);
  t.is(parseRetryAfter(new Date(at).toUTCString(), at + 5_000), 0, 'a date in the past: retry now');
  t.is(parseRetryAfter('soon'), undefined);
  t.is(parseRetryAfter(undefined), undefined);
});

test('backoff - sleep waits, and an abort ends it at once', async (t) => {
  const started = performance.now();
  await sleep(50);
  t.true(performance.now() - started >= 45);
  const abort = new AbortController();
  const long = sleep(60_000, abort.signal);
  setTimeout(() => abort.abort(), 20);
  const before = performance.now();
  await long;
  t.true(performance.now() - before < 10_000, 'an aborted sleep does not wait its whole delay');
  const again = performance.now();
  await sleep(60_000, AbortSignal.abort());
  t.true(performance.now() - again < 10_000, 'an already aborted signal returns at once');
});
