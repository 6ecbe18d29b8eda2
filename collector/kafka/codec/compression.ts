/**
 * Inflating the records of a produced Kafka batch: attributes bits 0-2 name the codec (0 none, 1 gzip, 2 snappy,
 * 3 lz4, 4 zstd). Every codec is capped at `maxBytes` (limits.max_decompressed_bytes, as for HTTP gzip bodies), and
 * the cap is enforced before or while inflating, never after, so a small bomb cannot allocate more than the cap:
 * gzip through zlib's maxOutputLength; snappy by its declared length (raw blocks, or the xerial framing the Java
 * client writes); LZ4 frames (Kafka's KIP-57 framing) by their block count times their declared block size; zstd
 * (Node 20's zlib has none; fzstd, pure JS) by streaming and counting.
 */
import { gunzipSync } from 'node:zlib';
import { decompressFrameSync } from 'lz4-napi';
import { uncompressSync } from 'snappy';
import { Decompress as ZstdDecompress } from 'fzstd';
import { KafkaProtocolError } from './primitives.ts';

export const COMPRESSION_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type KafkaCompression = (typeof COMPRESSION_NAMES)[number];

/** The records section inflated, or KafkaProtocolError/DecompressionLimitError. */
export class DecompressionLimitError extends Error {
  override readonly name = 'DecompressionLimitError';
}

export function inflate(codec: number, data: Buffer, maxBytes: number): Buffer {
  switch (codec) {
    case 0:
      return data;
    case 1:
      try {
        return gunzipSync(data, { maxOutputLength: maxBytes });
      } catch (error) {
        if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(maxBytes);
        throw new KafkaProtocolError(`gzip records do not inflate: ${(error as Error).message}`);
      }
    case 2:
      return inflateSnappy(data, maxBytes);
    case 3:
      return inflateLz4(data, maxBytes);
    case 4:
      return inflateZstd(data, maxBytes);
    default:
      throw new KafkaProtocolError(`unknown compression codec ${codec}`);
  }
}

function tooLarge(maxBytes: number): DecompressionLimitError {
  return new DecompressionLimitError(
    `the batch's records inflate to more than ${maxBytes} bytes (limits.max_decompressed_bytes)`,
  );
}

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);

/** The uncompressed length a raw snappy block declares (its leading uvarint). */
function snappyLength(block: Buffer): number {
  let result = 0;
  let multiplier = 1;
  for (let i = 0; i < 5 && i < block.length; i++) {
    const byte = block[i]!;
    result += (byte & 0x7f) * multiplier;
    if (byte < 0x80) return result;
    multiplier *= 128;
  }
  throw new KafkaProtocolError('snappy block has no valid length');
}

function snappyBlock(block: Buffer): Buffer {
  try {
    return uncompressSync(block) as Buffer;
  } catch (error) {
    throw new KafkaProtocolError(`snappy records do not inflate: ${(error as Error).message}`);
  }
}

function inflateSnappy(data: Buffer, maxBytes: number): Buffer {
  if (data.length < 16 || !data.subarray(0, 8).equals(XERIAL_MAGIC)) {
    if (snappyLength(data) > maxBytes) throw tooLarge(maxBytes);
    return snappyBlock(data);
  }
  // xerial: 8 bytes magic, int32 version, int32 compatible version, then (int32 length, raw snappy block)*.
  const blocks: Buffer[] = [];
  let total = 0;
  let pos = 16;
  while (pos < data.length) {
    if (data.length - pos < 4) throw new KafkaProtocolError('truncated xerial snappy block length');
    const length = data.readInt32BE(pos);
    pos += 4;
    if (length < 0 || length > data.length - pos) throw new KafkaProtocolError('truncated xerial snappy block');
    const block = data.subarray(pos, pos + length);
    pos += length;
    total += snappyLength(block);
    if (total > maxBytes) throw tooLarge(maxBytes);
    blocks.push(snappyBlock(block));
  }
  return Buffer.concat(blocks);
}

const LZ4_MAGIC = 0x184d2204;
const LZ4_BLOCK_SIZES: Record<number, number> = { 4: 64 * 1024, 5: 256 * 1024, 6: 1024 * 1024, 7: 4 * 1024 * 1024 };

function inflateLz4(data: Buffer, maxBytes: number): Buffer {
  // Walk the frame's block headers first: the output is at most blocks x the declared maximum block size.
  if (data.length < 7 || data.readUInt32LE(0) !== LZ4_MAGIC) throw new KafkaProtocolError('not an LZ4 frame');
  const flags = data[4]!;
  const blockMax = LZ4_BLOCK_SIZES[(data[5]! >> 4) & 0x7];
  if (blockMax === undefined) throw new KafkaProtocolError('LZ4 frame with an invalid block size');
  let pos = 6 + (flags & 0x08 ? 8 : 0) + (flags & 0x01 ? 4 : 0) + 1;
  const blockChecksum = (flags & 0x10) !== 0;
  let bound = 0;
  for (;;) {
    if (data.length - pos < 4) throw new KafkaProtocolError('truncated LZ4 frame');
    const size = data.readUInt32LE(pos) & 0x7fffffff;
    pos += 4;
    if (size === 0) break;
    pos += size + (blockChecksum ? 4 : 0);
    bound += blockMax;
    if (bound > maxBytes) throw tooLarge(maxBytes);
  }
  try {
    return decompressFrameSync(data);
  } catch (error) {
    throw new KafkaProtocolError(`lz4 records do not inflate: ${(error as Error).message}`);
  }
}

function inflateZstd(data: Buffer, maxBytes: number): Buffer {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const stream = new ZstdDecompress((chunk) => {
    total += chunk.length;
    if (total > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk);
  });
  try {
    stream.push(data, true);
  } catch (error) {
    if (error instanceof DecompressionLimitError) throw error;
    throw new KafkaProtocolError(`zstd records do not inflate: ${(error as Error).message}`);
  }
  return Buffer.concat(chunks);
}
