/**
 * Parses one syslog message: RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`) or RFC 3164
 * (`<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`), told apart by the version digit after PRI.
 *
 * Strict where a wrong guess would mislabel data, lenient where real senders differ:
 * - PRI is required (0..191); without it the bytes are not a syslog message (`malformed`).
 * - RFC 5424 fields must be printable ASCII within the RFC's lengths, structured data must be well formed
 *   (escapes `\"`, `\\`, `\]`), the timestamp RFC 3339 or `-`; any violation rejects the message.
 * - RFC 3164 is the "BSD" format with many dialects: the timestamp may be `Mmm dd hh:mm:ss` (year inferred: the
 *   collector's local time, moved back a year when that lands more than a week in the future) or RFC 3339 (rsyslog's
 *   forward formats); the hostname may be missing (the first token then ends in `:` or holds `[`: it is the tag).
 *   Whatever does not parse as a header stays in the message.
 * The message body is kept as bytes (a UTF-8 BOM in front of an RFC 5424 MSG is dropped); trailing newlines are the
 * framing's business.
 *
 * Pure: `now` is passed in.
 */
import type { TimestampMs } from '../../shared/record.ts';

export type SyslogFormat = 'rfc5424' | 'rfc3164';

export interface SyslogMessage {
  readonly format: SyslogFormat;
  /** 0..23 (kern, user, mail, …, local7). */
  readonly facility: number;
  /** 0..7 (emerg … debug). */
  readonly severity: number;
  /** The message's own timestamp, if it has one. */
  readonly timestamp: TimestampMs | undefined;
  readonly hostname: string | undefined;
  readonly appName: string | undefined;
  readonly procId: string | undefined;
  readonly msgId: string | undefined;
  /** Structured data (RFC 5424) flattened as `<SD-ID>.<PARAM-NAME>` → value; a repeated name keeps the last. */
  readonly structuredData: Readonly<Record<string, string>>;
  readonly message: Buffer;
}

export type ParseResult =
  | { readonly ok: true; readonly message: SyslogMessage }
  | { readonly ok: false; readonly reason: string };

export const FACILITY_NAMES = [
  'kern',
  'user',
  'mail',
  'daemon',
  'auth',
  'syslog',
  'lpr',
  'news',
  'uucp',
  'cron',
  'authpriv',
  'ftp',
  'ntp',
  'security',
  'console',
  'solaris-cron',
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
] as const;

const LT = 0x3c;
const GT = 0x3e;
const SP = 0x20;

class Fail extends Error {}

function fail(reason: string): never {
  throw new Fail(reason);
}

export function parseSyslog(bytes: Buffer, now: TimestampMs): ParseResult {
  try {
    return { ok: true, message: parse(bytes, now) };
  } catch (error) {
    if (error instanceof Fail) return { ok: false, reason: error.message };
    throw error;
  }
}

function parse(bytes: Buffer, now: TimestampMs): SyslogMessage {
  if (bytes.length === 0) fail('empty message');
  if (bytes[0] !== LT) fail('no <PRI> at the start of the message');
  let pos = 1;
  let pri = 0;
  const priStart = pos;
  while (pos < bytes.length && bytes[pos]! >= 0x30 && bytes[pos]! <= 0x39 && pos - priStart < 3) {
    pri = pri * 10 + (bytes[pos]! - 0x30);
    pos++;
  }
  if (pos === priStart || bytes[pos] !== GT) fail('PRI is not 1 to 3 digits closed by >');
  if (pri > 191) fail(`PRI ${pri} is above 191`);
  if (pos - priStart > 1 && bytes[priStart] === 0x30) fail('PRI has a leading zero');
  pos++;
  const facility = pri >> 3;
  const severity = pri & 7;
  if (bytes[pos] === 0x31 && bytes[pos + 1] === SP) return parse5424(bytes, pos + 2, facility, severity);
  return parse3164(bytes, pos, facility, severity, now);
}

// --- RFC 5424 ---------------------------------------------------------------------------------------------------

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;

