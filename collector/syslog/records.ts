/**
 * A parsed syslog message as a Tributary record: labels from the header, the process id and structured data as
 * fields, the MSG as the value, the message's timestamp (or the time it arrived, when it has none).
 *
 * Labels: `host` (HOSTNAME, or the sender's address when the message names none), `app` (APP-NAME / TAG), `msgid`,
 * `facility` (kern, user, … local7) and `level` (the severity keyword: emerg, alert, crit, err, warning, notice,
 * info, debug); absent header fields give no label. Fields: `procid` (PROCID / the TAG's `[pid]`), and RFC 5424
 * structured data as `<SD-ID>.<PARAM-NAME>`. The process id is a field, not a label: it changes with every process
 * of a program (sshd, php-fpm and postfix workers), and as a label it would give each one its own series and, since
 * a batch holds one label set, make one batch a line of their interleaved output. The key, which chooses the
 * partition and so the order, is `<host>/<app>`: one program on one host stays in order.
 */
import type { Fields, Labels, TimestampMs } from '../../shared/record.ts';
import { SEVERITY_NAMES } from '../../shared/syslog-severity.ts';
import type { PlainRecord } from '../produce/record-batches.ts';
import { FACILITY_NAMES, NO_FIELDS, type SyslogMessage } from './parser.ts';

/** What the records of one header share: the label set, the key and (without structured data) the fields. */
export interface RecordSource {
  readonly labels: Labels;
  readonly key: string;
  /** The `procid` field of a header without structured data (one frozen object: batching reuses its encoding). */
  readonly fields: Fields | undefined;
}

/**
 * Builds records for one connection (or UDP socket), sharing one frozen label object per distinct label set
 * (host, app, msgid, facility, level) and one frozen fields object per process id: messages of one program then
 * carry the same objects, which costs no allocation and lets batching compare them by identity. At most MAX_CACHED
 * of each are kept.
 */
export class SyslogRecordBuilder {
  private readonly labelSets = new Map<string, { readonly labels: Labels; readonly key: string }>();
  private readonly procIds = new Map<string, Fields>();
  /** The header of the previous message and what it gave: a run of one program's lines skips the lookup. */
  private last: { readonly message: SyslogMessage; readonly source: RecordSource } | undefined;

  constructor(private readonly peer: string) {}

  /** The record of a message; `source` when the caller already has it (this.source(message)). */
  build(message: SyslogMessage, receivedAt: TimestampMs, source = this.source(message)): PlainRecord {
    const { labels, key, fields } = source;
    const sd = message.structuredData;
    const hasData = sd !== NO_FIELDS && Object.keys(sd).length > 0;
    return {
      key,
      labels,
      timestamp: message.timestamp ?? receivedAt,
      value: message.message,
      // Structured data is per message; the process id joins it (SD names hold a dot, so they never collide).
      fields: hasData ? (fields === undefined ? sd : { ...fields, ...sd }) : fields,
    };
  }

  /** What the records of a message's header share (the same objects for every message with the same header). */
  source(message: SyslogMessage): RecordSource {
    const last = this.last;
    if (last && sameLabels(last.message, message)) {
      if (last.message.procId === message.procId) return last.source;
      // Another process of the same program (interleaved workers): the same label set, another procid field.
      return this.remember(message, last.source, this.procIdFields(message.procId));
    }
    const host = message.hostname ?? this.peer;
    const id = `${host}\u0000${message.appName ?? ''}\u0000${message.msgId ?? ''}\u0000${message.facility}\u0000${message.severity}`;
    let labelSet = this.labelSets.get(id);
    if (!labelSet) {
      const l: Record<string, string> = { host };
      if (message.appName !== undefined) l.app = message.appName;
      if (message.msgId !== undefined) l.msgid = message.msgId;
      l.facility = FACILITY_NAMES[message.facility] ?? String(message.facility);
      l.level = SEVERITY_NAMES[message.severity]!;
      labelSet = { labels: Object.freeze(l), key: `${host}/${message.appName ?? '-'}` };
      if (this.labelSets.size >= MAX_CACHED) this.labelSets.clear();
      this.labelSets.set(id, labelSet);
    }
    return this.remember(message, labelSet, this.procIdFields(message.procId));
  }

  private remember(
    message: SyslogMessage,
    labelSet: { readonly labels: Labels; readonly key: string },
    fields: Fields | undefined,
  ): RecordSource {
    const source: RecordSource = { labels: labelSet.labels, key: labelSet.key, fields };
    this.last = { message, source };
    return source;
  }

  private procIdFields(procId: string | undefined): Fields | undefined {
    if (procId === undefined) return undefined;
    let fields = this.procIds.get(procId);
    if (!fields) {
      fields = Object.freeze({ procid: procId });
      if (this.procIds.size >= MAX_CACHED) this.procIds.clear();
      this.procIds.set(procId, fields);
    }
    return fields;
  }
}

/** Whether two headers give the same label set (everything but the process id). */
function sameLabels(a: SyslogMessage, b: SyslogMessage): boolean {
  return (
    a.hostname === b.hostname &&
    a.appName === b.appName &&
    a.msgId === b.msgId &&
    a.facility === b.facility &&
    a.severity === b.severity
  );
}

const MAX_CACHED = 1024;
