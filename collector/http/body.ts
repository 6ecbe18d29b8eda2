/**
 * Request bodies of produce: the raw stream read with a cap on its size, and, with `Content-Encoding: gzip`,
 * inflated as a stream with a cap on the inflated size. Reading stops (and the inflater is destroyed) the moment a
 * cap is passed, so a gzip bomb costs at most the cap in memory, never its inflated size.
 */
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidArgumentError, LimitExceededError } from '../../shared/errors.ts';
import { BATCH_CONTENT_TYPE, NDJSON_CONTENT_TYPE } from '../../shared/wire.ts';
import type { CollectorLimits } from '../config.ts';

/** Counts bytes through and fails past `max`. */
function cap(max: number, what: () => string): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > max) done(new LimitExceededError(what(), 'body'));
      else done(null, chunk);
    },
  });
}

/** Reads the whole body into one Buffer, inflating gzip, within the limits. */
export async function readCappedBody(
  request: FastifyRequest,
  payload: NodeJS.ReadableStream,
  limits: CollectorLimits,
): Promise<Buffer> {
  const encoding = String(request.headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'x-gzip') {
    throw new InvalidArgumentError(`Content-Encoding '${encoding}' is not supported: send gzip or no encoding`);
  }
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limits.maxBodyBytes) {
    throw new LimitExceededError(
      `the request body is ${declared} bytes, above the limit of ${limits.maxBodyBytes} bytes ` +
        '(limits.max_body_bytes): send smaller requests',
      'body',
    );
  }
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      done();
    },
  });
  const rawCap = cap(
    limits.maxBodyBytes,
    () =>
      `the request body is above the limit of ${limits.maxBodyBytes} bytes (limits.max_body_bytes): send smaller requests`,
  );
  try {
    if (encoding === 'identity') {
      await pipeline(payload, rawCap, sink);
    } else {
      const inflatedCap = cap(
        limits.maxDecompressedBytes,
        () =>
          `the gzip body inflates to more than ${limits.maxDecompressedBytes} bytes ` +
          '(limits.max_decompressed_bytes): send smaller requests',
      );
      // A small chunk size bounds the memory one inflate step may take beyond the cap.
      await pipeline(payload, rawCap, createGunzip({ chunkSize: 64 * 1024 }), inflatedCap, sink);
    }
  } catch (error) {
    if (error instanceof LimitExceededError) throw error;
    if (encoding !== 'identity' && isZlibError(error)) {
      throw new InvalidArgumentError(`the body is not valid gzip: ${(error as Error).message}`);
    }
    throw new InvalidArgumentError(`could not read the request body: ${(error as Error).message}`);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

function isZlibError(error: unknown): boolean {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' && error.code.startsWith('Z_');
}

/** Registers the produce body parsers; the parsed body is the (inflated) bytes, decoded by the route. */
export function registerBodyParsers(app: FastifyInstance, limits: CollectorLimits): void {
  for (const type of [BATCH_CONTENT_TYPE, NDJSON_CONTENT_TYPE]) {
    app.addContentTypeParser(type, async (request: FastifyRequest, payload: NodeJS.ReadableStream) =>
      readCappedBody(request, payload, limits),
    );
  }
}
