/**
 * How the shipper hands a produce request to a collector. A request body is one or more record batches of one topic,
 * concatenated (docs/api.md, `application/vnd.tributary.batch`). The HTTP transport sits beside this file; a NATS
 * transport (request/reply to the collector's queue group) implements the same interface.
 *
 * A transport does not retry: it reports what happened, and the shipper (shipper.ts) decides, with retry.ts.
 */

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

export interface Transport {
  /** For logs: where requests go now (a URL, a NATS subject). Never includes a token. */
  readonly target: string;
  send(topic: string, body: Buffer): Promise<SendOutcome>;
  close(): Promise<void>;
}
