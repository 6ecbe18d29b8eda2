/**
 * Backpressure and drops of the syslog receiver, on real sockets, with the produce path replaced by a gate the test
 * opens and closes (the store's slowness is the condition here, not the thing under test): a TCP sender is held by
 * its own full TCP window while the receiver's memory stays bounded, and gets everything through, in order, once
 * the store catches up; UDP datagrams arriving while the queue is full are dropped and counted.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import test from 'ava';
import type { ProducedBatch } from '../../../collector/produce/record-batches.ts';
import type { ReceiverErrorKind, ReceiverEvents } from '../../../collector/receivers/receiver-events.ts';
import { decodeRecords } from '../../../shared/batch-codec.ts';
import { waitFor } from '../support.ts';
import { startReceiver } from './in-process.ts';

class Gate {
  private open = false;
  private waiters: (() => void)[] = [];
  async pass(): Promise<void> {
    if (!this.open) await new Promise<void>((r) => this.waiters.push(r));
  }
  release(): void {
    this.open = true;
    for (const w of this.waiters.splice(0)) w();
  }
}

function countingEvents() {
  const counts = { received: 0, receivedBytes: 0, stored: 0, errors: new Map<ReceiverErrorKind, number>() };
  const events: ReceiverEvents = {
    received: (n, b) => {
      counts.received += n;
      counts.receivedBytes += b;
    },
    stored: (n) => {
      counts.stored += n;
    },
    error: (kind, n = 1) => counts.errors.set(kind, (counts.errors.get(kind) ?? 0) + n),
    connectionOpened() {},
    connectionClosed() {},
  };
  return { counts, events };
}

const MAX_PENDING = 64 * 1024;

test('tcp - a slow store pauses reading: bounded memory, the sender waits, then every message arrives in order', async (t) => {
  const gate = new Gate();
  const delivered: string[] = [];
  let inFlightBytes = 0;
  const { counts, events } = countingEvents();
  const receiver = await startReceiver({
    protocol: 'tcp',
    maxPendingBytes: MAX_PENDING,
    events,
    deliver: async (batches: readonly ProducedBatch[]) => {
      const bytes = batches.reduce((n, b) => n + b.bytes.length, 0);
      inFlightBytes += bytes;
      await gate.pass();
      inFlightBytes -= bytes;
      for (const b of batches) for (const r of decodeRecords(b.bytes)) delivered.push(r.value.toString());
    },
  });
  const total = 100_000;
  const socket = net.connect({ host: '127.0.0.1', port: receiver.port });
  await new Promise((r) => socket.once('connect', r));
  const payload = 'p'.repeat(150);
  const wire = Array.from({ length: total }, (_v, i) => `<13>Dec  2 10:00:00 h app: ${i} ${payload}\n`).join('');
  socket.write(wire);
  try {
    // The receiver reads until its queue is full, then stops: what it has taken stays within the bound.
    await new Promise((r) => setTimeout(r, 1500));
    const held = counts.receivedBytes;
    t.true(held < MAX_PENDING * 2 + inFlightBytes + 256 * 1024, `the receiver holds ${held} bytes`);
    t.true(counts.received < total / 4, `only ${counts.received} of ${total} messages read while the store is stalled`);
    t.true(socket.writableLength > 0, 'the sender is blocked on its full TCP window');
    gate.release();
    await waitFor('every message delivered', () => (delivered.length === total ? true : undefined), 120_000);
    t.deepEqual(
      delivered.map((v) => Number(v.split(' ')[0])),
      Array.from({ length: total }, (_v, i) => i),
    );
    t.is(counts.stored, total);
  } finally {
    socket.destroy();
    await receiver.close(5000);
  }
});

test('udp - datagrams arriving while the queue is full are dropped and counted, never silently', async (t) => {
  const gate = new Gate();
  let delivered = 0;
  const { counts, events } = countingEvents();
  const receiver = await startReceiver({
    protocol: 'udp',
    maxPendingBytes: MAX_PENDING,
    events,
    deliver: async (batches) => {
      await gate.pass();
      delivered += batches.reduce((n, b) => n + b.header.recordCount, 0);
    },
  });
  const sender = dgram.createSocket('udp4');
  const sent = 3000;
  try {
    const line = 'q'.repeat(200);
    for (let i = 0; i < sent; i++) {
      await new Promise<void>((resolve, reject) =>
        sender.send(`<13>Dec  2 10:00:00 h app: ${i} ${line}`, receiver.port, '127.0.0.1', (e) =>
          e ? reject(e) : resolve(),
        ),
      );
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    await waitFor('drops counted', () => ((counts.errors.get('dropped') ?? 0) > 0 ? true : undefined), 30_000);
    gate.release();
    await waitFor('the queue drained', () => (delivered === counts.received ? true : undefined), 30_000);
    const dropped = counts.errors.get('dropped') ?? 0;
    t.true(dropped > 0);
    t.true(delivered > 0);
    // The kernel may lose datagrams too (its own counters show those); everything the receiver saw is accounted for.
    t.true(delivered + dropped <= sent);
    t.is(counts.stored, delivered);
  } finally {
    sender.close();
    await receiver.close(5000);
  }
});

test("tcp - the produce path's limits: appends of at most max_records_per_request, a message above max_line_bytes counted and skipped", async (t) => {
  const gate = new Gate();
  const appends: string[][] = [];
  const { counts, events } = countingEvents();
  const receiver = await startReceiver({
    protocol: 'tcp',
    maxPendingBytes: MAX_PENDING,
    limits: { maxRecordsPerRequest: 3, maxLineBytes: 64 },
    events,
    deliver: async (batches) => {
      await gate.pass();
      appends.push(batches.flatMap((b) => decodeRecords(b.bytes).map((r) => r.value.toString())));
    },
  });
  const socket = net.connect({ host: '127.0.0.1', port: receiver.port });
  await new Promise((r) => socket.once('connect', r));
  try {
    // They wait behind the gate, then go in appends of at most three.
    const lines = Array.from({ length: 11 }, (_v, i) => `<13>Dec  2 10:00:00 h app: m${i}`);
    lines.splice(5, 0, `<13>Dec  2 10:00:00 h app: ${'x'.repeat(100)}`);
    socket.write(`${lines.join('\n')}\n`);
    await waitFor('the oversized message counted', () => (counts.errors.get('oversized') === 1 ? true : undefined));
    gate.release();
    await waitFor('every message delivered', () => (counts.stored === 11 ? true : undefined), 30_000);
    t.deepEqual(
      appends.flat(),
      Array.from({ length: 11 }, (_v, i) => `m${i}`),
    );
    t.true(
      appends.every((a) => a.length >= 1 && a.length <= 3),
      JSON.stringify(appends.map((a) => a.length)),
    );
    t.is(counts.errors.get('oversized'), 1);
  } finally {
    socket.destroy();
    await receiver.close(5000);
  }
});
