/**
 * Error code → HTTP status → error class, in one table for both ends of the wire: the collector answers an error
 * with `statusOf(error)` and `errorBody(error)` (collector/http/error-status.ts), and the client turns the answer
 * back into the same class with `errorFromWire` (shared/client). Fields a class carries besides its message
 * (`start_offset`/`end_offset` of offset_out_of_range, `limit` of limit_exceeded) travel as fields of the error
 * body, never parsed back out of the message (docs/api.md, "Errors").
 */
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
  type LimitKind,
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
} from './errors.ts';

/** `{"error": {...}}`: the body of every non-2xx answer. */
export interface WireError {
  readonly code: string;
  readonly message: string;
  /** offset_out_of_range: the partition's range [start_offset, end_offset). */
  readonly start_offset?: number;
  readonly end_offset?: number;
  /** limit_exceeded: which limit. */
  readonly limit?: LimitKind;
}

export interface WireErrorBody {
  readonly error: WireError;
}

/** The message given, on an error class whose constructor builds its own from other arguments. */
function withMessage<E extends Error>(error: E, message: string): E {
  error.message = message;
  return error;
}

const LIMIT_KINDS: readonly LimitKind[] = ['body', 'line', 'count', 'rate'];

interface ErrorKind {
  /** The HTTP status; limit_exceeded's depends on the limit (LIMIT_STATUS). */
  readonly status: number;
  readonly fromWire: (error: WireError) => TributaryError;
}

const ERRORS: { readonly [C in ErrorCode]: ErrorKind } = {
  invalid_argument: { status: 400, fromWire: (e) => new InvalidArgumentError(e.message) },
  corrupt_batch: { status: 400, fromWire: (e) => new CorruptBatchError(e.message) },
  config_invalid: { status: 400, fromWire: (e) => new ConfigError(e.message) },
  limit_exceeded: {
    status: 400,
    fromWire: (e) => new LimitExceededError(e.message, LIMIT_KINDS.includes(e.limit as LimitKind) ? e.limit : 'count'),
  },
  unauthenticated: { status: 401, fromWire: (e) => new UnauthenticatedError(e.message) },
  forbidden: { status: 403, fromWire: (e) => new ForbiddenError(e.message) },
  topic_not_found: { status: 404, fromWire: (e) => withMessage(new TopicNotFoundError(''), e.message) },
  partition_not_found: {
    status: 404,
    fromWire: (e) => withMessage(new PartitionNotFoundError('', 0, 0), e.message),
  },
  group_not_found: { status: 404, fromWire: (e) => withMessage(new GroupNotFoundError(''), e.message) },
  topic_exists: { status: 409, fromWire: (e) => withMessage(new TopicExistsError(''), e.message) },
  stale_generation: { status: 409, fromWire: (e) => new StaleGenerationError(e.message) },
  unknown_member: { status: 409, fromWire: (e) => new UnknownMemberError(e.message) },
  rebalance_in_progress: { status: 409, fromWire: (e) => new RebalanceInProgressError(e.message) },
  group_not_empty: { status: 409, fromWire: (e) => new GroupNotEmptyError(e.message) },
  offset_out_of_range: {
    status: 416,
    fromWire: (e) => withMessage(new OffsetOutOfRangeError(0, e.start_offset ?? 0, e.end_offset ?? 0), e.message),
  },
  storage_full: { status: 507, fromWire: (e) => new StorageFullError(e.message) },
  unavailable: { status: 503, fromWire: (e) => new UnavailableError(e.message) },
  closed: { status: 503, fromWire: (e) => withMessage(new ClosedError('the collector'), e.message) },
  corrupt_data: { status: 500, fromWire: (e) => new CorruptDataError(e.message) },
};

export const LIMIT_STATUS: { readonly [L in LimitKind]: number } = { body: 413, line: 400, count: 400, rate: 429 };

/** The HTTP status of an error (the docs/api.md table). */
export function statusOf(error: TributaryError): number {
  if (error instanceof LimitExceededError) return LIMIT_STATUS[error.limit];
  return ERRORS[error.code].status;
}

/** The error body fields of an error: its code, message and structured fields. */
export function wireError(error: TributaryError): WireError {
  if (error instanceof OffsetOutOfRangeError) {
    return { code: error.code, message: error.message, start_offset: error.startOffset, end_offset: error.endOffset };
  }
  if (error instanceof LimitExceededError) return { code: error.code, message: error.message, limit: error.limit };
  return { code: error.code, message: error.message };
}

/**
 * The error class of an answer's error body. An unknown code (a newer collector, a proxy's page) is unavailable
 * for a 5xx and invalid_argument otherwise; a 413 or 429 without a `limit` field keeps its limit kind.
 */
export function errorFromWire(status: number, error: WireError): TributaryError {
  const kind = Object.hasOwn(ERRORS, error.code) ? ERRORS[error.code as ErrorCode] : undefined;
  if (error.code === 'limit_exceeded' && error.limit === undefined) {
    return new LimitExceededError(error.message, status === 413 ? 'body' : status === 429 ? 'rate' : 'count');
  }
  if (kind) return kind.fromWire(error);
  return status >= 500 ? new UnavailableError(error.message) : new InvalidArgumentError(error.message);
}

/** Reads an error body from an answer's text; a body that is not ours gives `fallback` as the message. */
export function parseWireError(text: string, fallback: string): WireError {
  try {
    const parsed = JSON.parse(text) as Partial<WireErrorBody> | null;
    const e = parsed?.error;
    if (e && typeof e.code === 'string' && typeof e.message === 'string') return e;
  } catch {
    // not JSON (a proxy's page): the status line says enough
  }
  return { code: 'unknown', message: fallback };
}
