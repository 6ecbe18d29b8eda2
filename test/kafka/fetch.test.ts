/**
 * Fetch's byte limits, spoken raw (Fetch v4) to a real collector: max_bytes is spent in request order over the
 * partitions, each partition gets whole batches up to its partition_max_bytes, and at least its first batch while
 * the budget is not spent (01-fetch.ts says why). The partitions are read at once where their limits fit in the
 * budget together, so these pin that the answer is the same as if they were read one by one.
 * And the memory Fetch reuses from answer to answer: consumers reading at once each get every record intact.
 */
import net from 'node:net';
import test from 'ava';
import { decodeProducedRecords } from '../../collector/kafka/codec/produced-batch.ts';
import { BatchBuilder } from '../../shared/batch-codec.ts';
import { parsePrometheusText } from '../collector/support.ts';
import { partitionForKey } from '../../shared/partitioner.ts';
import { type KafkaCollector, kcatConsume, requestFrame, startKafkaCollector, withKcat } from './support.ts';

const PARTITIONS = 3;
const BATCHES = 3;
let kafka: KafkaCollector;
/** Stored size of each batch, by partition, in offset order. */
const sizes: number[][] = [];

/** A key that the collector sends to `partition`. */
function keyFor(partition: number): string {
  for (let i = 0; ; i++) if (partitionForKey(`source-${i}`, PARTITIONS) === partition) return `source-${i}`;
}