function parse5424(bytes: Buffer, start: number, facility: number, severity: number): SyslogMessage {
  const cursor = { pos: start };
  const field = (name: string, max: number): string | undefined => {
    const end = bytes.indexOf(SP, cursor.pos);
    if (end === -1) fail(`RFC 5424 header ends before ${name}`);
    const len = end - cursor.pos;
    if (len === 0) fail(`RFC 5424 ${name} is empty (use - for none)`);
    if (len > max) fail(`RFC 5424 ${name} is longer than ${max} characters`);
    for (let i = cursor.pos; i < end; i++) {
      const b = bytes[i]!;
      if (b < 33 || b > 126) fail(`RFC 5424 ${name} holds a byte outside printable ASCII`);
    }
    const value = bytes.toString('latin1', cursor.pos, end);
    cursor.pos = end + 1;
    return value === '-' ? undefined : value;
  };
  const ts = field('TIMESTAMP', 40);
  let timestamp: TimestampMs | undefined;
  if (ts !== undefined) {
    if (!RFC3339.test(ts)) fail(`RFC 5424 TIMESTAMP '${ts}' is not RFC 3339`);
    timestamp = Date.parse(ts);
    if (!Number.isFinite(timestamp)) fail(`RFC 5424 TIMESTAMP '${ts}' is not a valid date`);
  }
  const hostname = field('HOSTNAME', 255);
  const appName = field('APP-NAME', 48);
  const procId = field('PROCID', 128);
  const msgId = field('MSGID', 32);
  const structuredData: Record<string, string> = {};
  let pos = cursor.pos;
  if (pos >= bytes.length) fail('RFC 5424 header ends before STRUCTURED-DATA');
  if (bytes[pos] === 0x2d /* - */) {
    pos++;
  } else if (bytes[pos] === 0x5b /* [ */) {
    pos = parseStructuredData(bytes, pos, structuredData);
  } else {
    fail('RFC 5424 STRUCTURED-DATA is neither - nor [');
  }
  if (pos < bytes.length) {
    if (bytes[pos] !== SP) fail('RFC 5424 STRUCTURED-DATA is not followed by a space');
    pos++;
  }
  if (bytes[pos] === 0xef && bytes[pos + 1] === 0xbb && bytes[pos + 2] === 0xbf) pos += 3;
  return {
    format: 'rfc5424',
    facility,
    severity,
    timestamp,
    hostname,
    appName,
    procId,
    msgId,
    structuredData,
    message: bytes.subarray(pos),
  };
}

/** SD-ELEMENTs from `pos` (at `[`); returns the position after the last `]`. */
function parseStructuredData(bytes: Buffer, pos: number, out: Record<string, string>): number {
  while (bytes[pos] === 0x5b) {
    pos++;
    const idEnd = sdNameEnd(bytes, pos);
    if (idEnd === pos || idEnd - pos > 32) fail('RFC 5424 SD-ID is empty or longer than 32 characters');
    const id = bytes.toString('latin1', pos, idEnd);
    pos = idEnd;
    while (bytes[pos] === SP) {
      pos++;
      const nameEnd = sdNameEnd(bytes, pos);
      if (nameEnd === pos || nameEnd - pos > 32) fail(`RFC 5424 PARAM-NAME in [${id}] is empty or too long`);
      const name = bytes.toString('latin1', pos, nameEnd);
      pos = nameEnd;
      if (bytes[pos] !== 0x3d || bytes[pos + 1] !== 0x22) fail(`RFC 5424 param ${id}.${name} is not name="value"`);
      pos += 2;
      const parts: Buffer[] = [];
      let from = pos;
      for (;;) {
        if (pos >= bytes.length) fail(`RFC 5424 param ${id}.${name} has no closing quote`);
        const b = bytes[pos]!;
        if (b === 0x5c /* \ */) {
          const next = bytes[pos + 1];
          if (next === 0x22 || next === 0x5c || next === 0x5d) {
            parts.push(bytes.subarray(from, pos));
            from = pos + 1; // keep the escaped character, drop the backslash
            pos += 2;
            continue;
          }
          pos++;
          continue;
        }
        if (b === 0x22) break;
        pos++;
      }
      parts.push(bytes.subarray(from, pos));
      pos++; // closing quote
      out[`${id}.${name}`] = Buffer.concat(parts).toString('utf8');
    }
    if (bytes[pos] !== 0x5d) fail(`RFC 5424 SD-ELEMENT [${id}] is not closed by ]`);
    pos++;
  }
  return pos;
}

