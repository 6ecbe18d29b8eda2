/**
 * How a syslog connection's lines become batches, on a real socket with the produce path replaced by a list the
 * test reads: a relay interleaves many programs and processes on one connection, and that must still make a few
 * large batches (one batch a line was 10× slower than rsyslog), with every program's lines in order.
 */
import net from 'node:net';
import test from 'ava';
import type { ProducedBatch } from '../../../collector/produce/record-batches.ts';
import { decodeRecords } from '../../../shared/batch-codec.ts';
import { waitFor } from '../support.ts';
import { startReceiver } from './in-process.ts';

test('tcp - interleaved programs and processes on one connection: a batch per program, each program in order, the pid a field', async (t) => {
  const batches: ProducedBatch[] = [];
  const receiver = await startReceiver({
    protocol: 'tcp',
    maxPendingBytes: 16 * 1024 * 1024,
    deliver: async (delivered) => {
      batches.push(...delivered);
    },
  });
  const socket = net.connect({ host: '127.0.0.1', port: receiver.port });
  await new Promise((r) => socket.once('connect', r));
  const PROGRAMS = 10;
  const LINES = 20_000;
  try {
    let wire = '';
    for (let i = 0; i < LINES; i++) {
      // Ten programs in turn, each with seven processes in turn: no two consecutive lines share a header.
      wire += `<13>Dec  2 10:00:00 relay app${i % PROGRAMS}[${100 + (i % 7)}]: line ${i}\n`;
    }
    socket.end(wire);
    await waitFor('every line delivered', () =>
      batches.reduce((n, b) => n + b.header.recordCount, 0) === LINES ? true : undefined,
    );
    const byProgram = new Map<string, number[]>();
    for (const batch of batches) {
      for (const r of decodeRecords(batch.bytes)) {
        t.is(r.labels.procid, undefined);
        const i = Number(r.value.toString().split(' ')[1]);
        t.is(r.fields?.procid, String(100 + (i % 7)));
        const list = byProgram.get(r.key) ?? [];
        list.push(i);
        byProgram.set(r.key, list);
      }
    }
    t.is(byProgram.size, PROGRAMS);
    for (const [key, lines] of byProgram) {
      t.deepEqual(
        lines,
        [...lines].sort((a, b) => a - b),
        `${key} in order`,
      );
      t.is(lines.length, LINES / PROGRAMS);
    }
    // The first line goes alone (nothing was in flight); the rest at least a hundred lines a batch.
    t.true(batches.length <= 1 + LINES / 100, `${batches.length} batches for ${LINES} lines`);
  } finally {
    socket.destroy();
    await receiver.close(5000);
  }
});