test.before(async () => {
  kafka = await startKafkaCollector();
  const url = kafka.collector.url;
  const created = await fetch(`${url}/v1/topics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'limits', partitions: PARTITIONS }),
  });
  if (created.status !== 201 && created.status !== 200) throw new Error(`create: HTTP ${created.status}`);
  for (let p = 0; p < PARTITIONS; p++) {
    sizes.push([]);
    for (let b = 0; b < BATCHES; b++) {
      // Batches of different sizes, so that a wrong cut shows.
      const builder = new BatchBuilder(keyFor(p), { host: 'test' }, 1 << 20);
      for (let i = 0; i < 20 + 10 * b + p; i++) builder.add(1_764_000_000_000 + i, Buffer.alloc(1000, 97 + i));
      const batch = builder.finish();
      // Stored as sent (only the base offset is stamped): the stored size is the size sent.
      sizes[p]!.push(batch.length);
      const res = await fetch(`${url}/v1/topics/limits/records`, {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.tributary.batch' },
        body: batch,
      });
      if (res.status !== 200) throw new Error(`produce: HTTP ${res.status}`);
    }
  }
});

test.after.always(async () => {
  await kafka?.collector.dispose();
});

interface PartitionResult {
  readonly partition: number;
  readonly errorCode: number;
  readonly highWatermark: bigint;
  /** Each Kafka batch returned: its base offset, record count, and the size of the stored batch it came from. */
  readonly batches: { readonly baseOffset: bigint; readonly records: number; stored: number }[];
  /** The partition's record set as sent. */
  readonly records: Buffer;
}

/**
 * One Fetch v4 for partitions 0..n-1 of `topic` from `offsets` (0 each by default), and its answer decoded, on a
 * new connection or on `connection`. `holdMs`: the client reads nothing for that long after sending, so the answer
 * waits in the collector's socket.
 */
async function fetchV4(
  maxBytes: number,
  partitionMaxBytes: readonly number[],
  {
    topic = 'limits',
    holdMs = 0,
    offsets = [] as readonly number[],
    connection = undefined as RawConnection | undefined,
  } = {},
): Promise<PartitionResult[]> {
  const name = Buffer.from(topic);
  const body = Buffer.alloc(4 * 4 + 1 + 4 + 2 + name.length + 4 + partitionMaxBytes.length * 16);
  let pos = body.writeInt32BE(-1, 0); // replica_id
  pos = body.writeInt32BE(0, pos); // max_wait_ms
  pos = body.writeInt32BE(0, pos); // min_bytes
  pos = body.writeInt32BE(maxBytes, pos);
  pos = body.writeInt8(0, pos); // isolation_level
  pos = body.writeInt32BE(1, pos);
  pos = body.writeInt16BE(name.length, pos);
  pos += name.copy(body, pos);
  pos = body.writeInt32BE(partitionMaxBytes.length, pos);
  for (const [partition, limit] of partitionMaxBytes.entries()) {
    pos = body.writeInt32BE(partition, pos);
    pos = body.writeBigInt64BE(BigInt(offsets[partition] ?? 0), pos);
    pos = body.writeInt32BE(limit, pos);
  }
  const answer = connection ? await connection.send(1, 4, body) : await request(1, 4, body, holdMs);
  let at = 4; // throttle_time_ms
  const topics = answer.readInt32BE(at);
  at += 4;
  if (topics !== 1) throw new Error(`expected one topic, got ${topics}`);
  at += 2 + answer.readInt16BE(at);
  const count = answer.readInt32BE(at);
  at += 4;
  const out: PartitionResult[] = [];
  for (let i = 0; i < count; i++) {
    const partition = answer.readInt32BE(at);
    const errorCode = answer.readInt16BE(at + 4);
    const highWatermark = answer.readBigInt64BE(at + 6);
    at += 4 + 2 + 8 + 8; // partition, error_code, high_watermark, last_stable_offset
    const aborted = answer.readInt32BE(at);
    at += 4 + Math.max(0, aborted) * 16;
    const length = answer.readInt32BE(at);
    at += 4;
    const batches: PartitionResult['batches'] = [];
    for (let b = at; b < at + length; b += 12 + answer.readInt32BE(b + 8)) {
      batches.push({ baseOffset: answer.readBigInt64BE(b), records: answer.readInt32BE(b + 57), stored: 0 });
    }
    out.push({ partition, errorCode, highWatermark, batches, records: answer.subarray(at, at + length) });
    at += length;
  }
  // The stored size of each batch returned, by its position (the limits tests fetch from offset 0).
  if (topic === 'limits' && offsets.length === 0)
    for (const p of out) for (const [k, b] of p.batches.entries()) b.stored = sizes[p.partition]![k]!;
  return out;
}

/** Sends one request on a new connection and resolves with the response body; reads after `holdMs`. */
async function request(apiKey: number, version: number, body: Buffer, holdMs: number): Promise<Buffer> {
  const connection = await RawConnection.open();
  try {
    return await connection.send(apiKey, version, body, holdMs);
  } finally {
    connection.close();
  }
}

/** One connection to the Kafka listener, for requests one after the other (as a client's fetch loop sends them). */
class RawConnection {
  private received = Buffer.alloc(0);
  private waiting: ((frame: Buffer) => void) | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      if (this.received.length < 4 || this.received.length < 4 + this.received.readInt32BE(0)) return;
      const frame = this.received.subarray(4, 4 + this.received.readInt32BE(0));
      this.received = this.received.subarray(4 + frame.length);
      this.waiting?.(frame);
    });
  }

  static open(): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(kafka.kafkaPort, '127.0.0.1');
      socket.once('connect', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  /** The response body (after the correlation id) to one request. */
  send(apiKey: number, version: number, body: Buffer, holdMs = 0): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer in 10 s')), 10_000);
      this.waiting = (frame) => {
        clearTimeout(timer);
        this.waiting = undefined;
        if (frame.readInt32BE(0) !== 42) reject(new Error('wrong correlation id'));
        else resolve(frame.subarray(4));
      };
      this.socket.write(requestFrame(apiKey, version, body, 42));
      if (holdMs > 0) {
        this.socket.pause();
        setTimeout(() => this.socket.resume(), holdMs);
      }
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

const counts = (result: readonly PartitionResult[]) => result.map((p) => p.batches.length);
const storedBytes = (result: readonly PartitionResult[]) =>
  result.reduce((n, p) => n + p.batches.reduce((m, b) => m + b.stored, 0), 0);

test('fetch limits - with room for all, every partition returns what its partition_max_bytes holds', async (t) => {
  const result = await fetchV4(
    10 << 20,
    sizes.map((s) => s[0]! + s[1]!),
  );
  t.deepEqual(counts(result), [2, 2, 2]);
  t.deepEqual(
    result.map((p) => p.batches.map((b) => b.baseOffset)),
    sizes.map((_s, p) => [0n, BigInt(20 + p)]),
  );
  t.true(result.every((p) => p.errorCode === 0 && p.highWatermark > 0n));
});

test('fetch limits - a partition returns its first batch though larger than its limit, until the budget is spent', async (t) => {
  const result = await fetchV4(sizes[0]![0]! + 1, [100, 100, 100]);
  t.deepEqual(counts(result), [1, 1, 0]);
  // The others still report where their logs end.
  t.true(result.every((p) => p.errorCode === 0 && p.highWatermark > 0n));
});

test('fetch limits - max_bytes is spent in request order, and overrun by one batch at most', async (t) => {
  const maxBytes = sizes[0]![0]! + sizes[0]![1]! + sizes[1]![0]! - 1;
  const result = await fetchV4(maxBytes, [10 << 20, 10 << 20, 10 << 20]);
  t.deepEqual(counts(result), [2, 1, 0]);
  t.true(storedBytes(result) <= maxBytes + sizes[1]![0]!);
});

test('fetch limits - the budget left after one partition is what the next may take', async (t) => {
  const maxBytes = sizes[0]![0]! + sizes[1]![0]! + sizes[1]![1]!;
  const result = await fetchV4(maxBytes, [sizes[0]![0]!, 10 << 20, 10 << 20]);
  t.deepEqual(counts(result), [1, 2, 0]);
  t.is(storedBytes(result), maxBytes);
});

withKcat.test(
  'fetch memory - three kcat consumers reading one topic at once each get every record intact',
  async (t) => {
    const url = kafka.collector.url;
    await fetch(`${url}/v1/topics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'shared-reads', partitions: PARTITIONS }),
    });
    // ~21 MB in 1,000-record batches: each consumer needs dozens of answers, while the others need theirs.
    const perPartition = 7000;
    for (let p = 0; p < PARTITIONS; p++) {
      for (let first = 0; first < perPartition; first += 1000) {
        const builder = new BatchBuilder(keyFor(p), { host: 'test' }, 2 << 20);
        for (let i = first; i < first + 1000; i++) builder.add(1_764_000_000_000 + i, recordValue(p, i));
        const res = await fetch(`${url}/v1/topics/shared-reads/records`, {
          method: 'POST',
          headers: { 'content-type': 'application/vnd.tributary.batch' },
          body: builder.finish(),
        });
        if (res.status !== 200) throw new Error(`produce: HTTP ${res.status}`);
      }
    }
    // One answer of ~16 MB waits in a client that reads nothing for 2 s while three kcat consumers read the topic:
    // memory given back before that answer is written would be refilled with theirs.
    const held = fetchV4(16 << 20, Array(PARTITIONS).fill(16 << 20), { topic: 'shared-reads', holdMs: 2000 });
    const consumers = await Promise.all([1, 2, 3].map(() => kcatConsume(kafka.bootstrap, 'shared-reads')));
    let heldRecords = 0;
    let heldWrong = 0;
    for (const p of await held) {
      const decoded = decodeProducedRecords(p.records, { maxInflated: 64 << 20, maxValue: 1 << 20 }, 0);
      for (const [k, batch] of decoded.entries()) {
        const base = Number(p.batches[k]!.baseOffset);
        for (const [j, record] of batch.records.entries()) {
          heldRecords++;
          if (!record.value.equals(recordValue(p.partition, base + j))) heldWrong++;
        }
      }
    }
    t.true(heldRecords > 10_000, `the held answer had ${heldRecords} records`);
    t.is(heldWrong, 0);
    for (const messages of consumers) {
      t.is(messages.length, PARTITIONS * perPartition);
      const wrong = messages.filter((m) => m.payload !== recordValue(m.partition, m.offset).toString());
      t.is(wrong.length, 0, `first wrong: ${JSON.stringify(wrong[0])?.slice(0, 200)}`);
    }
  },
);

