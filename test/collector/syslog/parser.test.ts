import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { HeaderCache, parseSyslog, type SyslogMessage } from '../../../collector/syslog/parser.ts';

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

/**
 * The RFC 3164 header as the regular expressions of the first version read it (a latin1 window of 460 bytes): the
 * reference the byte-level parser must agree with.
 */
function reference3164(text: string, now: number) {
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const BSD = /^([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2})/;
  const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})/;
  const TAG = /([A-Za-z0-9_./@-]{1,48})(?:\[([^\]\s]{1,128})\])?:/y;
  const body = Buffer.from(text.slice(text.indexOf('>') + 1), 'latin1');
  const head = body.toString('latin1', 0, Math.min(body.length, 460));
  let pos = 0;
  let timestamp: number | undefined;
  const bsd = BSD.exec(head);
  const iso = bsd ? null : ISO.exec(head);
  if (bsd) {
    const month = MONTHS.indexOf(bsd[1]!);
    if (month !== -1) {
      const [day, h, m, s] = [Number(bsd[2]!.trim()), Number(bsd[3]), Number(bsd[4]), Number(bsd[5])];
      if (!(day < 1 || day > 31 || h > 23 || m > 59 || s > 60)) {
        const year = new Date(now).getFullYear();
        timestamp = new Date(year, month, day, h, m, s).getTime();
        if (timestamp - now > 7 * 86_400_000) timestamp = new Date(year - 1, month, day, h, m, s).getTime();
      }
      pos = bsd[0].length;
    }
  } else if (iso && Number.isFinite(Date.parse(iso[0]))) {
    timestamp = Date.parse(iso[0]);
    pos = iso[0].length;
  }
  let hostname: string | undefined;
  let appName: string | undefined;
  let procId: string | undefined;
  if (timestamp !== undefined && head[pos] === ' ') {
    pos++;
    TAG.lastIndex = pos;
    let tag = TAG.exec(head);
    if (!tag) {
      const sp = head.indexOf(' ', pos);
      if (sp > pos && sp - pos <= 255) {
        hostname = head.slice(pos, sp);
        pos = sp + 1;
        TAG.lastIndex = pos;
        tag = TAG.exec(head);
      }
    }
    if (tag) {
      appName = tag[1];
      procId = tag[2];
      pos = TAG.lastIndex;
    }
    if (appName !== undefined && head[pos] === ' ') pos++;
  } else if (timestamp === undefined) {
    pos = 0;
  }
  return { timestamp, hostname, appName, procId, message: body.subarray(pos).toString('latin1') };
}

test('RFC 3164: the byte-level header parser agrees with the regular expressions it replaced', (t) => {
  const now = Date.UTC(2026, 11, 2, 10, 0, 0);
  const pick = <T>(...xs: T[]) => fc.constantFrom(...xs);
  const token = (chars: string, max: number) =>
    fc.array(fc.constantFrom(...chars.split('')), { minLength: 0, maxLength: max }).map((a) => a.join(''));
  const timestamp = fc.oneof(
    fc
      .tuple(
        pick('Jan', 'Feb', 'Dec', 'Mar', 'Xyz', 'dec'),
        pick(' 1', ' 2', '02', '31', '32', '00', ' 0', 'x1'),
        pick('00', '10', '23', '24', '99'),
        pick('00', '59', '60'),
        pick('00', '59', '60', '61', '6x'),
      )
      .map(([mo, d, h, m, s]) => `${mo} ${d} ${h}:${m}:${s}`),
    pick('2026-12-02T10:00:00Z', '2026-12-02T10:00:00.123456789+01:00', '2026-13-02T10:00:00Z', '2026-12-02T10:00'),
    token('Dec 0123456789:T-Z', 20),
  );
  const host = fc.oneof(token('abcXYZ019.-_', 12), fc.constant('h'.repeat(256)), fc.constant(''));
  const tagText = fc.oneof(token('abcXYZ019_./@-', 10), fc.constant('t'.repeat(48)), fc.constant('t'.repeat(49)));
  const pid = fc.oneof(
    fc.constant(''),
    token('0123456789abc', 6).map((p) => `[${p}]`),
    pick('[]', '[1 2]', '[12', `[${'9'.repeat(129)}]`),
  );
  const header = fc
    .tuple(
      timestamp,
      pick(' ', '', '  '),
      fc.option(host),
      tagText,
      pid,
      pick(':', '', ': ', ' :'),
      token('msg \u00a0\t]:[', 12),
    )
    .map(([ts, sep, h, tag, p, colon, msg]) => `<13>${ts}${sep}${h === null ? '' : `${h} `}${tag}${p}${colon}${msg}`);
  // fast-check reports the first differing input with the difference (assert.deepEqual inside the property).
  t.notThrows(() =>
    fc.assert(
      fc.property(header, (text) => {
        fc.pre(!text.startsWith('<13>1 ')); // that is RFC 5424
        const parsed = parseSyslog(Buffer.from(text, 'latin1'), now);
        assert.ok(parsed.ok);
        const m = parsed.message;
        assert.deepEqual(
          {
            timestamp: m.timestamp,
            hostname: m.hostname,
            appName: m.appName,
            procId: m.procId,
            message: m.message.toString('latin1'),
          },
          reference3164(text, now),
          text,
        );
      }),
      { numRuns: 5000 },
    ),
  );
});

test('RFC 3164: a header cache (one per connection) parses every message as parsing it afresh does', (t) => {
  const pick = <T>(...xs: T[]) => fc.constantFrom(...xs);
  // Headers that repeat, differ in one byte, end at the colon or after the space, or are not headers at all.
  const header = pick(
    '<13>Dec  2 10:00:00 web-0 app[42]: ',
    '<13>Dec  2 10:00:00 web-0 app[42]:',
    '<13>Dec  2 10:00:01 web-0 app[42]: ',
    '<14>Dec  2 10:00:00 web-0 app[42]: ',
    '<13>Dec  2 10:00:00 web-1 app[42]: ',
    '<13>Dec  2 10:00:00 app[42]: ',
    '<13>Dec  9 10:00:00 web-0 app: ',
    '<13>2026-12-02T10:00:00Z web-0 app[42]: ',
    '<13>2026-12-02T10:00:00.5+01:00 web-0 app: ',
    '<13>Dec  2 10:00:00 web-0 app[42]',
    '<13>Dec  2 10:00:00 ',
    '<13>',
    '<13>1 2026-12-02T10:00:00Z h a p m - ',
  );
  const body = pick('', ' ', '  x', 'x', ':y', 'seq=1 abc', '[1]: z', 'web-0 app[42]: again', '\u00e9t\u00e9');
  const now = pick(Date.UTC(2026, 11, 2, 10, 0, 0), Date.UTC(2026, 11, 2, 10, 0, 0) + 1, Date.UTC(2026, 0, 1, 0, 0, 0));
  const messages = fc.array(fc.tuple(header, body, now), { minLength: 1, maxLength: 40 });
  t.notThrows(() =>
    fc.assert(
      fc.property(messages, (list) => {
        const cache = new HeaderCache();
        for (const [h, b, at] of list) {
          const bytes = Buffer.from(h + b, 'latin1');
          const cached = parseSyslog(bytes, at, cache);
          const fresh = parseSyslog(Buffer.from(bytes), at);
          assert.deepEqual(cached, fresh, JSON.stringify(h + b));
        }
      }),
      { numRuns: 3000 },
    ),
  );
});
