/**
 * The one place that maps an error to an HTTP status and the JSON error body `{"error": {"code", "message"}}`
 * (docs/api.md, "Errors"). Storage and domain code throw TributaryError subclasses and never think in HTTP.
 */
import { LimitExceededError, type TributaryError, TributaryError as TributaryErrorClass } from '../../shared/errors.ts';

/** The status for each error code, as in the docs/api.md table. `limit_exceeded` depends on the limit. */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  invalid_argument: 400,
  corrupt_batch: 400,
  config_invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  topic_not_found: 404,
  partition_not_found: 404,
  group_not_found: 404,
  topic_exists: 409,
  stale_generation: 409,
  unknown_member: 409,
  rebalance_in_progress: 409,
  group_not_empty: 409,
  offset_out_of_range: 416,
  limit_exceeded: 400,
  storage_full: 507,
  unavailable: 503,
  closed: 503,
  corrupt_data: 500,
};

const STATUS_BY_LIMIT = { body: 413, line: 400, count: 400, rate: 429 } as const;

/** Seconds a client should wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 1;

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

export interface HttpError {
  readonly status: number;
  readonly body: ErrorBody;
  readonly headers: Readonly<Record<string, string>>;
}

function tributaryStatus(error: TributaryError): number {
  if (error instanceof LimitExceededError) return STATUS_BY_LIMIT[error.limit];
  return STATUS_BY_CODE[error.code] ?? 500;
}

/** Fastify's own errors (parsing, routing, body size) mapped into our codes, with messages a user can act on. */
function fastifyError(
  error: { code: string; message: string; statusCode?: number },
  contentType: string | undefined,
): HttpError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return make(
        415,
        'unsupported_media_type',
        `Content-Type '${contentType ?? ''}' is not accepted here: produce takes application/vnd.tributary.batch ` +
          'or application/x-ndjson, the other routes application/json (docs/api.md)',
      );
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return make(413, 'limit_exceeded', `the request body is larger than the collector's limit (${error.message})`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return make(400, 'invalid_argument', `the body is not valid JSON: ${error.message}`);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return make(400, 'invalid_argument', error.message);
    case 'FST_ERR_VALIDATION':
      return make(400, 'invalid_argument', error.message);
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return make(
        414,
        'uri_too_long',
        'a name in the path is longer than any valid one (topic and group names are at most 200 characters)',
      );
    case 'FST_ERR_BAD_URL':
      return make(400, 'invalid_argument', `the path is not a valid URL (a bad %-escape?): ${error.message}`);
    default:
      if (error.code.startsWith('FST_') && error.statusCode && error.statusCode < 500) {
        return make(error.statusCode, 'invalid_argument', error.message);
      }
      return undefined;
  }
}

export function make(status: number, code: string, message: string): HttpError {
  const headers: Record<string, string> = status === 503 ? { 'retry-after': String(RETRY_AFTER_SECONDS) } : {};
  return { status, body: { error: { code, message } }, headers };
}

/** Maps anything thrown by a route to a response. Unknown errors are 500 `internal` with a generic message. */
export function httpErrorFor(error: unknown, contentType?: string): HttpError {
  if (error instanceof TributaryErrorClass) return make(tributaryStatus(error), error.code, error.message);
  if (error !== null && typeof error === 'object' && 'code' in error && typeof error.code === 'string') {
    const mapped = fastifyError(error as { code: string; message: string; statusCode?: number }, contentType);
    if (mapped) return mapped;
  }
  return make(500, 'internal', 'internal error in the collector; see its log for details');
}
