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
import { FACILITY_NAMES, type SyslogMessage } from './parser.ts';

/**
 * Builds records for one connection (or UDP socket), sharing one frozen label object per distinct header (host,
 * app, procid, msgid, facility, level): messages of one program then carry the same object, which costs no
 * allocation and lets batching compare label sets by identity. At most MAX_CACHED label sets are kept.
 */
export class SyslogRecordBuilder {
  private readonly labels = new Map<string, Labels>();

  constructor(private readonly peer: string) {}

  build(message: SyslogMessage, receivedAt: TimestampMs): PlainRecord {
    const host = message.hostname ?? this.peer;
    const id = `${host}\u0000${message.appName ?? ''}\u0000${message.procId ?? ''}\u0000${message.msgId ?? ''}\u0000${message.facility}\u0000${message.severity}`;
    let labels = this.labels.get(id);
    if (!labels) {
      const l: Record<string, string> = { host };
      if (message.appName !== undefined) l.app = message.appName;
      if (message.procId !== undefined) l.procid = message.procId;
      if (message.msgId !== undefined) l.msgid = message.msgId;
      l.facility = FACILITY_NAMES[message.facility] ?? String(message.facility);
      l.level = SEVERITY_NAMES[message.severity]!;
      labels = Object.freeze(l);
      if (this.labels.size >= MAX_CACHED) this.labels.clear();
      this.labels.set(id, labels);
    }
    const hasFields = Object.keys(message.structuredData).length > 0;
    return {
      key: `${host}/${message.appName ?? '-'}`,
      labels,
      timestamp: message.timestamp ?? receivedAt,
      value: message.message,
      ...(hasFields ? { fields: message.structuredData } : {}),
    };
  }
}

const MAX_CACHED = 1024;
