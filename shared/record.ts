/**
 * The record model shared by the agent, the collector and clients.
 *
 * A record is one log line (or one multiline event): the collector assigns its offset, the producer gives its
 * timestamp, its key (the source: host + file path) and its labels. Records travel and rest in batches that carry
 * exactly one key and one label set (see batch-codec.ts), so the types below separate what a batch shares from
 * what each record carries. The model maps onto Kafka's: key, value, timestamp, headers <-> labels and fields.
 */

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
/** Fields extracted from one line by a parser (json, logfmt). */
export type Fields = Readonly<Record<string, string>>;

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

export function isOffset(value: unknown): value is Offset {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
