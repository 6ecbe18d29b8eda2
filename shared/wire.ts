/**
 * The names on the wire that the agent, the collector and the client must spell the same way (docs/api.md):
 * content types, headers, and the NATS ingest subject. Error codes and their HTTP statuses are in wire-errors.ts.
 */

/** Concatenated record batches (shared/batch-codec.ts): produce bodies and binary fetch answers. */
export const BATCH_CONTENT_TYPE = 'application/vnd.tributary.batch';
/** One JSON object per line: produce bodies, query and tail answers. */
export const NDJSON_CONTENT_TYPE = 'application/x-ndjson';
export const JSON_CONTENT_TYPE = 'application/json';

/** NATS ingest: agents request on `<prefix>.<topic>`; collectors answer in one queue group. */
export const INGEST_SUBJECT_PREFIX = 'tributary.ingest';
export const INGEST_QUEUE_GROUP = 'tributary-collectors';
/** NATS ingest replies: the HTTP status the same request would have got over HTTP. */
export const STATUS_HEADER = 'Tributary-Status';
