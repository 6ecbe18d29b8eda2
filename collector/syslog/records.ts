/**
 * A parsed syslog message as a Tributary record: labels from the header, structured data as fields, the MSG as the
 * value, the message's timestamp (or the time it arrived, when it has none).
 *
 * Labels: `host` (HOSTNAME, or the sender's address when the message names none), `app` (APP-NAME / TAG), `procid`,
 * `msgid`, `facility` (kern, user, … local7) and `level` (the severity keyword: emerg, alert, crit, err, warning,
 * notice, info, debug); absent header fields give no label. The key, which chooses the partition and so the order,
 * is `<host>/<app>`: one program on one host stays in order.
 */
import type { Labels, TimestampMs } from '../../shared/record.ts';
import type { PlainRecord } from '../produce/record-batches.ts';
import { SEVERITY_NAMES } from '../../shared/syslog-severity.ts';
import { FACILITY_NAMES, NO_FIELDS, type SyslogMessage } from './parser.ts';

/**
 * Builds records for one connection (or UDP socket), sharing one frozen label object per distinct header (host,
 * app, procid, msgid, facility, level): messages of one program then carry the same object, which costs no
 * allocation and lets batching compare label sets by identity. At most MAX_CACHED label sets are kept.
 */
export class SyslogRecordBuilder {
  private readonly labels = new Map<string, { readonly labels: Labels; readonly key: string }>();
  /** The header of the previous message and what it gave: a run of one program's lines skips the lookup. */
  private last: { readonly message: SyslogMessage; readonly labels: Labels; readonly key: string } | undefined;

  constructor(private readonly peer: string) {}

  build(message: SyslogMessage, receivedAt: TimestampMs): PlainRecord {
    const { labels, key } = this.source(message);
    const hasFields = message.structuredData !== NO_FIELDS && Object.keys(message.structuredData).length > 0;
    return {
      key,
      labels,
      timestamp: message.timestamp ?? receivedAt,
      value: message.message,
      ...(hasFields ? { fields: message.structuredData } : {}),
    };
  }

  /** The labels and key of a message's record (shared by every message with the same header fields). */
  source(message: SyslogMessage): { readonly labels: Labels; readonly key: string } {
    const last = this.last;
    if (last && sameHeader(last.message, message)) return last;
    const host = message.hostname ?? this.peer;
    const id = `${host}\u0000${message.appName ?? ''}\u0000${message.procId ?? ''}\u0000${message.msgId ?? ''}\u0000${message.facility}\u0000${message.severity}`;
    let source = this.labels.get(id);
    if (!source) {
      const l: Record<string, string> = { host };
      if (message.appName !== undefined) l.app = message.appName;
      if (message.procId !== undefined) l.procid = message.procId;
      if (message.msgId !== undefined) l.msgid = message.msgId;
      l.facility = FACILITY_NAMES[message.facility] ?? String(message.facility);
      l.level = SEVERITY_NAMES[message.severity]!;
      source = { labels: Object.freeze(l), key: `${host}/${message.appName ?? '-'}` };
      if (this.labels.size >= MAX_CACHED) this.labels.clear();
      this.labels.set(id, source);
    }
    this.last = { message, ...source };
    return source;
  }
}

function sameHeader(a: SyslogMessage, b: SyslogMessage): boolean {
  return (
    a.hostname === b.hostname &&
    a.appName === b.appName &&
    a.procId === b.procId &&
    a.msgId === b.msgId &&
    a.facility === b.facility &&
    a.severity === b.severity
  );
}

const MAX_CACHED = 1024;
