/**
 * How the shipper hands a produce request to a collector. A request body is one or more record batches of one topic,
 * concatenated (docs/api.md, `application/vnd.tributary.batch`). The HTTP transport sits beside this file; a NATS
 * transport (request/reply to the collector's queue group) implements the same interface.
 *
 * A transport does not retry: it reports what happened, and the shipper (shipper.ts) decides, with retry.ts.
 */
import { parseWireError } from '../../shared/wire-errors.ts';

export type SendOutcome =
  /** The collector made every batch of the request durable. */
  | { readonly kind: 'ok' }
  /** Nothing or not everything may be stored: send the same request again later (maybe to another collector). */
  | { readonly kind: 'retry'; readonly reason: string; readonly retryAfterMs?: number | undefined }
  /**
   * The request can never succeed as it is: log, count, drop. `tooLarge` (413): the shipper first splits a request
   * of several batches and sends the halves.
   */
  | { readonly kind: 'reject'; readonly reason: string; readonly tooLarge?: boolean };

/**
 * What a collector's answer means for the lines, the same over HTTP and NATS (a NATS reply carries the HTTP status
 * the same request would have got):
 *   2xx                          ok
 *   408, 425, 429, 5xx           retry (honouring Retry-After)
 *   401, 403, 404                retry: a wrong token, role or missing topic is fixed by an operator, and until then
 *                                the lines wait on disk (the error is logged on every attempt by the shipper)
 *   400 corrupt_batch            retry: our own encoder's batch refused as malformed means a collector older than this
 *                                agent (one that does not know the producer stamp, attribute bit 4): an operator
 *                                upgrades it, and until then the lines wait on disk instead of being dropped
 *   other 4xx (400, 413, …)      reject: the request can never succeed as it is (a 413 of several batches is
 *                                split by the shipper first)
 * `who` names the answerer in the reason ("http://c1:7070", "collector over NATS"); `body` is the answer's text.
 */
export function outcomeOfAnswer(
  status: number,
  who: string,
  body: string,
  retryAfterMs?: number | undefined,
): SendOutcome {
  if (status >= 200 && status < 300) return { kind: 'ok' };
  const error = parseWireError(body, body.slice(0, 200) || '(no body)');
  const reason = `${who} answered ${status}: ${error.code === 'unknown' ? '' : `${error.code}: `}${error.message}`;
  if (status === 408 || status === 425 || status === 429 || status >= 500)
    return { kind: 'retry', reason, retryAfterMs };
  if (status === 401 || status === 403 || status === 404) return { kind: 'retry', reason };
  if (status === 400 && error.code === 'corrupt_batch') {
    return { kind: 'retry', reason: `${reason} (is the collector older than this agent? upgrade collectors first)` };
  }
  return { kind: 'reject', reason, tooLarge: status === 413 };
}

export interface Transport {
  /** For logs: where requests go now (a URL, a NATS subject). Never includes a token. */
  readonly target: string;
  send(topic: string, body: Buffer): Promise<SendOutcome>;
  close(): Promise<void>;
}
