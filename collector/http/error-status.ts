/**
 * Maps anything a route throws to an HTTP answer: TributaryErrors by the one code → status table that the client
 * shares (shared/wire-errors.ts), fastify's own errors into our codes, anything else to a 500 (docs/api.md,
 * "Errors"). Storage and domain code throw TributaryError subclasses and never think in HTTP.
 */
import { TributaryError } from '../../shared/errors.ts';
import { statusOf, type WireErrorBody, wireError } from '../../shared/wire-errors.ts';

/** Seconds a client should wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 1;

export type ErrorBody = WireErrorBody;

export interface HttpError {
  readonly status: number;
  readonly body: ErrorBody;
  readonly headers: Readonly<Record<string, string>>;
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
  return answer(status, { code, message });
}

function answer(status: number, error: WireErrorBody['error']): HttpError {
  const headers: Record<string, string> = status === 503 ? { 'retry-after': String(RETRY_AFTER_SECONDS) } : {};
  return { status, body: { error }, headers };
}

/** Maps anything thrown by a route to a response. Unknown errors are 500 `internal` with a generic message. */
export function httpErrorFor(error: unknown, contentType?: string): HttpError {
  if (error instanceof TributaryError) return answer(statusOf(error), wireError(error));
  if (error !== null && typeof error === 'object' && 'code' in error && typeof error.code === 'string') {
    const mapped = fastifyError(error as { code: string; message: string; statusCode?: number }, contentType);
    if (mapped) return mapped;
  }
  return make(500, 'internal', 'internal error in the collector; see its log for details');
}
