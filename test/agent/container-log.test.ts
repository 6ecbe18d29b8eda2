import test from 'ava';
import {
  type ContainerFormat,
  type ContainerLine,
  ContainerLogDecoder,
  kubeletPathLabels,
  LineMetaQueue,
} from '../../agent/frame/container-log.ts';

function decode(format: ContainerFormat, lines: string[], max = 1 << 20): ContainerLine[] {
  const d = new ContainerLogDecoder(format, max, () => 42);
  const out: ContainerLine[] = [];
  let end = 0;
  for (const l of lines) {
    end += Buffer.byteLength(l) + 1;
    out.push(...d.line(Buffer.from(l), end, false));
  }
  return out;
}

const T1 = '2026-12-02T04:00:00.123456789Z';
const T2 = '2026-12-02T04:00:01.5Z';

test('CRI: prefix stripped, stream and nanosecond timestamp taken, P pieces joined up to F', (t) => {
  const out = decode('cri', [
    `${T1} stdout F hello world`,
    `${T1} stderr P first half, `,
    `${T2} stderr P second half, `,
    `${T2} stderr F end`,
    `${T2} stdout F `,
    `${T2} stdout F`,
  ]);
  t.deepEqual(
    out.map((l) => [l.value.toString(), l.stream, l.timestamp, l.malformed]),
    [
      ['hello world', 'stdout', Date.UTC(2026, 11, 2, 4, 0, 0, 123), false],
      ['first half, second half, end', 'stderr', Date.UTC(2026, 11, 2, 4, 0, 0, 123), false],
      ['', 'stdout', Date.UTC(2026, 11, 2, 4, 0, 1, 500), false],
      ['', 'stdout', Date.UTC(2026, 11, 2, 4, 0, 1, 500), false],
    ],
  );
  // The joined line ends where its last piece ends, so a checkpoint never passes a held piece.
  const lens = [
    `${T1} stdout F hello world`,
    `${T1} stderr P first half, `,
    `${T2} stderr P second half, `,
    `${T2} stderr F end`,
  ];
  t.is(
    out[1]!.end,
    lens.reduce((n, l) => n + l.length + 1, 0),
  );
});

test('Docker json-file: log, stream, time; lines split at 16 KiB joined until the newline', (t) => {
  const big = 'a'.repeat(16 * 1024);
  const out = decode('docker', [
    JSON.stringify({ log: 'plain line\n', stream: 'stdout', time: T1 }),
    JSON.stringify({ log: big, stream: 'stderr', time: T1 }),
    JSON.stringify({ log: big, stream: 'stderr', time: T2 }),
    JSON.stringify({ log: 'tail\r\n', stream: 'stderr', time: T2 }),
    JSON.stringify({ log: 'unicode ✓ "quoted"\n', stream: 'stdout', time: T2 }),
  ]);
  t.is(out.length, 3);
  t.is(out[0]!.value.toString(), 'plain line');
  t.is(out[1]!.value.toString(), `${big}${big}tail`);
  t.is(out[1]!.stream, 'stderr');
  t.is(out[1]!.timestamp, Date.UTC(2026, 11, 2, 4, 0, 0, 123));
  t.is(out[2]!.value.toString(), 'unicode ✓ "quoted"');
});

test('auto: each line by its first byte; lines in neither format pass through raw and are marked', (t) => {
  const out = decode('auto', [
    `${T1} stdout F cri line`,
    JSON.stringify({ log: 'docker line\n', stream: 'stdout', time: T1 }),
    'not a container line',
    `${T1} stdout P held piece`,
    'garbage cuts the held line short',
  ]);
  t.deepEqual(
    out.map((l) => [l.value.toString(), l.malformed]),
    [
      ['cri line', false],
      ['docker line', false],
      ['not a container line', true],
      ['held piece', false],
      ['garbage cuts the held line short', true],
    ],
  );
  t.is(out[2]!.timestamp, 42);
});

test('a joined line is capped at max line bytes and marked truncated', (t) => {
  const out = decode(
    'cri',
    [`${T1} stdout P ${'x'.repeat(60)}`, `${T1} stdout P ${'y'.repeat(60)}`, `${T1} stdout F z`],
    100,
  );
  t.is(out.length, 1);
  t.is(out[0]!.value.length, 100);
  t.true(out[0]!.truncated);
});

test('kubelet paths give namespace, pod and container, rotated names included', (t) => {
  t.deepEqual(kubeletPathLabels('/var/log/pods/shop_checkout-7d9f_0b1c-22/app/0.log'), {
    namespace: 'shop',
    pod: 'checkout-7d9f',
    container: 'app',
  });
  t.deepEqual(kubeletPathLabels('/var/log/pods/shop_checkout-7d9f_0b1c-22/app/3.log.20261202-040000'), {
    namespace: 'shop',
    pod: 'checkout-7d9f',
    container: 'app',
  });
  t.deepEqual(kubeletPathLabels(`/var/log/containers/checkout-7d9f_shop_app-${'ab'.repeat(32)}.log`), {
    namespace: 'shop',
    pod: 'checkout-7d9f',
    container: 'app',
  });
  t.is(kubeletPathLabels('/var/log/syslog'), undefined);
});

test('LineMetaQueue gives a grouped event the meta of its first line', (t) => {
  const q = new LineMetaQueue();
  q.push(10, { timestamp: 1, stream: 'stdout' });
  q.push(20, { timestamp: 2, stream: 'stdout' });
  q.push(30, { timestamp: 3, stream: 'stderr' });
  t.is(q.take(20)?.timestamp, 1);
  t.is(q.take(30)?.timestamp, 3);
  t.is(q.take(40), undefined);
});
