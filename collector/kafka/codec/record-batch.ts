/**
 * Our record batch (shared/batch-codec.ts) translated to Kafka's RecordBatch v2, for Fetch.
 *
 * Kafka RecordBatch v2 (kafka.apache.org/documentation/#recordbatch), big-endian:
 *
 *   offset size field
 *    0     8   baseOffset            = our base offset (offsets are the same numbers in both protocols)
 *    8     4   batchLength           bytes that follow this field
 *   12     4   partitionLeaderEpoch  0 (one leader, forever)
 *   16     1   magic                 2
 *   17     4   crc                   CRC-32C (Castagnoli) of every byte from `attributes` to the end
 *   21     2   attributes            0: no compression, CreateTime timestamps, not transactional, not control
 *   23     4   lastOffsetDelta       recordCount - 1
 *   27     8   baseTimestamp         = our firstTimestamp
 *   35     8   maxTimestamp          = our maxTimestamp
 *   43     8   producerId            -1
 *   51     2   producerEpoch         -1
 *   53     4   baseSequence          -1
 *   57     4   recordCount
 *   61     -   records: zigzag varint length, int8 attributes (0), zigzag varlong timestampDelta, zigzag varint
 *              offsetDelta, varint keyLength + key, varint valueLength + value, varint headerCount, then per
 *              header varint keyLength + key (UTF-8), varint valueLength + value
 *
 * The mapping (docs/kafka.md): record key = our batch key (the source, `host:path` for agent lines), value = the
 * line, timestamp = the record's timestamp, headers = the batch's labels followed by the record's parsed fields.
 * Each of our batches becomes one Kafka batch with the same offsets, uncompressed: the key and the headers are
 * encoded once per batch and copied into every record, so the per-record cost is a few varints and two copies.
 */
import { crc32c } from '@node-rs/crc32';
import {
  type BatchHeader,
  type BatchSource,
  forEachRecord,
  readBatchHeader,
  readBatchSource,
  recordsSection,
} from '../../../shared/batch-codec.ts';
import { CorruptBatchError } from '../../../shared/errors.ts';
import type { Fields, Labels } from '../../../shared/record.ts';

export const KAFKA_BATCH_HEADER_SIZE = 61;
const KAFKA_CRC_START = 21;

