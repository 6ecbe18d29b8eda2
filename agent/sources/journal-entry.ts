/**
 * One journal entry as `journalctl -o json` prints it, turned into a record: the MESSAGE as the value (a string,
 * or an array of byte values when it is not valid UTF-8), the realtime timestamp (µs) in ms, and labels from the
 * entry's trusted and user fields: `unit` (_SYSTEMD_UNIT), `syslog_identifier`, `level` (PRIORITY as its syslog
 * keyword: emerg … debug), `host` (_HOSTNAME), `pid` (_PID). The cursor is what the source checkpoints.
 *
 * Pure. A line that is not a journal entry (no __CURSOR) is reported as undefined and counted by the caller.
 */
import { SEVERITY_NAMES } from '../../shared/syslog-severity.ts';
import type { Labels, TimestampMs } from '../../shared/record.ts';

export interface JournalEntry {
  readonly cursor: string;
  readonly timestamp: TimestampMs;
  readonly message: Buffer;
  /** Labels from the entry (absent fields give no label). */
  readonly labels: Labels;
  /** _SYSTEMD_UNIT, for exclusion. */
  readonly unit: string | undefined;
}

type JournalValue = string | number[] | null | undefined | (string | number[] | null)[];

function text(value: JournalValue): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.length > 0 && typeof value[0] === 'number') {
    return Buffer.from(value as number[]).toString('utf8');
  }
  // A field present several times: journalctl prints an array of its values; the first is kept.
  if (Array.isArray(value) && value.length > 0) return text(value[0] as JournalValue);
  return undefined;
}

function bytes(value: JournalValue): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (Array.isArray(value) && value.length > 0 && typeof value[0] === 'number') return Buffer.from(value as number[]);
  if (Array.isArray(value) && value.length > 0) return bytes(value[0] as JournalValue);
  return Buffer.alloc(0);
}

export function parseJournalLine(line: string, now: TimestampMs): JournalEntry | undefined {
  let entry: Record<string, JournalValue>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    entry = parsed as Record<string, JournalValue>;
  } catch {
    return undefined;
  }
  const cursor = text(entry.__CURSOR);
  if (!cursor) return undefined;
  const micros = Number(text(entry.__REALTIME_TIMESTAMP));
  const labels: Record<string, string> = {};
  const host = text(entry._HOSTNAME);
  if (host) labels.host = host;
  const unit = text(entry._SYSTEMD_UNIT);
  if (unit) labels.unit = unit;
  const identifier = text(entry.SYSLOG_IDENTIFIER);
  if (identifier) labels.syslog_identifier = identifier;
  const priority = Number(text(entry.PRIORITY));
  if (Number.isInteger(priority) && priority >= 0 && priority <= 7) labels.level = SEVERITY_NAMES[priority]!;
  const pid = text(entry._PID);
  if (pid) labels.pid = pid;
  return {
    cursor,
    timestamp: Number.isFinite(micros) && micros > 0 ? Math.floor(micros / 1000) : now,
    message: bytes(entry.MESSAGE),
    labels,
    unit,
  };
}
