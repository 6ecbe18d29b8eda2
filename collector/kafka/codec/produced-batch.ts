/**
 * A Produce request's record set (one or more Kafka RecordBatch v2, layout in record-batch.ts) decoded into plain
 * records for our produce path: key = the record key (UTF-8; a null key becomes ''), value = the record value (a
 * null value becomes empty: there is no compaction, so no tombstones), timestamp = the record's CreateTime (the
 * collector's clock for LogAppendTime or a negative timestamp), labels = the record headers (UTF-8; a repeated
 * header name keeps its last value). The partition is the one the producer chose.
 *
 * Validated here, before anything is appended: magic 2 only (older message formats: Produce versions below 3 are
 * not served), the CRC-32C, lengths and counts against the batch, no transactional or control batches, the
 * inflated size against limits.max_decompressed_bytes. A violation throws InvalidKafkaBatchError naming the Kafka
 * error code the partition gets.
 */
import { crc32c } from '@node-rs/crc32';
import type { Labels } from '../../../shared/record.ts';
import { ErrorCode } from '../protocol.ts';
import { DecompressionLimitError, inflate } from './compression.ts';
import { KafkaProtocolError } from './primitives.ts';
import { KAFKA_BATCH_HEADER_SIZE } from './record-batch.ts';

export class InvalidKafkaBatchError extends Error {
  override readonly name = 'InvalidKafkaBatchError';
  constructor(
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** One record as decoded: the shape of the produce path's plain record. */
export interface DecodedRecord {
  readonly key: string;
  readonly labels: Labels;
  readonly timestamp: number;
  readonly value: Buffer;
}

export interface DecodedBatch {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly records: readonly DecodedRecord[];
}

const EMPTY = Buffer.alloc(0);

class VarintReader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
  ) {}

  varint(): number {
    let result = 0;
    let multiplier = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new KafkaProtocolError('record truncated');
      const byte = this.buf[this.pos++]!;
      result += (byte & 0x7f) * multiplier;
      if (byte < 0x80) {
        if (!Number.isSafeInteger(result)) break;
        return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
      }
      multiplier *= 128;
    }
    throw new KafkaProtocolError('varint too long');
  }

  /** varint length (-1: null) + bytes. */
  bytes(): Buffer | null {
    const length = this.varint();
    if (length < 0) return null;
    if (length > this.end - this.pos) throw new KafkaProtocolError('record field runs past its record');
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }
}

/**
 * Decodes every batch of a partition's record set. `maxInflated` caps each batch's inflated records, `maxValue`
 * each value (limits.max_line_bytes), `now` stands in for LogAppendTime.
 */
export function decodeProducedRecords(
  recordSet: Buffer,
  limits: { readonly maxInflated: number; readonly maxValue: number },
  now: number,
): DecodedBatch[] {
  const out: DecodedBatch[] = [];
  let pos = 0;
  while (pos < recordSet.length) {
    if (recordSet.length - pos < KAFKA_BATCH_HEADER_SIZE) {
      throw new InvalidKafkaBatchError(ErrorCode.CORRUPT_MESSAGE, 'truncated record batch header');
    }
    const size = 12 + recordSet.readInt32BE(pos + 8);
    if (size < KAFKA_BATCH_HEADER_SIZE || size > recordSet.length - pos) {
      throw new InvalidKafkaBatchError(ErrorCode.CORRUPT_MESSAGE, 'record batch length runs past the record set');
    }
    out.push(decodeBatch(recordSet.subarray(pos, pos + size), limits, now));
    pos += size;
  }
  if (out.length === 0) throw new InvalidKafkaBatchError(ErrorCode.CORRUPT_MESSAGE, 'empty record set');
  return out;
}

