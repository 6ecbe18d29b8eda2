/**
 * Decodes an OTLP/HTTP logs export (`ExportLogsServiceRequest`) from protobuf or from OTLP's JSON encoding into
 * one plain model, checking the shape as it goes: a body that is not a valid export is an InvalidArgumentError
 * (400), and nothing of it is stored.
 *
 * The two encodings differ where OTLP says they do: in JSON, `traceId` / `spanId` are hex strings (not base64),
 * 64-bit integers may be strings or numbers, `bytesValue` is base64, and enums are integers. Unknown fields are
 * ignored in both (forward compatibility, as OTLP requires). Nesting of AnyValue is capped at MAX_DEPTH so a hostile
 * body cannot exhaust the stack.
 */
import { InvalidArgumentError } from '../../shared/errors.ts';
import { EXPORT_LOGS_REQUEST } from './schema.ts';

export type OtlpEncoding = 'protobuf' | 'json';

/** An attribute or body value, as plain data. Bytes stay bytes. */
export type OtlpValue = string | number | boolean | null | Uint8Array | OtlpValue[] | { [key: string]: OtlpValue };

export interface OtlpLogRecord {
  /** Nanoseconds since the epoch; 0n when unknown. */
  readonly timeUnixNano: bigint;
  readonly observedTimeUnixNano: bigint;
  readonly severityNumber: number;
  readonly severityText: string;
  readonly body: OtlpValue | undefined;
  readonly attributes: Readonly<Record<string, OtlpValue>>;
  /** Lowercase hex, '' when absent. */
  readonly traceId: string;
  readonly spanId: string;
  readonly flags: number;
  readonly eventName: string;
}

export interface OtlpScopeLogs {
  readonly scopeName: string;
  readonly scopeVersion: string;
  readonly records: readonly OtlpLogRecord[];
}

export interface OtlpResourceLogs {
  readonly resource: Readonly<Record<string, OtlpValue>>;
  readonly scopes: readonly OtlpScopeLogs[];
}

const MAX_DEPTH = 32;

type Obj = Record<string, unknown>;

export function decodeExportLogsRequest(body: Buffer, encoding: OtlpEncoding): OtlpResourceLogs[] {
  let raw: unknown;
  try {
    raw =
      encoding === 'protobuf'
        ? EXPORT_LOGS_REQUEST.toObject(EXPORT_LOGS_REQUEST.decode(body), { longs: String, defaults: false })
        : JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new InvalidArgumentError(
      `the body is not a valid OTLP ExportLogsServiceRequest in ${encoding}: ${(error as Error).message}`,
    );
  }
  const ids = encoding === 'protobuf' ? 'bytes' : 'hex';
  try {
    return list(object(raw, 'the request'), 'resourceLogs').map((rl, i) =>
      resourceLogs(object(rl, `resourceLogs[${i}]`), i, ids),
    );
  } catch (error) {
    if (error instanceof RangeError) {
      throw new InvalidArgumentError('the OTLP request is nested too deeply', { cause: error });
    }
    throw error;
  }
}

function resourceLogs(rl: Obj, i: number, ids: 'bytes' | 'hex'): OtlpResourceLogs {
  const where = `resourceLogs[${i}]`;
  const resource = rl.resource === undefined || rl.resource === null ? {} : object(rl.resource, `${where}.resource`);
  return {
    resource: attributes(resource.attributes, `${where}.resource.attributes`),
    scopes: list(rl, 'scopeLogs').map((sl, j) => {
      const w = `${where}.scopeLogs[${j}]`;
      const s = object(sl, w);
      const scope = s.scope === undefined || s.scope === null ? {} : object(s.scope, `${w}.scope`);
      return {
        scopeName: str(scope.name, `${w}.scope.name`),
        scopeVersion: str(scope.version, `${w}.scope.version`),
        records: list(s, 'logRecords').map((r, k) =>
          logRecord(object(r, `${w}.logRecords[${k}]`), `${w}.logRecords[${k}]`, ids),
        ),
      };
    }),
  };
}

function logRecord(r: Obj, where: string, ids: 'bytes' | 'hex'): OtlpLogRecord {
  return {
    timeUnixNano: uint64(r.timeUnixNano, `${where}.timeUnixNano`),
    observedTimeUnixNano: uint64(r.observedTimeUnixNano, `${where}.observedTimeUnixNano`),
    severityNumber: int(r.severityNumber, `${where}.severityNumber`),
    severityText: str(r.severityText, `${where}.severityText`),
    body: r.body === undefined || r.body === null ? undefined : anyValue(r.body, `${where}.body`, 0),
    attributes: attributes(r.attributes, `${where}.attributes`),
    traceId: id(r.traceId, `${where}.traceId`, 16, ids),
    spanId: id(r.spanId, `${where}.spanId`, 8, ids),
    flags: int(r.flags, `${where}.flags`),
    eventName: str(r.eventName, `${where}.eventName`),
  };
}

