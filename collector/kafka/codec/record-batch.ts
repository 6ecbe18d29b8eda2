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

/** Copies a short buffer with a JS loop: cheaper than a native copy call for the few bytes of a key or headers. */
function copySmall(src: Buffer, dst: Buffer, pos: number): number {
  const n = src.length;
  if (n > 64) {
    dst.set(src, pos);
    return pos + n;
  }
  for (let i = 0; i < n; i++) dst[pos + i] = src[i]!;
  return pos + n;
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
 * Translates one whole batch of ours (offsets stamped) to one Kafka RecordBatch v2. The hot loop walks our
 * records section directly (no object per record): a record with parsed fields takes the general path through
 * forEachRecord instead, since its headers differ from the batch's.
 */
export function toKafkaBatch(batch: Buffer, header: BatchHeader = readBatchHeader(batch, 0)): Buffer {
  const source = readBatchSource(batch);
  const key = encodeVarString(source.key);
  const labelHeaders = encodeHeaders(source.labels);
  const section = recordsSection(batch, header, source);
  // Upper bound: each record carries its value (already in our section) plus the key, the headers, at most 4
  // varints of at most 10 bytes and its attributes byte. Fields make the bound grow; they are rare.
  let capacity =
    KAFKA_BATCH_HEADER_SIZE + section.length + header.recordCount * (key.length + labelHeaders.length + 41);
  let out = Buffer.allocUnsafe(capacity);
  let pos = KAFKA_BATCH_HEADER_SIZE;
  const write = (timestampDelta: number, offsetDelta: number, value: Buffer, headers: Buffer) => {
    const valueLength = value.length;
    const bodyLength =
      1 +
      varintSize(timestampDelta) +
      varintSize(offsetDelta) +
      key.length +
      varintSize(valueLength) +
      valueLength +
      headers.length;
    const needed = varintSize(bodyLength) + bodyLength;
    if (pos + needed > capacity) {
      capacity = Math.max(capacity * 2, pos + needed);
      const grown = Buffer.allocUnsafe(capacity);
      out.copy(grown, 0, 0, pos);
      out = grown;
    }
    pos = writeVarint(out, pos, bodyLength);
    out[pos++] = 0;
    pos = writeVarint(out, pos, timestampDelta);
    pos = writeVarint(out, pos, offsetDelta);
    pos = copySmall(key, out, pos);
    pos = writeVarint(out, pos, valueLength);
    pos = copySmall(value, out, pos);
    pos = copySmall(headers, out, pos);
  };
  let p = 0;
  let fast = true;
  for (let i = 0; i < header.recordCount; i++) {
    const bodyLength = readUvarint(section, p, section.length);
    p = cursor;
    const bodyEnd = p + bodyLength;
    if (bodyEnd > section.length) throw new CorruptBatchError(`record ${i} runs past the end of its batch`);
    const zigzag = readUvarint(section, p, bodyEnd);
    p = cursor;
    const valueLength = readUvarint(section, p, bodyEnd);
    p = cursor;
    if (valueLength > bodyEnd - p) throw new CorruptBatchError(`record ${i} value runs past its record`);
    const value = section.subarray(p, p + valueLength);
    p += valueLength;
    if (p !== bodyEnd - 1 || section[p] !== 0) {
      fast = false; // parsed fields: take the general path for the whole batch
      break;
    }
    p = bodyEnd;
    const timestampDelta = zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2;
    write(timestampDelta, i, value, labelHeaders);
  }
  if (!fast) {
    pos = KAFKA_BATCH_HEADER_SIZE;
    forEachRecord(
      batch,
      (record) => {
        const headers = record.fields ? encodeHeaders(source.labels, record.fields) : labelHeaders;
        write(record.timestamp - header.firstTimestamp, record.offset - header.baseOffset, record.value, headers);
        return true;
      },
      header,
      source,
    );
  } else if (p !== section.length) {
    throw new CorruptBatchError(`batch at offset ${header.baseOffset} has bytes after its last record`);
  }
  out.writeBigInt64BE(BigInt(header.baseOffset), 0);
  out.writeInt32BE(pos - 12, 8);
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
  out.writeUInt32BE(crc32c(out.subarray(KAFKA_CRC_START, pos)), 17);
  return out.subarray(0, pos);
}

/** Translates concatenated whole batches of ours (as LogStore.read returns them) to Kafka batches, one each. */
export function toKafkaBatches(batches: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let pos = 0;
  while (pos < batches.length) {
    const header = readBatchHeader(batches, pos);
    parts.push(toKafkaBatch(batches.subarray(pos, pos + header.size), header));
    pos += header.size;
  }
  return parts;
}

/** The same, concatenated. */
export function toKafkaRecords(batches: Buffer): Buffer {
  const parts = toKafkaBatches(batches);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