/** The value of record `offset` of `partition`: names both, so a record read from the wrong memory shows. */
function recordValue(partition: number, offset: number): Buffer {
  return Buffer.from(`partition ${partition} offset ${offset} `.padEnd(1000, String.fromCharCode(97 + (offset % 26))));
}

/** Creates a one-partition topic of `batches` batches of 200 records (~200 KB each); returns each batch's size. */
async function oneByOne(topic: string, batches: number): Promise<number[]> {
  const url = kafka.collector.url;
  await fetch(`${url}/v1/topics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: topic, partitions: 1 }),
  });
  const out: number[] = [];
  for (let b = 0; b < batches; b++) out.push(await appendBatch(topic, b * 200));
  return out;
}

/** Appends records first..first+199 of partition 0 as one batch; returns its stored size. */
async function appendBatch(topic: string, first: number): Promise<number> {
  const builder = new BatchBuilder('ahead', { host: 'test' }, 1 << 20);
  for (let i = first; i < first + 200; i++) builder.add(1_764_000_000_000 + i, recordValue(0, i));
  const batch = builder.finish();
  const res = await fetch(`${kafka.collector.url}/v1/topics/${topic}/records`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.tributary.batch' },
    body: batch,
  });
  if (res.status !== 200) throw new Error(`produce: HTTP ${res.status}`);
  return batch.length;
}

/** The values of every record in a partition's answer, checked against what was produced at their offsets. */
function wrongValues(p: PartitionResult): number {
  let wrong = 0;
  const decoded = decodeProducedRecords(p.records, { maxInflated: 64 << 20, maxValue: 1 << 20 }, 0);
  for (const [k, batch] of decoded.entries()) {
    const base = Number(p.batches[k]!.baseOffset);
    for (const [j, record] of batch.records.entries()) if (!record.value.equals(recordValue(0, base + j))) wrong++;
  }
  return wrong;
}

// Serial: it counts the read-ahead metric, which the other tests of this file move too.
test.serial(
  'read ahead - a consumer that seeks back, or reads on, gets exactly the records it asked for',
  async (t) => {
    const before = await readAheadCounts();
    const batchSizes = await oneByOne('ahead-seek', 5);
    const connection = await RawConnection.open();
    try {
      const limit = [batchSizes[0]!];
      const read = (offset: number) => fetchV4(10 << 20, limit, { topic: 'ahead-seek', offsets: [offset], connection });
      // Each answer makes the collector read ahead from where it ends; the next request is sometimes that, sometimes not.
      for (const [offset, base] of [
        [0, 0n],
        [0, 0n],
        [200, 200n],
        [400, 400n],
        [250, 200n],
        [600, 600n],
        [800, 800n],
        [200, 200n],
      ] as const) {
        const [p] = await read(offset);
        t.deepEqual(
          p!.batches.map((b) => b.baseOffset),
          [base],
          `fetch from ${offset}`,
        );
        t.is(wrongValues(p!), 0);
      }
    } finally {
      connection.close();
    }
    // Every answer with more behind it was read ahead from its end (7 of the 8: the one at 800 reached the end), and
    // each read ahead is counted once, used by the next Fetch or not (the last when the connection closed).
    const deadline = Date.now() + 5000;
    let after = await readAheadCounts();
    while (after.used + after.unused - before.used - before.unused < 7 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      after = await readAheadCounts();
    }
    t.is(after.used + after.unused - before.used - before.unused, 7);
    t.true(after.used - before.used >= 1, 'the next Fetch used what was read ahead');
  },
);

async function readAheadCounts(): Promise<{ used: number; unused: number }> {
  const samples = parsePrometheusText(await (await fetch(`${kafka.collector.url}/metrics`)).text());
  const count = (result: string) =>
    samples
      .filter((s) => s.name === 'tributary_collector_kafka_fetch_read_ahead_total' && s.labels.result === result)
      .reduce((n, s) => n + s.value, 0);
  return { used: count('used'), unused: count('unused') };
}

test('read ahead - a consumer that pauses gets the partition as it is now, not as it was read ahead', async (t) => {
  await oneByOne('ahead-pause', 3);
  const connection = await RawConnection.open();
  try {
    const first = await fetchV4(10 << 20, [1], { topic: 'ahead-pause', connection });
    t.is(first[0]!.highWatermark, 600n);
    // The collector now reads ahead from offset 200 and sees the log end at 600; then the log grows.
    await appendBatch('ahead-pause', 600);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const [next] = await fetchV4(10 << 20, [1], { topic: 'ahead-pause', offsets: [200], connection });
    t.deepEqual(
      next!.batches.map((b) => b.baseOffset),
      [200n],
    );
    t.is(next!.highWatermark, 800n);
  } finally {
    connection.close();
  }
});

// Serial: it counts the read-ahead metric, which the other tests of this file move too.
test.serial('read ahead - what a connection that stops fetching had read ahead is given back', async (t) => {
  await oneByOne('ahead-idle', 3);
  const before = await readAheadCounts();
  const connection = await RawConnection.open();
  try {
    await fetchV4(10 << 20, [1], { topic: 'ahead-idle', connection });
    // The collector reads ahead from offset 200; the client then asks for nothing more, and stays connected.
    const deadline = Date.now() + 5000;
    let after = await readAheadCounts();
    while (after.unused === before.unused && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      after = await readAheadCounts();
    }
    t.is(after.unused - before.unused, 1);
    t.is(after.used, before.used);
  } finally {
    connection.close();
  }
});
