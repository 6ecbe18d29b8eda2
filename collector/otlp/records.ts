/**
 * OTLP log records as Tributary records.
 *
 * - Labels (one label set per resource, so one batch per resource and level): every resource attribute under its
 *   own name (`service.name`, `host.name`, `k8s.pod.name`, …; arrays and maps as JSON), plus `service` and `host`
 *   copied from `service.name` / `host.name` so the same matcher works for files, syslog and OTLP, and `level` from
 *   the severity number (trace, debug, info, warn, error, fatal), else the severity text in lowercase.
 * - Key: `<host.name>/<service.name>`: one service on one host stays in one partition, in order.
 * - Value: the body (a string as its UTF-8, bytes as they are, anything else as JSON).
 * - Fields: the record's attributes (strings as they are, others as JSON), `trace_id`, `span_id` (hex),
 *   `severity_number`, `severity_text`, `event_name`, `trace_flags`, `scope.name`, `scope.version` when present.
 * - Timestamp: time_unix_nano, else observed_time_unix_nano, else the time of arrival (milliseconds).
 *
 * A record the collector cannot store (its value above max_line_bytes, a resource with more labels than
 * MAX_LABELS or a label longer than MAX_LABEL_BYTES) is rejected alone: the rest are stored and the OTLP answer
 * says how many were rejected and why (partial success).
 */
import type { TimestampMs } from '../../shared/record.ts';
import type { PlainRecord } from '../produce/record-batches.ts';
import type { OtlpLogRecord, OtlpResourceLogs, OtlpValue } from './decode.ts';

export const MAX_LABELS = 64;
export const MAX_LABEL_BYTES = 4096;

export interface ConvertedLogs {
  readonly records: PlainRecord[];
  readonly rejected: number;
  /** Why records were rejected (the first reason of each kind), '' when none were. */
  readonly errorMessage: string;
}

const SEVERITY_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

export function levelOf(severityNumber: number, severityText: string): string | undefined {
  if (severityNumber >= 1 && severityNumber <= 24) return SEVERITY_LEVELS[Math.floor((severityNumber - 1) / 4)];
  return severityText === '' ? undefined : severityText.toLowerCase();
}

export function toRecords(
  resources: readonly OtlpResourceLogs[],
  limits: { readonly maxLineBytes: number },
  now: TimestampMs,
): ConvertedLogs {
  const records: PlainRecord[] = [];
  let rejected = 0;
  const reasons = new Set<string>();
  for (const rl of resources) {
    const base: Record<string, string> = {};
    for (const [name, value] of Object.entries(rl.resource)) base[name] = text(value);
    if (base['service.name'] !== undefined) base.service = base['service.name'];
    if (base['host.name'] !== undefined) base.host = base['host.name'];
    const labelProblem = checkLabels(base);
    const key = `${base['host.name'] ?? '-'}/${base['service.name'] ?? 'unknown_service'}`;
    const byLevel = new Map<string, Readonly<Record<string, string>>>();
    for (const scope of rl.scopes) {
      for (const r of scope.records) {
        if (labelProblem) {
          rejected++;
          reasons.add(labelProblem);
          continue;
        }
        const value = bodyBytes(r.body);
        if (value.length > limits.maxLineBytes) {
          rejected++;
          reasons.add(`a log body of ${value.length} bytes is above max_line_bytes (${limits.maxLineBytes})`);
          continue;
        }
        const level = levelOf(r.severityNumber, r.severityText) ?? '';
        let labels = byLevel.get(level);
        if (!labels) {
          labels = Object.freeze(level === '' ? { ...base } : { ...base, level });
          byLevel.set(level, labels);
        }
        const fields = recordFields(r, scope.scopeName, scope.scopeVersion);
        records.push({
          key,
          labels,
          timestamp: timestampOf(r, now),
          value,
          ...(fields ? { fields } : {}),
        });
      }
    }
  }
  return { records, rejected, errorMessage: [...reasons].join('; ') };
}

function checkLabels(labels: Record<string, string>): string | undefined {
  const names = Object.keys(labels);
  if (names.length > MAX_LABELS) {
    return `a resource has ${names.length} attributes; at most ${MAX_LABELS} become labels`;
  }
  for (const name of names) {
    if (Buffer.byteLength(name) + Buffer.byteLength(labels[name]!) > MAX_LABEL_BYTES) {
      return `the resource attribute '${name.slice(0, 100)}' is longer than ${MAX_LABEL_BYTES} bytes`;
    }
  }
  return undefined;
}

function timestampOf(r: OtlpLogRecord, now: TimestampMs): TimestampMs {
  const ns = r.timeUnixNano !== 0n ? r.timeUnixNano : r.observedTimeUnixNano;
  return ns === 0n ? now : Number(ns / 1_000_000n);
}

function recordFields(r: OtlpLogRecord, scopeName: string, scopeVersion: string): Record<string, string> | undefined {
  const fields: Record<string, string> = {};
  let any = false;
  const set = (name: string, value: string) => {
    fields[name] = value;
    any = true;
  };
  for (const [name, value] of Object.entries(r.attributes)) set(name, text(value));
  if (r.traceId !== '') set('trace_id', r.traceId);
  if (r.spanId !== '') set('span_id', r.spanId);
  if (r.severityNumber !== 0) set('severity_number', String(r.severityNumber));
  if (r.severityText !== '') set('severity_text', r.severityText);
  if (r.eventName !== '') set('event_name', r.eventName);
  if ((r.flags & 0xff) !== 0) set('trace_flags', (r.flags & 0xff).toString(16).padStart(2, '0'));
  if (scopeName !== '') set('scope.name', scopeName);
  if (scopeVersion !== '') set('scope.version', scopeVersion);
  return any ? fields : undefined;
}

function bodyBytes(body: OtlpValue | undefined): Uint8Array {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return body;
  return Buffer.from(JSON.stringify(plain(body)), 'utf8');
}

/** A value as label or field text: strings as they are, everything else as JSON (bytes as base64). */
function text(value: OtlpValue): string {
  if (typeof value === 'string') return value;
  return JSON.stringify(plain(value));
}

function plain(value: OtlpValue): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.length).toString('base64');
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v);
    return out;
  }
  return value;
}