function decodeBatch(batch: Buffer, limits: { maxInflated: number; maxValue: number }, now: number): DecodedBatch {
  const magic = batch.readInt8(16);
  if (magic !== 2) {
    throw new InvalidKafkaBatchError(
      ErrorCode.CORRUPT_MESSAGE,
      `message format v${magic} is not served: use a client that produces RecordBatch v2 (Kafka 0.11+)`,
    );
  }
  if (crc32c(batch.subarray(21)) !== batch.readUInt32BE(17)) {
    throw new InvalidKafkaBatchError(ErrorCode.CORRUPT_MESSAGE, 'record batch fails its CRC-32C check');
  }
  const attributes = batch.readInt16BE(21);
  if (attributes & 0x30) {
    throw new InvalidKafkaBatchError(
      ErrorCode.INVALID_RECORD,
      'transactional and control batches are not supported (Tributary has no transactions)',
    );
  }
  const logAppendTime = (attributes & 0x08) !== 0;
  const baseTimestamp = Number(batch.readBigInt64BE(27));
  const producerId = Number(batch.readBigInt64BE(43));
  const producerEpoch = batch.readInt16BE(51);
  const baseSequence = batch.readInt32BE(53);
  const count = batch.readInt32BE(57);
  if (count < 1 || count > batch.length) {
    throw new InvalidKafkaBatchError(ErrorCode.CORRUPT_MESSAGE, `record batch has record count ${count}`);
  }
  let section: Buffer;
  try {
    section = inflate(attributes & 0x7, batch.subarray(KAFKA_BATCH_HEADER_SIZE), limits.maxInflated);
  } catch (error) {
    if (error instanceof DecompressionLimitError)
      throw new InvalidKafkaBatchError(ErrorCode.MESSAGE_TOO_LARGE, error.message);
    throw new InvalidKafkaBatchError(ErrorCode.CORRUPT_MESSAGE, (error as Error).message);
  }
  const records: DecodedRecord[] = [];
  const r = new VarintReader(section, 0, section.length);
  try {
    for (let i = 0; i < count; i++) {
      const length = r.varint();
      if (length < 0 || length > section.length - r.pos)
        throw new KafkaProtocolError(`record ${i} runs past the batch`);
      const end = r.pos + length;
      const body = new VarintReader(section, r.pos, end);
      body.pos++; // attributes (unused)
      const timestampDelta = body.varint();
      body.varint(); // offset delta: offsets are assigned on append
      const key = body.bytes();
      const value = body.bytes() ?? EMPTY;
      if (value.length > limits.maxValue) {
        throw new InvalidKafkaBatchError(
          ErrorCode.MESSAGE_TOO_LARGE,
          `record ${i} has a value of ${value.length} bytes, above limits.max_line_bytes (${limits.maxValue})`,
        );
      }
      const headerCount = body.varint();
      if (headerCount < 0 || headerCount * 2 > end - body.pos) throw new KafkaProtocolError('bad header count');
      const labels: Record<string, string> = {};
      for (let h = 0; h < headerCount; h++) {
        const name = body.bytes();
        if (name === null) throw new KafkaProtocolError('null header key');
        const headerValue = body.bytes();
        // defineProperty: a header named __proto__ is data, never a prototype change.
        Object.defineProperty(labels, name.toString('utf8'), {
          value: headerValue === null ? '' : headerValue.toString('utf8'),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      if (body.pos !== end) throw new KafkaProtocolError(`record ${i} has stray bytes`);
      r.pos = end;
      const timestamp = baseTimestamp + timestampDelta;
      records.push({
        key: key === null ? '' : key.toString('utf8'),
        labels,
        timestamp: logAppendTime || timestamp < 0 || !Number.isSafeInteger(timestamp) ? now : timestamp,
        value,
      });
    }
  } catch (error) {
    if (error instanceof InvalidKafkaBatchError) throw error;
    throw new InvalidKafkaBatchError(ErrorCode.CORRUPT_MESSAGE, (error as Error).message);
  }
  return { producerId, producerEpoch, baseSequence, records };
}
