import test from 'ava';
import { parseJournalLine } from '../../agent/sources/journal-entry.ts';

test('a journalctl JSON entry: message, realtime timestamp, labels from its fields', (t) => {
  const e = parseJournalLine(
    JSON.stringify({
      __CURSOR: 's=1;i=2',
      __REALTIME_TIMESTAMP: '1764662400123456',
      MESSAGE: 'started',
      PRIORITY: '3',
      _SYSTEMD_UNIT: 'shop.service',
      SYSLOG_IDENTIFIER: 'shop',
      _HOSTNAME: 'node-1',
      _PID: '42',
    }),
    1,
  )!;
  t.is(e.cursor, 's=1;i=2');
  t.is(e.timestamp, 1764662400123);
  t.is(e.message.toString(), 'started');
  t.deepEqual(e.labels, { host: 'node-1', unit: 'shop.service', syslog_identifier: 'shop', level: 'err', pid: '42' });
  t.is(e.unit, 'shop.service');
});

test('binary messages (byte arrays), repeated fields (arrays of values), missing fields', (t) => {
  const e = parseJournalLine(
    JSON.stringify({ __CURSOR: 'c', MESSAGE: [0xff, 0x00, 0x41], SYSLOG_IDENTIFIER: ['first', 'second'] }),
    99,
  )!;
  t.deepEqual([...e.message], [0xff, 0x00, 0x41]);
  t.is(e.labels.syslog_identifier, 'first');
  t.is(e.timestamp, 99);
  t.deepEqual(Object.keys(e.labels), ['syslog_identifier']);
  t.is(parseJournalLine(JSON.stringify({ __CURSOR: 'c', MESSAGE: null }), 1)!.message.length, 0);
});

test('lines that are not journal entries are undefined', (t) => {
  t.is(parseJournalLine('not json', 1), undefined);
  t.is(parseJournalLine('[1,2]', 1), undefined);
  t.is(parseJournalLine('{"MESSAGE":"no cursor"}', 1), undefined);
});
