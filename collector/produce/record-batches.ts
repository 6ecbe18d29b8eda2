/**
 * What produce appends: record batches in our format (shared/batch-codec.ts), each validated once (header read,
 * CRC checked, records walked against the limits) by whoever built it from the wire, plus the key that chooses its
 * partition. Front ends that receive plain records (NDJSON, syslog, OTLP, Kafka) turn them into batches with
 * `batchesFromRecords`, which applies the same limits as a binary body: records per request and bytes per value.
 */
import { BatchBuilder, readBatchHeader, type ValidatedBatch } from '../../shared/batch-codec.ts';
import { LimitExceededError } from '../../shared/errors.ts';
import type { Fields, Labels, TimestampMs } from '../../shared/record.ts';
import type { CollectorLimits } from '../config.ts';

/** One batch ready to append: validated, one key (the partition is chosen by it unless the caller names one). */
export interface ProducedBatch extends ValidatedBatch {
  readonly key: string;
}

/** One record as a front end received it. */
export interface PlainRecord {
  /** The source (host + path, a syslog host/app, an OTLP resource…): records of one key land in one partition. */
  readonly key: string;
  readonly labels: Labels;
  readonly timestamp: TimestampMs;
  readonly value: Uint8Array;
  readonly fields?: Fields | undefined;
}

export type RecordLimits = Pick<CollectorLimits, 'maxRecordsPerRequest' | 'maxLineBytes'>;

/** Close a batch once its records reach this size, so no batch built here nears the codec's maximum. */
const BATCH_RECORD_BYTES = 1024 * 1024;

export function tooManyRecords(limits: RecordLimits): LimitExceededError {
  return new LimitExceededError(
    `the request holds more than ${limits.maxRecordsPerRequest} records (limits.max_records_per_request): ` +
      'split it into smaller requests',
    'count',
  );
}

export function lineTooLong(bytes: number, where: string, limits: RecordLimits): LimitExceededError {
  return new LimitExceededError(
    `${where} has a value of ${bytes} bytes, above the limit of ${limits.maxLineBytes} bytes (limits.max_line_bytes)`,
    'line',
  );
}

/**
 * Encodes records into batches, one per run of consecutive records with the same key and labels (and at most
 * ~1 MiB of records each), checking the limits as it goes: a record past a limit throws before anything is
 * appended. `describe(i)` names record i in errors ("line 3", "record 12"). Returns no batch for no records.
 */
export function batchesFromRecords(
  records: Iterable<PlainRecord>,
  limits: RecordLimits,
  describe: (index: number) => string = (i) => `record ${i}`,
): ProducedBatch[] {
  const out: ProducedBatch[] = [];
  let builder: BatchBuilder | undefined;
  let builderLabels = '';
  let lastLabels: Labels | undefined;
  const flush = () => {
    if (builder && builder.recordCount > 0) {
      const bytes = builder.finish();
      out.push({ header: readBatchHeader(bytes, 0), bytes, key: builder.key });
    }
    builder = undefined;
  };
  // A builder sized for what is still to come grows no more than once or twice (each growth copies what it holds):
  // the request's remaining bytes when they are known up front, capped at one batch.
  let expected = 0;
  if (Array.isArray(records)) for (const r of records as readonly PlainRecord[]) expected += r.value.length + 8;
  let count = 0;
  for (const r of records) {
    if (++count > limits.maxRecordsPerRequest) throw tooManyRecords(limits);
    if (r.value.length > limits.maxLineBytes) throw lineTooLong(r.value.length, describe(count - 1), limits);
    // Front ends that share one label object per source (syslog) skip the stringify.
    const labels = r.labels === lastLabels ? builderLabels : JSON.stringify(r.labels);
    lastLabels = r.labels;
    if (!builder || builder.key !== r.key || builderLabels !== labels || builder.recordBytes >= BATCH_RECORD_BYTES) {
      flush();
      const capacity =
        expected > 0
          ? Math.min(expected, BATCH_RECORD_BYTES + 64 * 1024)
          : Math.min(64 * 1024, r.value.length * 2 + 64);
      builder = new BatchBuilder(r.key, r.labels, Math.max(capacity, 64));
      builderLabels = labels;
    }
    builder.add(r.timestamp, r.value, r.fields);
    expected -= r.value.length + 8;
  }
  flush();
  return out;
}
