/**
 * The error table both ends share (shared/wire-errors.ts): every error class goes out as a status and a body and
 * comes back as the same class with the same code, message and fields.
 */
import test from 'ava';
import {
  ClosedError,
  ConfigError,
  CorruptBatchError,
  CorruptDataError,
  type ErrorCode,
  ForbiddenError,
  GroupNotEmptyError,
  GroupNotFoundError,
  InvalidArgumentError,
  LimitExceededError,
  OffsetOutOfRangeError,
  PartitionNotFoundError,
  RebalanceInProgressError,
  StaleGenerationError,
  StorageFullError,
  TopicExistsError,
  TopicNotFoundError,
  type TributaryError,
  UnauthenticatedError,
  UnavailableError,
  UnknownMemberError,
} from '../../shared/errors.ts';
import { errorFromWire, parseWireError, statusOf, wireError } from '../../shared/wire-errors.ts';

const EXAMPLES: readonly [TributaryError, number][] = [
  [new InvalidArgumentError('bad'), 400],
  [new CorruptBatchError('crc'), 400],
  [new ConfigError('config'), 400],
  [new LimitExceededError('body too big', 'body'), 413],
  [new LimitExceededError('line too long', 'line'), 400],
  [new LimitExceededError('too many', 'count'), 400],
  [new LimitExceededError('slow down', 'rate'), 429],
  [new UnauthenticatedError('who'), 401],
  [new ForbiddenError('role'), 403],
  [new TopicNotFoundError('t'), 404],
  [new PartitionNotFoundError('t', 7, 4), 404],
  [new GroupNotFoundError('g'), 404],
  [new TopicExistsError('t'), 409],
  [new StaleGenerationError('stale'), 409],
  [new UnknownMemberError('who'), 409],
  [new RebalanceInProgressError('rejoin'), 409],
  [new GroupNotEmptyError('busy'), 409],
  [new OffsetOutOfRangeError(99, 3, 10), 416],
  [new StorageFullError('disk'), 507],
  [new UnavailableError('later'), 503],
  [new ClosedError('the store'), 503],
  [new CorruptDataError('bits'), 500],
];

test('wire errors - every code has a status and comes back as its class with its message and fields', (t) => {
  const codes = new Set<ErrorCode>(EXAMPLES.map(([e]) => e.code));
  t.is(codes.size, 19, 'every ErrorCode of shared/errors.ts has an example');
  for (const [error, status] of EXAMPLES) {
    t.is(statusOf(error), status, error.code);
    const body = JSON.parse(JSON.stringify({ error: wireError(error) }));
    const back = errorFromWire(status, parseWireError(JSON.stringify(body), 'unused'));
    t.is(back.constructor, error.constructor, `${error.code} comes back as ${error.constructor.name}`);
    t.is(back.code, error.code);
    t.is(back.message, error.message);
    if (error instanceof OffsetOutOfRangeError && back instanceof OffsetOutOfRangeError) {
      t.deepEqual([back.startOffset, back.endOffset], [3, 10]);
    }
    if (error instanceof LimitExceededError && back instanceof LimitExceededError) t.is(back.limit, error.limit);
  }
});

test('wire errors - an answer that is not ours keeps its status meaning', (t) => {
  const proxy = parseWireError('<html>Bad Gateway</html>', 'HTTP 502 from http://c1');
  t.deepEqual(proxy, { code: 'unknown', message: 'HTTP 502 from http://c1' });
  t.true(errorFromWire(502, proxy) instanceof UnavailableError);
  t.true(errorFromWire(400, { code: 'from_the_future', message: 'x' }) instanceof InvalidArgumentError);
  const old = errorFromWire(413, { code: 'limit_exceeded', message: 'too big' });
  t.true(old instanceof LimitExceededError && old.limit === 'body', 'a body without `limit` keeps 413 as body');
});
