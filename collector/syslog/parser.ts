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

/**
 * Parses one message. With a `cache` (one per connection), an RFC 3164 message whose header bytes are those of a
 * recent message of the stream, parsed at the same `now`, takes that header's fields without parsing it again.
 */
export function parseSyslog<T>(bytes: Buffer, now: TimestampMs, cache?: HeaderCache<T>): ParseResult {
  const known = cache?.lookup(bytes, now);
  if (known !== undefined) return { ok: true, message: known };
  try {
    const message = parse(bytes, now);
    cache?.remember(bytes, now, message);
    return { ok: true, message };
  } catch (error) {
    if (error instanceof Fail) return { ok: false, reason: error.message };
    throw error;
  }
}

/** A header the cache holds: its bytes, its fields (without a body), and what its owner attached. */
interface CachedHeader<T> {
  readonly header: Buffer;
  readonly message: SyslogMessage;
  attachment: T | undefined;
}

/** Headers kept per stream: a relay interleaves the lines of a few programs on one connection. */
const HEADER_CACHE_ENTRIES = 16;
/** After this many fruitless scans in a row, only one lookup in SCAN_EVERY scans the cache (matchAt). */
const FRUITLESS_SCANS = 64;
const SCAN_EVERY = 64;
const NO_BODY = Buffer.alloc(0);

/**
 * The recent RFC 3164 headers of one stream. A sender stamps thousands of lines a second with the same header
 * (`<PRI>Mmm dd hh:mm:ss host app[pid]: `), a relay those of a few programs in turn: comparing bytes costs a fraction
 * of parsing them. Parsing is a function of the header's bytes and `now` only (past the header it reads only the
 * next byte, to take one space after the tag's colon), so a message with the same header bytes, the same kind of
 * byte after them and the same `now` parses to the same fields; a property test checks it. Entries hold for one
 * `now` (the receiver reads the clock once a chunk); the owner may attach a value to an entry (the receiver: the
 * record's labels and key).
 */
export class HeaderCache<T = unknown> {
  private entries: CachedHeader<T>[] = [];
  private now = -1;
  /** Round-robin slot for the next header once the cache is full. */
  private next = 0;
  /** The entry matched (matchAt) or remembered (parseSyslog) last. */
  private current: CachedHeader<T> | undefined;
  /** Scans of every entry in a row that found nothing, and lookups since scanning was cut back. */
  private fruitless = 0;
  private skipped = 0;

  /** The fields of the header matched or remembered last. */
  get fields(): SyslogMessage | undefined {
    return this.current?.message;
  }

  /** What the owner attached to the header matched or remembered last. */
  get attachment(): T | undefined {
    return this.current?.attachment;
  }

  /** Attaches a value to the header matched or remembered last (nothing when the last message was not cached). */
  attach(value: T): void {
    if (this.current !== undefined) this.current.attachment = value;
  }

  /**
   * Where the message body of bytes[start, end) begins when its header is a cached one (parsed at this `now`),
   * else -1. The last one matched is tried first.
   */
  matchAt(bytes: Buffer, start: number, end: number, now: TimestampMs): number {
    if (now !== this.now) {
      this.current = undefined;
      return -1;
    }
    const current = this.current;
    if (current !== undefined && matches(current.header, bytes, start, end)) return start + current.header.length;
    // A stream with more headers in turn than the cache holds never finds one: after FRUITLESS_SCANS scans in a row
    // found nothing, only one lookup in SCAN_EVERY scans the cache, until one finds a header again.
    if (this.fruitless < FRUITLESS_SCANS || ++this.skipped % SCAN_EVERY === 0) {
      for (const entry of this.entries) {
        if (entry !== current && matches(entry.header, bytes, start, end)) {
          this.current = entry;
          this.fruitless = 0;
          return start + entry.header.length;
        }
      }
      this.fruitless++;
    }
    this.current = undefined;
    return -1;
  }

  lookup(bytes: Buffer, now: TimestampMs): SyslogMessage | undefined {
    const body = this.matchAt(bytes, 0, bytes.length, now);
    const last = this.current?.message;
    if (last === undefined || body === -1) return undefined;
    return withBody(last, bytes.subarray(body));
  }