function attributes(value: unknown, where: string): Record<string, OtlpValue> {
  const out: Record<string, OtlpValue> = {};
  if (value === undefined || value === null) return out;
  if (!Array.isArray(value)) throw bad(where, 'a list of key/value pairs');
  for (const [i, kv] of value.entries()) {
    const o = object(kv, `${where}[${i}]`);
    const key = str(o.key, `${where}[${i}].key`);
    out[key] = o.value === undefined || o.value === null ? null : anyValue(o.value, `${where}[${i}].value`, 0);
  }
  return out;
}

function anyValue(value: unknown, where: string, depth: number): OtlpValue {
  if (depth > MAX_DEPTH) throw new InvalidArgumentError(`${where}: values nested deeper than ${MAX_DEPTH} levels`);
  const v = object(value, where);
  if (v.stringValue !== undefined) return str(v.stringValue, where);
  if (v.boolValue !== undefined) {
    if (typeof v.boolValue !== 'boolean') throw bad(where, 'a boolean');
    return v.boolValue;
  }
  if (v.intValue !== undefined) {
    const n = typeof v.intValue === 'string' ? Number(v.intValue) : v.intValue;
    if (typeof n !== 'number' || !Number.isInteger(n)) throw bad(where, 'an integer');
    return Number.isSafeInteger(n) ? n : String(v.intValue);
  }
  if (v.doubleValue !== undefined) {
    if (typeof v.doubleValue !== 'number') throw bad(where, 'a number');
    return v.doubleValue;
  }
  if (v.bytesValue !== undefined) {
    if (v.bytesValue instanceof Uint8Array) return v.bytesValue;
    if (typeof v.bytesValue !== 'string') throw bad(where, 'base64 bytes');
    return Buffer.from(v.bytesValue, 'base64');
  }
  if (v.arrayValue !== undefined) {
    const a = object(v.arrayValue, where);
    return list(a, 'values').map((x, i) => anyValue(x, `${where}.values[${i}]`, depth + 1));
  }
  if (v.kvlistValue !== undefined) {
    const kvl = object(v.kvlistValue, where);
    const out: Record<string, OtlpValue> = {};
    for (const [i, kv] of list(kvl, 'values').entries()) {
      const o = object(kv, `${where}.values[${i}]`);
      out[str(o.key, `${where}.values[${i}].key`)] =
        o.value === undefined || o.value === null ? null : anyValue(o.value, `${where}.values[${i}]`, depth + 1);
    }
    return out;
  }
  return null; // an empty AnyValue
}

function object(value: unknown, where: string): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(where, 'an object');
  return value as Obj;
}

function list(o: Obj, key: string): unknown[] {
  const value = o[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw bad(key, 'a list');
  return value;
}

function str(value: unknown, where: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw bad(where, 'a string');
  return value;
}

function int(value: unknown, where: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw bad(where, 'an integer');
  return value;
}

function uint64(value: unknown, where: string): bigint {
  if (value === undefined || value === null || value === '') return 0n;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === 'string' && /^\d{1,20}$/.test(value)) return BigInt(value);
  throw bad(where, 'an unsigned 64-bit integer (a number or a decimal string)');
}

function id(value: unknown, where: string, size: number, encoding: 'bytes' | 'hex'): string {
  if (value === undefined || value === null || value === '') return '';
  let hex: string;
  if (encoding === 'bytes' && value instanceof Uint8Array) {
    if (value.length === 0) return '';
    hex = Buffer.from(value.buffer, value.byteOffset, value.length).toString('hex');
  } else if (typeof value === 'string' && /^[0-9a-fA-F]*$/.test(value)) {
    hex = value.toLowerCase();
  } else {
    throw bad(where, encoding === 'hex' ? 'a hex string' : 'bytes');
  }
  if (hex.length !== size * 2) throw bad(where, `${size} bytes (${size * 2} hex digits)`);
  return hex;
}

function bad(where: string, expected: string): InvalidArgumentError {
  return new InvalidArgumentError(`OTLP logs request: ${where} must be ${expected}`);
}
