/**
 * The record model shared by the agent, the collector and clients.
 *
 * A record is one log line (or one multiline event): the collector assigns its offset, the producer gives its
 * timestamp, its key (the source: host + file path) and its labels. Records travel and rest in batches that carry
 * exactly one key and one label set (see batch-codec.ts), so the types below separate what a batch shares from
 * what each record carries. The model maps onto Kafka's: key, value, timestamp, headers <-> labels and fields.
 */
import { isUtf8 } from 'node:buffer';

/** Position of a record in a partition: contiguous from the log start, never reused. A safe integer >= 0. */
export type Offset = number;
/** Milliseconds since the Unix epoch. */
export type TimestampMs = number;
/** Index of a partition within a topic, 0 <= p < partitionCount. */
export type PartitionId = number;
/** A byte position within a file (agent checkpoints, segment positions). */
export type BytePosition = number;

/** Labels describe the source of a batch: host, service, path, level and user labels. */
export type Labels = Readonly<Record<string, string>>;
/** A field's value: a JSON value, so a number parsed from a JSON line stays a number. */
export type FieldValue =
  | string
  | number
  | boolean
  | null
  | readonly FieldValue[]
  | { readonly [name: string]: FieldValue };
/** Fields extracted from one line by a parser (json: JSON values; logfmt: strings). */
export type Fields = Readonly<Record<string, FieldValue>>;

/** What a producer hands over for one record. */
export interface RecordInput {
  readonly timestamp: TimestampMs;
  readonly value: Uint8Array;
  readonly fields?: Fields;
}

/** What a producer hands over for one batch: one source, many records. */
export interface BatchInput {
  readonly key: string;
  readonly labels: Labels;
  readonly records: readonly RecordInput[];
}

/** A record as read back from the log. */
export interface StoredRecord {
  readonly offset: Offset;
  readonly timestamp: TimestampMs;
  readonly key: string;
  readonly labels: Labels;
  readonly value: Buffer;
  readonly fields?: Fields;
}

/**
 * A record in the JSON of the HTTP API (fetch, query, tail) and of `tributary consume -o json` (docs/api.md): the
 * value as a string when it is valid UTF-8, otherwise as `value_base64`.
 */
export interface WireRecord {
  offset: Offset;
  timestamp: TimestampMs;
  key: string;
  labels: Labels;
  value?: string;
  value_base64?: string;
  fields?: Fields;
}

export function toWireRecord(record: StoredRecord): WireRecord {
  return {
    offset: record.offset,
    timestamp: record.timestamp,
    key: record.key,
    labels: record.labels,
    ...(isUtf8(record.value)
      ? { value: record.value.toString('utf8') }
      : { value_base64: record.value.toString('base64') }),
    ...(record.fields ? { fields: record.fields } : {}),
  };
}

export function isOffset(value: unknown): value is Offset {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
