/**
 * Turns a produce body into validated record batches, checking everything before anything is appended: a request
 * that fails any check stores nothing.
 *
 * - Binary (`application/vnd.tributary.batch`): concatenated batches as the agent encodes them. Each is checked for
 *   header and CRC (splitBatches) and then walked record by record, because a CRC only proves the bytes arrived as
 *   sent, not that they form records a reader can decode. The batches are then stored as they came.
 * - NDJSON (`application/x-ndjson`): one JSON object per line, encoded into batches by batchesFromRecords, one per run of
 *   consecutive records with the same key and labels (and at most ~1 MiB of records each).
 */
import { isUtf8 } from 'node:buffer';
import { forEachRecord, readBatchSource, splitBatches } from '../../shared/batch-codec.ts';
import { CorruptBatchError, InvalidArgumentError } from '../../shared/errors.ts';
import type { TimestampMs } from '../../shared/record.ts';
import {
  batchesFromRecords,
  lineTooLong,
  type PlainRecord,
  type ProducedBatch,
  type RecordLimits,
  tooManyRecords,
} from './record-batches.ts';

export function decodeBinaryBody(body: Buffer, limits: RecordLimits): ProducedBatch[] {
  if (body.length === 0) throw new InvalidArgumentError('the request body is empty: send one or more record batches');
  let split: ReturnType<typeof splitBatches>;
  try {
    split = splitBatches(body);
  } catch (error) {
    if (error instanceof CorruptBatchError) {
      throw new CorruptBatchError(`invalid record batch in the request: ${error.message}`);
    }
    throw error;
  }
  let total = 0;
  for (const { header } of split) total += header.recordCount;
  if (total > limits.maxRecordsPerRequest) throw tooManyRecords(limits);
  const out: ProducedBatch[] = [];
  for (const [i, { header, bytes }] of split.entries()) {
    try {
      const source = readBatchSource(bytes);
      if (header.compression === 'none') {
        walkRecords(bytes, source.recordsStart, header.recordCount, i, limits);
      } else {
        forEachRecord(
          bytes,
          (record) => {
            if (record.value.length > limits.maxLineBytes) {
              throw lineTooLong(record.value.length, `batch ${i}, record ${record.offset - header.baseOffset}`, limits);
            }
            return true;
          },
          header,
          source,
        );
      }
      out.push({ header, bytes, key: source.key });
    } catch (error) {
      if (error instanceof CorruptBatchError) {
        throw new CorruptBatchError(`batch ${i} of the request is malformed: ${error.message}`);
      }
      throw error;
    }
  }
  return out;
}

/**
 * Checks the records section of an uncompressed batch the way forEachRecord would (every length within its
 * record, exactly `count` records, nothing after the last) and each value against max_line_bytes, without
 * allocating anything per record: on the produce hot path the per-record views of forEachRecord cost more than
 * the CRC (docs/decisions.md, "Produce validates records").
 */
function walkRecords(batch: Buffer, start: number, count: number, index: number, limits: RecordLimits): void {
  let pos = start;
  const end = batch.length;
  const corrupt = (why: string) => new CorruptBatchError(`record ${why}`);
  const uvarint = (limit: number): number => {
    let result = 0;
    let multiplier = 1;
    for (let n = 0; n < 8; n++) {
      if (pos >= limit) throw corrupt('truncated varint');
      const byte = batch[pos++]!;
      result += (byte & 0x7f) * multiplier;
      if (byte < 0x80) return result;
      multiplier *= 128;
    }
    throw corrupt('varint too long');
  };
  for (let r = 0; r < count; r++) {
    const bodyLength = uvarint(end);
    const bodyEnd = pos + bodyLength;
    if (bodyEnd > end) throw corrupt(`${r} runs past the end of its batch`);
    uvarint(bodyEnd); // timestamp delta
    const valueLength = uvarint(bodyEnd);
    if (valueLength > bodyEnd - pos) throw corrupt(`${r}: value runs past the end of the record`);
    if (valueLength > limits.maxLineBytes) throw lineTooLong(valueLength, `batch ${index}, record ${r}`, limits);
    pos += valueLength;
    const fields = uvarint(bodyEnd);
    for (let f = 0; f < fields * 2; f++) {
      const length = uvarint(bodyEnd);
      if (length > bodyEnd - pos) throw corrupt(`${r}: a field runs past the end of the record`);
      pos += length;
    }
    if (pos !== bodyEnd) throw corrupt(`${r} has ${bodyEnd - pos} stray bytes`);
  }
  if (pos !== end) throw new CorruptBatchError('bytes after the last record');
}

function stringMap(value: unknown, what: string, line: number): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(`line ${line}: ${what} must be an object of strings`);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw new InvalidArgumentError(`line ${line}: ${what}.${k} must be a string, got ${JSON.stringify(v)}`);
    }
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function parseTimestamp(value: unknown, line: number, now: TimestampMs): TimestampMs {
  if (value === undefined || value === null) return now;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    if (Number.isSafeInteger(ms) && ms >= 0) return ms;
  }
  throw new InvalidArgumentError(
    `line ${line}: timestamp must be milliseconds since the epoch or an ISO-8601 string, got ${JSON.stringify(value)}`,
  );
}

function parseLine(text: string, line: number, limits: RecordLimits, now: TimestampMs): PlainRecord {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(`line ${line} is not valid JSON: ${(error as Error).message}`);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new InvalidArgumentError(`line ${line}: expected a JSON object like {"key": "...", "value": "..."}`);
  }
  const o = obj as Record<string, unknown>;
  const key = o.key ?? '';
  if (typeof key !== 'string') throw new InvalidArgumentError(`line ${line}: key must be a string`);
  let value: Buffer;
  if (typeof o.value === 'string' && o.value_base64 === undefined) {
    value = Buffer.from(o.value, 'utf8');
  } else if (typeof o.value_base64 === 'string' && o.value === undefined) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(o.value_base64)) {
      throw new InvalidArgumentError(`line ${line}: value_base64 is not valid base64`);
    }
    value = Buffer.from(o.value_base64, 'base64');
  } else {
    throw new InvalidArgumentError(`line ${line}: give exactly one of "value" (a string) or "value_base64"`);
  }
  if (value.length > limits.maxLineBytes) throw lineTooLong(value.length, `line ${line}`, limits);
  return {
    key,
    labels: stringMap(o.labels, 'labels', line) ?? {},
    timestamp: parseTimestamp(o.timestamp, line, now),
    value,
    fields: stringMap(o.fields, 'fields', line),
  };
}

export function decodeNdjsonBody(body: Buffer, limits: RecordLimits, now: TimestampMs = Date.now()): ProducedBatch[] {
  if (!isUtf8(body)) throw new InvalidArgumentError('the NDJSON body is not valid UTF-8');
  const out = batchesFromRecords(ndjsonRecords(body, limits, now), limits);
  if (out.length === 0)
    throw new InvalidArgumentError('the request body holds no records: send one JSON object per line');
  return out;
}

/** The records of an NDJSON body, parsed one line at a time (a bad line throws before later lines are read). */
function* ndjsonRecords(body: Buffer, limits: RecordLimits, now: TimestampMs): Generator<PlainRecord> {
  let start = 0;
  let line = 0;
  while (start < body.length) {
    let end = body.indexOf(10, start);
    if (end === -1) end = body.length;
    line++;
    const text = body.toString('utf8', start, end).trim();
    start = end + 1;
    if (text !== '') yield parseLine(text, line, limits, now);
  }
}