/** Bytes of a zigzag varint (Kafka's `varint`/`varlong`) for a safe integer. */
function varintSize(value: number): number {
  if (value >= 0 && value < 64) return 1;
  if (value >= 0 && value < 8192) return 2;
  let v = value >= 0 ? value * 2 : -value * 2 - 1;
  let size = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, pos: number, value: number): number {
  if (value >= 0 && value < 64) {
    buf[pos] = value * 2;
    return pos + 1;
  }
  let v = value >= 0 ? value * 2 : -value * 2 - 1;
  while (v >= 0x80) {
    buf[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

/** `varint length + bytes` of a string, as Kafka encodes a record key or a header key/value. */
function encodeVarString(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const out = Buffer.allocUnsafe(varintSize(bytes.length) + bytes.length);
  bytes.copy(out, writeVarint(out, 0, bytes.length));
  return out;
}

/** The headers section of a record (count, then each key and value) for these pairs. */
/** Labels, then a record's fields; a field that is not a string travels as its JSON text. */
export function encodeHeaders(...sets: (Labels | Fields | undefined)[]): Buffer {
  const parts: Buffer[] = [];
  let count = 0;
  for (const set of sets) {
    if (!set) continue;
    for (const [name, value] of Object.entries(set)) {
      parts.push(encodeVarString(name), encodeVarString(typeof value === 'string' ? value : JSON.stringify(value)));
      count++;
    }
  }
  const countBytes = Buffer.allocUnsafe(varintSize(count));
  writeVarint(countBytes, 0, count);
  return Buffer.concat([countBytes, ...parts]);
}

/** Where readUvarint stopped: a module-level cursor instead of a returned pair, so the hot loop allocates nothing. */
let cursor = 0;

/** Reads an unsigned varint of our format at `pos`, leaving the next position in `cursor`. */
function readUvarint(buf: Buffer, pos: number, end: number): number {
  if (pos < end && buf[pos]! < 0x80) {
    cursor = pos + 1;
    return buf[pos]!;
  }
  let result = 0;
  let multiplier = 1;
  for (let i = 0; i < 8; i++) {
    if (pos >= end) throw new CorruptBatchError('truncated varint');
    const byte = buf[pos++]!;
    result += (byte & 0x7f) * multiplier;
    if (byte < 0x80) {
      cursor = pos;
      return result;
    }
    multiplier *= 128;
  }
  throw new CorruptBatchError('varint too long');
}

/**
 * Where translated batches are written (storage/fetch-memory.ts reuses it from answer to answer): `region(size)` gives at
 * least `size` free bytes, and `keep(n)` keeps the first n of the region last given.
 */
export interface TranslationMemory {
  region(size: number): Buffer;
  keep(bytes: number): void;
}

/**
 * Translates one whole batch of ours (offsets stamped) to one Kafka RecordBatch v2, in `memory` when given. Records
 * without parsed fields (nearly all) take writePlainRecords; a batch with any record carrying fields is translated
 * through forEachRecord, since those records' headers differ from the batch's.
 */
export function toKafkaBatch(
  batch: Buffer,
  header: BatchHeader = readBatchHeader(batch, 0),
  memory?: TranslationMemory,
): Buffer {
  const source = readBatchSource(batch);
  const key = encodeVarString(source.key);
  const labelHeaders = encodeHeaders(source.labels);
  const section = recordsSection(batch, header, source);
  // Upper bound for plain records: each carries its stored bytes plus the key, the headers, and at most 11 bytes more
  // (offsetDelta, and the value and record lengths growing by a byte or so as zigzag varints).
  const size = KAFKA_BATCH_HEADER_SIZE + section.length + header.recordCount * (key.length + labelHeaders.length + 16);
  const region = memory ? memory.region(size) : Buffer.allocUnsafe(size);
  let out = region;
  let end = writePlainRecords(section, header.recordCount, key, labelHeaders, out);
  if (end < 0) [out, end] = writeRecordsWithFields(batch, header, source, key, labelHeaders, out);
  // Fields may outgrow the region: the batch then lives in a buffer of its own, and the region stays free.
  memory?.keep(out === region ? end : 0);
  out.writeBigInt64BE(BigInt(header.baseOffset), 0);
  out.writeInt32BE(end - 12, 8);
  out.writeInt32BE(0, 12);
  out.writeInt8(2, 16);
  out.writeInt16BE(0, 21);
  out.writeInt32BE(header.recordCount - 1, 23);
  out.writeBigInt64BE(BigInt(header.firstTimestamp), 27);
  out.writeBigInt64BE(BigInt(header.maxTimestamp), 35);
  out.writeBigInt64BE(-1n, 43);
  out.writeInt16BE(-1, 51);
  out.writeInt32BE(-1, 53);
  out.writeInt32BE(header.recordCount, 57);
  out.writeUInt32BE(crc32c(out.subarray(KAFKA_CRC_START, end)), 17);
  return out.subarray(0, end);
}

/** Bytes of the zigzag varint of a non-negative integer below 2^31. */
function zigzagSize(value: number): number {
  return value < 64 ? 1 : value < 8192 ? 2 : value < 1048576 ? 3 : value < 134217728 ? 4 : 5;
}

/** Writes the zigzag varint of a non-negative integer below 2^31. */
function writeZigzag(buf: Buffer, pos: number, value: number): number {
  let v = value * 2;
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

/**
 * The hot loop of Fetch: walks our records section and writes Kafka records after the batch header in `out`, with no
 * object per record. Our timestamp delta is already a zigzag varint from the same base, so its bytes are copied as
 * they are. Returns the end of the records in `out`, or -1 at the first record that is not plain (it has parsed
 * fields, or is malformed: the general path then translates it or names the fault).
 */
function writePlainRecords(section: Buffer, count: number, key: Buffer, headers: Buffer, out: Buffer): number {
  const end = section.length;
  let pos = KAFKA_BATCH_HEADER_SIZE;
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p >= end) return -1;
    let bodyLength = section[p]!;
    if (bodyLength < 0x80) p++;
    else {
      bodyLength = readUvarint(section, p, end);
      p = cursor;
    }
    const bodyEnd = p + bodyLength;
    if (bodyEnd > end) return -1;
    const timestampStart = p;
    while (p < bodyEnd && section[p]! >= 0x80) p++;
    const timestampEnd = ++p;
    if (timestampEnd - timestampStart > 8 || timestampEnd >= bodyEnd) return -1;
    let valueLength = section[p]!;
    if (valueLength < 0x80) p++;
    else {
      valueLength = readUvarint(section, p, bodyEnd);
      p = cursor;
    }
    const valueStart = p;
    p += valueLength;
    // Exactly one byte left, a field count of 0: anything else is fields, or damage.
    if (p !== bodyEnd - 1 || section[p] !== 0) return -1;
    p = bodyEnd;
    const recordLength =
      1 +
      (timestampEnd - timestampStart) +
      zigzagSize(i) +
      key.length +
      zigzagSize(valueLength) +
      valueLength +
      headers.length;
    pos = writeZigzag(out, pos, recordLength);
    out[pos++] = 0; // attributes
    for (let j = timestampStart; j < timestampEnd; j++) out[pos++] = section[j]!;
    pos = writeZigzag(out, pos, i);
    out.set(key, pos);
    pos += key.length;
    pos = writeZigzag(out, pos, valueLength);
    section.copy(out, pos, valueStart, p - 1);
    pos += valueLength;
    out.set(headers, pos);
    pos += headers.length;
  }
  if (p !== end) return -1;
  return pos;
}

/** The general path: every record through forEachRecord, a record's fields as extra headers after the labels. */
function writeRecordsWithFields(
  batch: Buffer,
  header: BatchHeader,
  source: BatchSource,
  key: Buffer,
  labelHeaders: Buffer,
  buffer: Buffer,
): [Buffer, number] {
  let out: Buffer = buffer;
  let pos = KAFKA_BATCH_HEADER_SIZE;
  forEachRecord(
    batch,
    (record) => {
      const headers = record.fields ? encodeHeaders(source.labels, record.fields) : labelHeaders;
      const timestampDelta = record.timestamp - header.firstTimestamp;
      const offsetDelta = record.offset - header.baseOffset;
      const valueLength = record.value.length;
      const bodyLength =
        1 +
        varintSize(timestampDelta) +
        varintSize(offsetDelta) +
        key.length +
        varintSize(valueLength) +
        valueLength +
        headers.length;
      const needed = varintSize(bodyLength) + bodyLength;
      if (pos + needed > out.length) {
        const grown = Buffer.allocUnsafe(Math.max(out.length * 2, pos + needed));
        out.copy(grown, 0, 0, pos);
        out = grown;
      }
      pos = writeVarint(out, pos, bodyLength);
      out[pos++] = 0;
      pos = writeVarint(out, pos, timestampDelta);
      pos = writeVarint(out, pos, offsetDelta);
      out.set(key, pos);
      pos += key.length;
      pos = writeVarint(out, pos, valueLength);
      out.set(record.value, pos);
      pos += valueLength;
      out.set(headers, pos);
      pos += headers.length;
      return true;
    },
    header,
    source,
  );
  return [out, pos];
}

/** Translates concatenated whole batches of ours (as LogStore.read returns them) to Kafka batches, one each. */
export function toKafkaBatches(batches: Buffer, memory?: TranslationMemory): Buffer[] {
  const parts: Buffer[] = [];
  let pos = 0;
  while (pos < batches.length) {
    const header = readBatchHeader(batches, pos);
    parts.push(toKafkaBatch(batches.subarray(pos, pos + header.size), header, memory));
    pos += header.size;
  }
  return parts;
}

/** The same, concatenated. */
export function toKafkaRecords(batches: Buffer): Buffer {
  const parts = toKafkaBatches(batches);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