  remember(bytes: Buffer, now: TimestampMs, message: SyslogMessage): void {
    // Only a whole RFC 3164 header (timestamp and tag found) with a message after it: the common case, and one
    // whose end is decided by bytes within it.
    if (message.format !== 'rfc3164' || message.appName === undefined || message.message.length === 0) {
      this.current = undefined;
      return;
    }
    if (now !== this.now) {
      this.entries = [];
      this.next = 0;
      this.now = now;
    }
    const n = message.message.byteOffset - bytes.byteOffset;
    // The fields without the body: a view of it would keep the socket's whole chunk in memory.
    const fields = withBody(message, NO_BODY);
    const entry: CachedHeader<T> = {
      header: Buffer.from(bytes.subarray(0, n)),
      message: fields,
      attachment: undefined,
    };
    if (this.entries.length < HEADER_CACHE_ENTRIES) this.entries.push(entry);
    else {
      this.entries[this.next] = entry;
      this.next = (this.next + 1) % HEADER_CACHE_ENTRIES;
    }
    this.current = entry;
  }
}

/** A message's header fields with another body; every field named (no spread): this runs once a line. */
function withBody(m: SyslogMessage, body: Buffer): SyslogMessage {
  return {
    format: m.format,
    facility: m.facility,
    severity: m.severity,
    timestamp: m.timestamp,
    hostname: m.hostname,
    appName: m.appName,
    procId: m.procId,
    msgId: m.msgId,
    structuredData: m.structuredData,
    message: body,
  };
}

/** Whether bytes[start, end) begins with `header` and has a body after it that the header's parse would agree on. */
function matches(header: Buffer, bytes: Buffer, start: number, end: number): boolean {
  const n = header.length;
  if (end - start <= n) return false;
  // A header that ends at its colon was followed by a byte other than a space, which the parser would have taken.
  if (header[n - 1] !== SP && bytes[start + n] === SP) return false;
  // From the end: lines of one second differ first in the header's seconds or tag, then nowhere.
  for (let i = n - 1; i >= 0; i--) if (bytes[start + i] !== header[i]) return false;
  return true;
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
/** A month's three letters as one number (their latin1 codes), for a lookup without a string. */
const MONTH_CODES = new Map(
  MONTHS.map((m, i) => [(m.charCodeAt(0) << 16) | (m.charCodeAt(1) << 8) | m.charCodeAt(2), i]),
);
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})/;
/** The longest RFC 3339 timestamp the ISO form above matches (nanoseconds and an offset). */
const ISO_MAX = 35;
/** Timestamp (≤ 35) + hostname (≤ 255) + tag: how much of the message the header may take. */
const HEADER_WINDOW = 460;
const WEEK_MS = 7 * 86_400_000;
/** The structured data of a message that has none (one shared object). */
export const NO_FIELDS: Readonly<Record<string, string>> = Object.freeze({});

