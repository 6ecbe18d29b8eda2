/**
 * What a receiver (syslog, OTLP: the front ends that speak someone else's protocol) reports about its traffic.
 * collector/metrics.ts implements it with Prometheus counters labelled by receiver; receivers never import
 * prom-client. Error kinds are a closed set so dashboards and alerts can name them.
 */

export type ReceiverErrorKind =
  /** Bytes that are not a message of the protocol (bad frame, bad header, undecodable body). */
  | 'malformed'
  /** A message above the receiver's size limit: skipped, never buffered whole. */
  | 'oversized'
  /** A UDP datagram dropped because the store was behind and the receiver's buffer was full. */
  | 'dropped'
  /** A connection refused at the connection limit. */
  | 'connection_rejected'
  /** A TLS handshake that failed (wrong protocol, no or untrusted client certificate). */
  | 'tls'
  /** An append that failed; syslog retries it (socket paused), OTLP answers with the error. */
  | 'store';

export interface ReceiverEvents {
  /** Messages received and parsed (not yet durable), and their wire bytes. */
  received(messages: number, bytes: number): void;
  /** Messages appended durably. */
  stored(messages: number): void;
  error(kind: ReceiverErrorKind, count?: number): void;
  connectionOpened(): void;
  connectionClosed(): void;
}

export const NO_RECEIVER_EVENTS: ReceiverEvents = {
  received() {},
  stored() {},
  error() {},
  connectionOpened() {},
  connectionClosed() {},
};
