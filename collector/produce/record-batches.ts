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

/** A batch being built: its source's labels (the object last seen and its JSON text, to compare label sets). */
interface OpenBatch {
  readonly builder: BatchBuilder;
  labels: Labels;
  readonly labelsText: string;
}

/**
 * Encodes records into batches as they come, each value copied once into its batch and no record object kept; a
 * batch holds one key and one label set, at most ~1 MiB of records and at most `maxRecordsPerBatch` records. `add`
 * checks the line limit: a value above it throws before anything is encoded. `take` hands out what was encoded
 * (the open batches closed) and starts afresh.
 *
 * `keysOpen` is how many keys may have a batch open at once. With 1 (a request: batchesFromRecords) a batch is a run
 * of consecutive records with the same key and labels, and the batches keep the request's order. A stream encoder
 * (syslog's IngestQueue) keeps one open batch per key, so that the interleaved lines of many programs that a relay
 * forwards on one connection still make large batches instead of one batch a line: the order is kept per key (a new
 * label set for a key closes that key's batch first), not across keys.
 */
export class BatchEncoder {
  private batches: ProducedBatch[] = [];
  /** Open batches by key; `last` is the one added to last (the common case: the same source again). */
  private readonly open = new Map<string, OpenBatch>();
  private last: OpenBatch | undefined;
  private records = 0;
  /** Records bytes of the last batch closed, plus a margin: the next one's starting size. */
  private lastBatchBytes = 0;

  /** `describe(i)` names the i-th record since the last take in a limit error ("line 3", "record 12"). */
  constructor(
    private readonly limits: RecordLimits,
    private readonly describe: (index: number) => string = (i) => `record ${i}`,
    private readonly maxRecordsPerBatch = Number.POSITIVE_INFINITY,
    private readonly keysOpen = 1,
  ) {}

  /** Records added since the last take. */
  get recordCount(): number {
    return this.records;
  }

  /**
   * Adds one record. `expected` is how many value bytes are still to come, when known, so that the builder is sized
   * once instead of grown by copies.
   */
  add(r: PlainRecord, expected = 0): void {
    this.addRange(r.key, r.labels, r.timestamp, r.value, 0, r.value.length, r.fields, expected);
  }

  /** Adds a record whose value is bytes start..end of `source`: a receiver's hot path makes no record object. */
  addRange(
    key: string,
    labels: Labels,
    timestamp: TimestampMs,
    source: Uint8Array,
    start: number,
    end: number,
    fields?: Fields,
    expected = 0,
  ): void {
    const valueLength = end - start;
    if (valueLength > this.limits.maxLineBytes) {
      throw lineTooLong(valueLength, this.describe(this.records), this.limits);
    }
    let batch = this.last !== undefined && this.last.builder.key === key ? this.last : this.open.get(key);
    let labelsText: string | undefined;
    if (batch !== undefined && batch.labels !== labels) {
      // Front ends that share one label object per source (syslog) skip the stringify.
      labelsText = JSON.stringify(labels);
      if (labelsText === batch.labelsText) batch.labels = labels;
      else batch = this.close(batch);
    }
    if (
      batch !== undefined &&
      (batch.builder.recordBytes >= BATCH_RECORD_BYTES || batch.builder.recordCount >= this.maxRecordsPerBatch)
    ) {
      batch = this.close(batch);
    }
    if (batch === undefined) {
      if (this.open.size >= this.keysOpen) this.closeAll();
      // Sized for what is still to come when it is known (a request), else like the last batch (a stream of them),
      // so that it grows by copies once or twice at most.
      const capacity =
        expected > 0
          ? Math.min(expected, BATCH_RECORD_BYTES + 64 * 1024)
          : Math.max(Math.min(64 * 1024, valueLength * 2 + 64), this.lastBatchBytes);
      batch = {
        builder: new BatchBuilder(key, labels, Math.max(capacity, 64)),
        labels,
        labelsText: labelsText ?? JSON.stringify(labels),
      };
      this.open.set(key, batch);
    }
    this.last = batch;
    batch.builder.addRange(timestamp, source, start, end, fields);
    this.records++;
  }

  /** The batches encoded since the last take (none for no records). */
  take(): ProducedBatch[] {
    this.closeAll();
    const out = this.batches;
    this.batches = [];
    this.records = 0;
    return out;
  }

  private closeAll(): void {
    for (const batch of this.open.values()) this.close(batch);
  }

  private close(batch: OpenBatch): undefined {
    const { builder } = batch;
    this.open.delete(builder.key);
    if (this.last === batch) this.last = undefined;
    if (builder.recordCount > 0) {
      this.lastBatchBytes = Math.min(BATCH_RECORD_BYTES + 64 * 1024, builder.recordBytes + (builder.recordBytes >> 4));
      const bytes = builder.finish();
      this.batches.push({ header: readBatchHeader(bytes, 0), bytes, key: builder.key });
    }
    return undefined;
  }
}

/**
 * Encodes a request's records into batches (BatchEncoder), checking the limits as it goes: a record past a limit
 * throws before anything is appended. `describe(i)` names record i in errors ("line 3", "record 12"). Returns no
 * batch for no records.
 */
export function batchesFromRecords(
  records: Iterable<PlainRecord>,
  limits: RecordLimits,
  describe: (index: number) => string = (i) => `record ${i}`,
): ProducedBatch[] {
  const encoder = new BatchEncoder(limits, describe);
  // A builder sized for what is still to come grows no more than once or twice (each growth copies what it holds):
  // the request's remaining bytes when they are known up front, capped at one batch.
  let expected = 0;
  if (Array.isArray(records)) for (const r of records as readonly PlainRecord[]) expected += r.value.length + 8;
  let count = 0;
  for (const r of records) {
    if (++count > limits.maxRecordsPerRequest) throw tooManyRecords(limits);
    encoder.add(r, expected);
    expected -= r.value.length + 8;
  }
  return encoder.take();
}