/** SD-NAME: printable ASCII except `=`, SP, `]`, `"`. */
function sdNameEnd(bytes: Buffer, pos: number): number {
  while (pos < bytes.length) {
    const b = bytes[pos]!;
    if (b < 33 || b > 126 || b === 0x3d || b === 0x5d || b === 0x22) break;
    pos++;
  }
  return pos;
}

// --- RFC 3164 ---------------------------------------------------------------------------------------------------

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const BSD_TIMESTAMP = /^([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2})/;
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})/;
/** A tag: up to 48 characters of [A-Za-z0-9_./@-], optionally `[pid]`, then `:` (sticky: matched at lastIndex). */
const TAG = /([A-Za-z0-9_./@-]{1,48})(?:\[([^\]\s]{1,128})\])?:/y;
/** Timestamp (≤ 35) + hostname (≤ 255) + tag: enough of the message to read the header. */
const HEADER_WINDOW = 460;
const WEEK_MS = 7 * 86_400_000;

function parse3164(bytes: Buffer, start: number, facility: number, severity: number, now: TimestampMs): SyslogMessage {
  // The header is ASCII; look at a bounded prefix as latin1 (one char per byte, so indexes are byte positions).
  const head = bytes.toString('latin1', start, Math.min(bytes.length, start + HEADER_WINDOW));
  let pos = 0;
  let timestamp: TimestampMs | undefined;
  const bsd = BSD_TIMESTAMP.exec(head);
  const iso = bsd ? null : ISO_TIMESTAMP.exec(head);
  if (bsd) {
    const month = MONTHS.indexOf(bsd[1]!);
    if (month !== -1) {
      timestamp = inferYear(month, Number(bsd[2]!.trim()), Number(bsd[3]), Number(bsd[4]), Number(bsd[5]), now);
      pos = bsd[0].length;
    }
  } else if (iso) {
    const t = Date.parse(iso[0]);
    if (Number.isFinite(t)) {
      timestamp = t;
      pos = iso[0].length;
    }
  }
  let hostname: string | undefined;
  let appName: string | undefined;
  let procId: string | undefined;
  /** Reads a tag at `pos` (moving past it) when there is one. */
  const readTag = (): boolean => {
    TAG.lastIndex = pos;
    const tag = TAG.exec(head);
    if (!tag) return false;
    appName = tag[1];
    procId = tag[2];
    pos = TAG.lastIndex;
    return true;
  };
  if (timestamp !== undefined && head[pos] === ' ') {
    pos++;
    // "Dec  2 10:00:00 sshd[42]: …" has no hostname; otherwise a hostname comes before the tag.
    if (!readTag()) {
      const sp = head.indexOf(' ', pos);
      if (sp > pos && sp - pos <= 255) {
        hostname = head.slice(pos, sp);
        pos = sp + 1;
        readTag();
      }
    }
    if (appName !== undefined && head[pos] === ' ') pos++;
  } else if (timestamp === undefined) {
    pos = 0;
  }
  return {
    format: 'rfc3164',
    facility,
    severity,
    timestamp,
    hostname,
    appName,
    procId,
    msgId: undefined,
    structuredData: {},
    message: bytes.subarray(start + pos),
  };
}

/** BSD timestamps have no year and no zone: the collector's local time, in the year that puts it nearest `now`. */
function inferYear(
  month: number,
  day: number,
  h: number,
  m: number,
  s: number,
  now: TimestampMs,
): TimestampMs | undefined {
  if (day < 1 || day > 31 || h > 23 || m > 59 || s > 60) return undefined;
  const year = new Date(now).getFullYear();
  let t = new Date(year, month, day, h, m, s).getTime();
  if (t - now > WEEK_MS) t = new Date(year - 1, month, day, h, m, s).getTime();
  return t;
}
