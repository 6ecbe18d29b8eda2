/**
 * Optional per-line parsers: `json` (one object per line) and `logfmt` (key=value pairs). A parser extracts the
 * line's fields (json: the top-level members with their JSON types, so `"status": 203` stays a number; logfmt:
 * strings) and its timestamp. The line's bytes are
 * stored unchanged either way: a line that does not parse is kept as is, without fields, and counted.
 *
 * Only lines of a source with a parser are decoded to strings; the default (`none`) never touches the bytes.
 */
import type { FieldValue, Fields, TimestampMs } from '../../shared/record.ts';

export type ParserKind = 'none' | 'json' | 'logfmt';

export interface ParsedLine {
  readonly fields: Fields | undefined;
  /** From the timestamp field, if present and readable. */
  readonly timestamp: TimestampMs | undefined;
  /** False when the line was not valid for the parser (kept without fields). */
  readonly ok: boolean;
}

export interface ParserOptions {
  readonly kind: ParserKind;
  /** Field holding the event time; by default the first of `timestamp`, `ts`, `time`, `@timestamp`. */
  readonly timestampField?: string | undefined;
}

/** Fields beyond this many are dropped: a line must not turn into an unbounded object. */
export const MAX_FIELDS = 64;
const DEFAULT_TIMESTAMP_FIELDS = ['timestamp', 'ts', 'time', '@timestamp'];
const NOTHING: ParsedLine = { fields: undefined, timestamp: undefined, ok: true };
const FAILED: ParsedLine = { fields: undefined, timestamp: undefined, ok: false };

export type LineParser = (line: Buffer) => ParsedLine;

export function makeParser(options: ParserOptions): LineParser {
  const names = options.timestampField ? [options.timestampField] : DEFAULT_TIMESTAMP_FIELDS;
  switch (options.kind) {
    case 'none':
      return () => NOTHING;
    case 'json':
      return (line) => withTimestamp(parseJsonFields(line.toString('utf8')), names);
    case 'logfmt':
      return (line) => withTimestamp(parseLogfmt(line.toString('utf8')), names);
  }
}

function withTimestamp(fields: Fields | undefined, names: readonly string[]): ParsedLine {
  if (!fields) return FAILED;
  let timestamp: TimestampMs | undefined;
  for (const name of names) {
    const raw = fields[name];
    if (typeof raw === 'string' || typeof raw === 'number') {
      timestamp = parseTimestamp(String(raw));
      if (timestamp !== undefined) break;
    }
  }
  return { fields, timestamp, ok: true };
}

/** Top-level members of a JSON object line, with their JSON values; undefined if the line is not a JSON object. */
export function parseJsonFields(text: string): Record<string, FieldValue> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const out: Record<string, FieldValue> = {};
  let count = 0;
  for (const [name, v] of Object.entries(value as Record<string, FieldValue>)) {
    if (count++ >= MAX_FIELDS) break;
    Object.defineProperty(out, name, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * logfmt: `key=value key2="quoted \"value\"" flag`. A bare key has the value "true". Returns undefined when the
 * line has no key=value pair at all (plain text is not logfmt).
 */
export function parseLogfmt(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  let count = 0;
  let pairs = 0;
  let i = 0;
  const n = text.length;
  while (i < n && count < MAX_FIELDS) {
    while (i < n && text[i] === ' ') i++;
    if (i >= n) break;
    const keyStart = i;
    while (i < n && text[i] !== '=' && text[i] !== ' ') i++;
    const key = text.slice(keyStart, i);
    let value = 'true';
    if (i < n && text[i] === '=') {
      i++;
      pairs++;
      if (text[i] === '"') {
        i++;
        let v = '';
        while (i < n && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < n) i++;
          v += text[i];
          i++;
        }
        i++;
        value = v;
      } else {
        const valueStart = i;
        while (i < n && text[i] !== ' ') i++;
        value = text.slice(valueStart, i);
      }
    }
    if (key.length > 0) {
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      count++;
    }
  }
  return pairs > 0 ? out : undefined;
}

/** ISO-8601 / RFC 3339 text, or epoch seconds / milliseconds / nanoseconds as digits. */
export function parseTimestamp(raw: string): TimestampMs | undefined {
  if (/^\d+(\.\d+)?$/.test(raw)) {
    const n = Number(raw);
    // Pick the unit by magnitude: seconds until the year 5138, then ms, then µs, then ns.
    const ms = n < 1e11 ? n * 1000 : n < 1e14 ? n : n < 1e17 ? n / 1000 : n / 1e6;
    const rounded = Math.floor(ms);
    return Number.isSafeInteger(rounded) && rounded >= 0 ? rounded : undefined;
  }
  const ms = Date.parse(raw);
  return Number.isNaN(ms) || ms < 0 ? undefined : ms;
}
