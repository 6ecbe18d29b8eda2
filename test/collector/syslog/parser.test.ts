import test from 'ava';
import { parseSyslog, type SyslogMessage } from '../../../collector/syslog/parser.ts';

const NOW = Date.UTC(2026, 11, 2, 12, 0, 0);

function ok(text: string | Buffer): SyslogMessage {
  const r = parseSyslog(Buffer.isBuffer(text) ? text : Buffer.from(text), NOW);
  if (!r.ok) throw new Error(`expected a message, got: ${r.reason}`);
  return r.message;
}

function bad(text: string): string {
  const r = parseSyslog(Buffer.from(text), NOW);
  if (r.ok) throw new Error(`expected a failure for ${text}`);
  return r.reason;
}

test('RFC 5424 example 1 (RFC 5424 §6.5): header fields, no structured data, BOM dropped', (t) => {
  const m = ok(
    Buffer.concat([
      Buffer.from('<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - '),
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from("'su root' failed for lonvick on /dev/pts/8"),
    ]),
  );
  t.is(m.format, 'rfc5424');
  t.is(m.facility, 4);
  t.is(m.severity, 2);
  t.is(m.timestamp, Date.UTC(2003, 9, 11, 22, 14, 15, 3));
  t.is(m.hostname, 'mymachine.example.com');
  t.is(m.appName, 'su');
  t.is(m.procId, undefined);
  t.is(m.msgId, 'ID47');
  t.is(m.message.toString(), "'su root' failed for lonvick on /dev/pts/8");
});

test('RFC 5424 structured data with escapes, several elements, offsets in the timestamp', (t) => {
  const m = ok(
    '<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - ' +
      '[exampleSDID@32473 iut="3" eventSource="Appl\\"ication\\]" eventID="1011"][examplePriority@32473 class="high"] msg',
  );
  t.is(m.timestamp, Date.UTC(2003, 7, 24, 12, 14, 15, 0));
  t.is(m.procId, '8710');
  t.deepEqual(m.structuredData, {
    'exampleSDID@32473.iut': '3',
    'exampleSDID@32473.eventSource': 'Appl"ication]',
    'exampleSDID@32473.eventID': '1011',
    'examplePriority@32473.class': 'high',
  });
  t.is(m.message.toString(), 'msg');
});

test('RFC 5424 with everything nil and no message', (t) => {
  const m = ok('<14>1 - - - - - -');
  t.is(m.timestamp, undefined);
  t.is(m.hostname, undefined);
  t.is(m.message.length, 0);
});

test('RFC 3164 as logger and rsyslog send it: timestamp without year, host, tag[pid]', (t) => {
  const m = ok('<13>Dec  2 11:30:05 web-1 nginx[812]: GET / 200');
  t.is(m.format, 'rfc3164');
  t.is(m.facility, 1);
  t.is(m.severity, 5);
  t.is(m.hostname, 'web-1');
  t.is(m.appName, 'nginx');
  t.is(m.procId, '812');
  t.is(m.message.toString(), 'GET / 200');
  const d = new Date(m.timestamp!);
  t.deepEqual([d.getFullYear(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes()], [2026, 11, 2, 11, 30]);
});

test('RFC 3164: a date more than a week ahead is last year; no hostname; RFC 3339 timestamp', (t) => {
  t.is(new Date(ok('<13>Dec 31 23:59:59 h app: x').timestamp!).getFullYear(), 2025);
  t.is(new Date(ok('<13>Dec  5 23:59:59 h app: x').timestamp!).getFullYear(), 2026);
  const m = ok('<13>Jan  5 00:00:00 h app: x');
  t.is(new Date(m.timestamp!).getFullYear(), 2026);
  const noHost = ok('<38>Dec  2 10:00:00 sshd[42]: Accepted key');
  t.is(noHost.hostname, undefined);
  t.is(noHost.appName, 'sshd');
  t.is(noHost.procId, '42');
  const iso = ok('<13>2026-12-02T11:00:00.123+00:00 db-2 postgres[9]: checkpoint');
  t.is(iso.timestamp, Date.UTC(2026, 11, 2, 11, 0, 0, 123));
  t.is(iso.hostname, 'db-2');
  t.is(iso.message.toString(), 'checkpoint');
});

test('RFC 3164 without a parsable header keeps everything after PRI as the message', (t) => {
  const m = ok('<13>just some text');
  t.is(m.timestamp, undefined);
  t.is(m.message.toString(), 'just some text');
});

test('malformed messages are rejected with a reason', (t) => {
  t.regex(bad(''), /empty/);
  t.regex(bad('no pri'), /PRI/);
  t.regex(bad('<192>x'), /above 191/);
  t.regex(bad('<1a>x'), /PRI/);
  t.regex(bad('<13>1 notatime host app - - - m'), /RFC 3339/);
  t.regex(bad('<13>1 - host app - - [unclosed a="b" m'), /not closed|quote|name="value"/);
  t.regex(bad('<13>1 - host app - - [id a=b] m'), /name="value"/);
  t.regex(bad('<13>1 - host app - - [id a="b] m'), /quote/);
  t.regex(bad(`<13>1 - host ${'a'.repeat(49)} - - - m`), /APP-NAME/);
  t.regex(bad('<13>1 - host'), /header ends/);
});
