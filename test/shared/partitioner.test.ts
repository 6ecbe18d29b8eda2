/**
 * The partitioner is part of the wire contract (a key's partition must never change between releases) and must
 * spread the keys agents actually send: one host's files, which differ in a character or two.
 */
import test from 'ava';
import { partitionForKey } from '../../shared/partitioner.ts';

test('partitioner - golden values: fmix32(crc32(utf8(key))) mod n', (t) => {
  const counts = [1, 2, 3, 4, 6, 8, 16, 100];
  const golden: Record<string, number[]> = {
    'web-1:/var/log/app.log': [0, 1, 1, 3, 1, 7, 7, 27],
    '': [0, 0, 0, 0, 0, 0, 0, 0],
    'host-a:/var/log/app-0.log': [0, 1, 0, 1, 3, 1, 9, 37],
    é: [0, 1, 1, 1, 1, 5, 5, 65],
  };
  for (const [key, expected] of Object.entries(golden)) {
    t.deepEqual(
      counts.map((n) => partitionForKey(key, n)),
      expected,
      key,
    );
  }
});

test('partitioner - the files of one host spread over the partitions (plain crc32 mod 4 put them all in one)', (t) => {
  for (const base of ['host-a:/var/log/app-', 'web-1:/var/log/service', 'agent-0:/tmp/x/f']) {
    const used = new Set(Array.from({ length: 8 }, (_, i) => partitionForKey(`${base}${i}.log`, 4)));
    t.true(used.size >= 3, `${base}N.log over 4 partitions uses ${used.size}`);
  }
  // 4000 hosts × 2 files over 8 partitions: every partition within 10% of the mean.
  const load = new Array<number>(8).fill(0);
  for (let h = 0; h < 4000; h++)
    for (const f of ['app', 'error']) load[partitionForKey(`web-${h}:/var/log/${f}.log`, 8)]!++;
  for (const n of load) t.true(Math.abs(n - 1000) < 100, `partition load ${load.join(',')}`);
});