const isDigit = (b: number | undefined): boolean => b !== undefined && b >= 0x30 && b <= 0x39;
/** A tag character: [A-Za-z0-9_./@-]. */
const isTagByte = (b: number): boolean =>
  (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || (b >= 0x2d && b <= 0x39) || b === 0x5f || b === 0x40;
/** Whitespace as a regular expression's \s sees it in latin1. */
const isSpace = (b: number): boolean => b === SP || (b >= 0x09 && b <= 0x0d) || b === 0xa0;

/**
 * RFC 3164, read byte by byte within the first HEADER_WINDOW bytes: the timestamp (`Mmm dd hh:mm:ss` or RFC 3339),
 * then a hostname unless a tag comes first, then the tag (`app[procid]:`). The strings it makes are the three header
 * fields; consecutive messages of one sender reuse them (the Latin1Strings cache).
 */
function parse3164(bytes: Buffer, start: number, facility: number, severity: number, now: TimestampMs): SyslogMessage {
  const end = Math.min(bytes.length, start + HEADER_WINDOW);
  let pos = start;
  let timestamp: TimestampMs | undefined;
  if (isDigit(bytes[start])) {
    // rsyslog's forward formats: RFC 3339 (rare enough for a regular expression on a short string)
    const iso = ISO_TIMESTAMP.exec(bytes.toString('latin1', start, Math.min(end, start + ISO_MAX)));
    const t = iso ? Date.parse(iso[0]) : Number.NaN;
    if (iso && Number.isFinite(t)) {
      timestamp = t;
      pos = start + iso[0].length;
    }
  } else if (end - start >= 15 && bytes[start + 3] === SP && bytes[start + 6] === SP) {
    const month = MONTH_CODES.get((bytes[start]! << 16) | (bytes[start + 1]! << 8) | bytes[start + 2]!);
    const d1 = bytes[start + 4]!;
    const two = (at: number) => (bytes[at]! - 0x30) * 10 + bytes[at + 1]! - 0x30;
    if (
      month !== undefined &&
      (d1 === SP || isDigit(d1)) &&
      isDigit(bytes[start + 5]) &&
      isDigit(bytes[start + 7]) &&
      isDigit(bytes[start + 8]) &&
      bytes[start + 9] === 0x3a &&
      isDigit(bytes[start + 10]) &&
      isDigit(bytes[start + 11]) &&
      bytes[start + 12] === 0x3a &&
      isDigit(bytes[start + 13]) &&
      isDigit(bytes[start + 14])
    ) {
      const day = (d1 === SP ? 0 : d1 - 0x30) * 10 + bytes[start + 5]! - 0x30;
      timestamp = bsdClock.at(month, day, two(start + 7), two(start + 10), two(start + 13), now);
      if (timestamp !== undefined) pos = start + 15;
    }
  }
  let hostname: string | undefined;
  let appName: string | undefined;
  let procId: string | undefined;
  /** Reads a tag at `pos` (moving past it) when there is one. */
  const readTag = (): boolean => {
    let i = pos;
    while (i < end && i - pos <= 48 && isTagByte(bytes[i]!)) i++;
    const tagEnd = i;
    if (tagEnd === pos || tagEnd - pos > 48 || i >= end) return false;
    let pidStart = -1;
    if (bytes[i] === 0x5b /* [ */) {
      pidStart = ++i;
      while (i < end && i - pidStart <= 128 && bytes[i] !== 0x5d && !isSpace(bytes[i]!)) i++;
      if (i === pidStart || i - pidStart > 128 || bytes[i] !== 0x5d) return false;
      i++;
    }
    if (i >= end || bytes[i] !== 0x3a /* : */) return false;
    appName = strings.app.of(bytes, pos, tagEnd);
    procId = pidStart === -1 ? undefined : strings.procId.of(bytes, pidStart, i - 1);
    pos = i + 1;
    return true;
  };
  if (timestamp !== undefined && bytes[pos] === SP) {
    pos++;
    // "Dec  2 10:00:00 sshd[42]: …" has no hostname; otherwise a hostname comes before the tag.
    if (!readTag()) {
      const sp = bytes.indexOf(SP, pos);
      if (sp > pos && sp < end && sp - pos <= 255) {
        hostname = strings.host.of(bytes, pos, sp);
        pos = sp + 1;
        readTag();
      }
    }
    if (appName !== undefined && pos < end && bytes[pos] === SP) pos++;
  } else if (timestamp === undefined) {
    pos = start;
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
    structuredData: NO_FIELDS,
    message: bytes.subarray(pos),
  };
}

/**
 * A header field's string, made once for a run of messages that carry the same bytes (one program on one host
 * sends many lines): compared by bytes with the last one, which costs less than a new string per message.
 */
class Latin1Strings {
  private last = Buffer.alloc(0);
  private text = '';

  of(bytes: Buffer, from: number, to: number): string {
    const last = this.last;
    let same = to - from === last.length;
    // A loop, not Buffer.compare: its argument checks cost more than comparing a few bytes.
    for (let i = 0; same && i < last.length; i++) same = bytes[from + i] === last[i];
    if (!same) {
      this.last = Buffer.from(bytes.subarray(from, to));
      this.text = bytes.toString('latin1', from, to);
    }
    return this.text;
  }
}

const strings = { host: new Latin1Strings(), app: new Latin1Strings(), procId: new Latin1Strings() };

/**
 * BSD timestamps have no year and no zone: the collector's local time, in the year that puts it nearest `now`
 * (moved back a year when it lands more than a week in the future). Senders stamp many messages within one second,
 * so the last second's two candidate times are kept, and the current year's bounds: the answer is the one a fresh
 * computation gives, without two Dates per message.
 */
class BsdClock {
  private year = 0;
  private yearStart = 0;
  private yearEnd = -1;
  private key = -1;
  private thisYear = 0;
  private lastYear = 0;

  at(month: number, day: number, h: number, m: number, s: number, now: TimestampMs): TimestampMs | undefined {
    if (day < 1 || day > 31 || h > 23 || m > 59 || s > 60) return undefined;
    if (now < this.yearStart || now >= this.yearEnd) {
      this.year = new Date(now).getFullYear();
      this.yearStart = new Date(this.year, 0, 1).getTime();
      this.yearEnd = new Date(this.year + 1, 0, 1).getTime();
      this.key = -1;
    }
    const key = (((month * 32 + day) * 24 + h) * 60 + m) * 61 + s;
    if (key !== this.key) {
      this.key = key;
      this.thisYear = new Date(this.year, month, day, h, m, s).getTime();
      this.lastYear = new Date(this.year - 1, month, day, h, m, s).getTime();
    }
    return this.thisYear - now > WEEK_MS ? this.lastYear : this.thisYear;
  }
}

const bsdClock = new BsdClock();
