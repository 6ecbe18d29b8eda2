/**
 * A parsed syslog message as a Tributary record: labels from the header, structured data as fields, the MSG as the
 * value, the message's timestamp (or the time it arrived, when it has none).
 *
 * Labels: `host` (HOSTNAME, or the sender's address when the message names none), `app` (APP-NAME / TAG), `procid`,
 * `msgid`, `facility` (kern, user, … local7) and `level` (the severity keyword: emerg, alert, crit, err, warning,
 * notice, info, debug); absent header fields give no label. The key, which chooses the partition and so the order,
 * is `<host>/<app>`: one program on one host stays in order.
 */
import type { TimestampMs } from '../../shared/record.ts';
import type { PlainRecord } from '../produce/record-batches.ts';
import { SEVERITY_NAMES } from '../../shared/syslog-severity.ts';
import { FACILITY_NAMES, type SyslogMessage } from './parser.ts';

export function syslogRecord(message: SyslogMessage, peer: string, receivedAt: TimestampMs): PlainRecord {
  const host = message.hostname ?? peer;
  const labels: Record<string, string> = { host };
  if (message.appName !== undefined) labels.app = message.appName;
  if (message.procId !== undefined) labels.procid = message.procId;
  if (message.msgId !== undefined) labels.msgid = message.msgId;
  labels.facility = FACILITY_NAMES[message.facility] ?? String(message.facility);
  labels.level = SEVERITY_NAMES[message.severity]!;
  const hasFields = Object.keys(message.structuredData).length > 0;
  return {
    key: `${host}/${message.appName ?? '-'}`,
    labels,
    timestamp: message.timestamp ?? receivedAt,
    value: message.message,
    ...(hasFields ? { fields: message.structuredData } : {}),
  };
}
