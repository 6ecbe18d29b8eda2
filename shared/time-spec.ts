/**
 * Points in time as people write them on a command line or in a query string: milliseconds since the epoch
 * (`1764000000000`), ISO-8601 (`2026-11-25T10:00Z`), or a duration before now (`15m`, `2h`, `7d`, `30s`, `500ms`).
 */
import { InvalidArgumentError } from './errors.ts';
import type { TimestampMs } from './record.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export function parseTimeSpec(text: string, name: string, now: TimestampMs = Date.now()): TimestampMs {
  const value = text.trim();
  if (/^\d{10,16}$/.test(value)) return Number(value);
  const relative = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(value);
  if (relative) return Math.round(now - Number(relative[1]) * UNIT_MS[relative[2]!]!);
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return ms;
  }
  throw new InvalidArgumentError(
    `${name} ${JSON.stringify(text)} is not a time: give an ISO-8601 time (2026-11-25T10:00Z), ` +
      'milliseconds since the epoch, or a duration before now (15m, 2h, 7d)',
  );
}
