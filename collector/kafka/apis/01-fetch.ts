/**
 * Fetch (key 1), versions 4-11: records from each requested partition's fetch offset, read through the LogStore as
 * HTTP fetch does and translated to RecordBatch v2 (codec/record-batch.ts). Whole batches are returned, so the
 * first may start before the fetch offset (Kafka does the same; clients skip the records before it).
 *
 * Sizes: the budget is min(max_bytes, limits.max_fetch_bytes) of stored batches, spent in request order; each
 * partition gets whole batches up to its partition_max_bytes and what the budget has left, and at least its first
 * batch while the budget is not spent, so a consumer never stalls on a batch larger than its limits. Kafka gives
 * that allowance to the first partition with data only; ours is wider because our batches are often as large as a
 * client's per-partition limit (an agent's are up to 1 MiB, the default of librdkafka and the Java client), and
 * holding to it answered one partition per Fetch (kcat with its defaults, on 1 MiB batches). An answer thus exceeds
 * the budget by at most one batch. Waiting: with less than min_bytes found, the request waits up to
 * min(max_wait_ms, limits.max_wait) for an append to any requested partition, and is
 * answered at once when the collector shuts down.
 *
 * Fetch sessions (v7+, KIP-227) are not kept: the answer's session_id is 0, which tells the client to send full
 * fetch requests; an incremental request for a session id we never gave gets FETCH_SESSION_ID_NOT_FOUND.
 * Needs the read role; otherwise TOPIC_AUTHORIZATION_FAILED for every partition, and no data.
 */
import { LOG_OVERHEAD } from '../../../shared/batch-codec.ts';
import { isValidName } from '../../../shared/names.ts';
import type { Offset } from '../../../shared/record.ts';
import type { AnswerMemory } from '../codec/fetch-memory.ts';
import { KafkaWriter } from '../codec/primitives.ts';
import { toKafkaBatches } from '../codec/record-batch.ts';
import { type KafkaApi, type KafkaContext, mayDo } from '../context.ts';
import { ApiKey, ErrorCode, kafkaErrorFor } from '../protocol.ts';

interface PartitionFetch {
  readonly partition: number;
  readonly offset: Offset;
  readonly maxBytes: number;
}

interface PartitionAnswer {
  errorCode: number;
  highWatermark: number;
  logStartOffset: number;
  /** Stored batches (ours); translated when the answer is written. */
  batches: Buffer | null;
}

export const fetchApi: KafkaApi = {
  key: ApiKey.Fetch,
  name: 'Fetch',
  minVersion: 4,
  maxVersion: 11,
  async handle(request, ctx) {
    const v = request.header.apiVersion;
    const r = request.body;
    r.int32(); // replica_id
    const maxWaitMs = Math.max(0, Math.min(r.int32(), ctx.collector.limits.maxWaitMs));
    const minBytes = r.int32();
    const maxBytes = Math.max(1, Math.min(r.int32(), ctx.collector.limits.maxFetchBytes));
    r.int8(); // isolation_level: every stored record is committed
    let sessionId = 0;
    let sessionEpoch = -1;
    if (v >= 7) {
      sessionId = r.int32();
      sessionEpoch = r.int32();
    }
    const topics = r.array(
      (r) => ({
        name: r.string(),
        partitions: r.array((r): PartitionFetch => {
          const partition = r.int32();
          if (v >= 9) r.int32(); // current_leader_epoch
          const offset = r.int64();
          if (v >= 5) r.int64(); // log_start_offset (followers only)
          return { partition, offset, maxBytes: r.int32() };
        }, 16),
      }),
      6,
    );
    if (v >= 7) r.array((r) => ({ topic: r.string(), partitions: r.array((r) => r.int32(), 4) }), 6);
    if (v >= 11) r.string(); // rack_id

    if (sessionId !== 0 || sessionEpoch > 0) {
      request.countError(ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
      return writeFetch(v, ErrorCode.FETCH_SESSION_ID_NOT_FOUND, []);
    }
    const allowed = mayDo(ctx, request.session, 'read');
    // The stored bytes are read into reused memory, given back once translated (translation copies them).
    const reads = ctx.fetchMemory.forAnswer();
    try {
      const read = () => readAll(ctx, topics, maxBytes, allowed, reads);
      let answers = await read();
      const found = answers.reduce(
        (n, t) => n + t.partitions.reduce((m, p) => m + (p.answer.batches?.length ?? 0), 0),
        0,
      );
      if (found < Math.max(1, minBytes) && maxWaitMs > 0 && allowed) {
        if (await waitForAny(ctx, answers, maxWaitMs)) {
          reads.release();
          answers = await read();
        }
      }
      for (const t of answers) for (const p of t.partitions) request.countError(p.answer.errorCode);
      return writeFetch(v, 0, answers, ctx.fetchMemory.forAnswer());
    } finally {
      reads.release();
    }
  },
};

interface TopicAnswer {
  readonly name: string;
  readonly partitions: { readonly request: PartitionFetch; readonly answer: PartitionAnswer }[];
}

async function readAll(
  ctx: KafkaContext,
  topics: readonly { name: string; partitions: readonly PartitionFetch[] }[],
  maxBytes: number,
  allowed: boolean,
  reads: AnswerMemory,
): Promise<TopicAnswer[]> {
  const out: TopicAnswer[] = [];
  const readable: { topic: string; request: PartitionFetch; answer: PartitionAnswer }[] = [];
  for (const t of topics) {
    const partitions: TopicAnswer['partitions'] = [];
    for (const p of t.partitions) {
      const answer: PartitionAnswer = { errorCode: 0, highWatermark: -1, logStartOffset: -1, batches: null };
      partitions.push({ request: p, answer });
      if (!allowed) answer.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
      else if (!isValidName(t.name)) answer.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      else readable.push({ topic: t.name, request: p, answer });
    }
    out.push({ name: t.name, partitions });
  }
  // The answer's byte budget is spent in request order, as if the partitions were read one after the other. They
  // are read a window at a time: the next partitions whose limits fit together in what the budget has left, at once
  // (their file reads overlap), so no more than the budget is ever read ahead.
  const partitionLimit = (p: PartitionFetch, budget: number) => Math.min(Math.max(1, p.maxBytes), Math.max(1, budget));
  let budget = maxBytes;
  let first = true;
  for (let i = 0; i < readable.length; ) {
    const window = [readable[i++]!];
    let reserved = partitionLimit(window[0]!.request, budget);
    while (i < readable.length && reserved + partitionLimit(readable[i]!.request, budget) <= budget) {
      reserved += partitionLimit(readable[i]!.request, budget);
      window.push(readable[i++]!);
    }
    const results = await Promise.all(
      window.map(({ topic, request, answer }) => readPartition(ctx, topic, request, answer, budget, reads)),
    );
    for (const [j, batches] of results.entries()) {
      // Past the budget, partitions report their offsets but no data, unless nothing was returned yet.
      if (batches === undefined || batches.length === 0 || (budget <= 0 && !first)) continue;
      const kept = wholeBatchesWithin(batches, partitionLimit(window[j]!.request, budget));
      window[j]!.answer.batches = kept;
      budget -= kept.length;
      first = false;
    }
  }
  return out;
}

/** One partition's stored batches from its fetch offset, at most the budget's worth; errors go in its answer. */
async function readPartition(
  ctx: KafkaContext,
  topic: string,
  p: PartitionFetch,
  answer: PartitionAnswer,
  budget: number,
  reads: AnswerMemory,
): Promise<Buffer | undefined> {
  try {
    const count = await ctx.topics.partitionsFor(topic, false);
    if (p.partition < 0 || p.partition >= count) {
      answer.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      return undefined;
    }
    const limit = Math.min(Math.max(1, p.maxBytes), Math.max(1, budget));
    const result = await ctx.store.read(topic, p.partition, p.offset, limit, (size) => reads.bufferOf(size));
    answer.highWatermark = result.endOffset;
    answer.logStartOffset = result.startOffset;
    return result.batches;
  } catch (error) {
    answer.errorCode = kafkaErrorFor(error);
    if (answer.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
      const info = await ctx.store.describeTopic(topic).catch(() => undefined);
      const partition = info?.partitions[p.partition];
      if (partition) {
        answer.highWatermark = partition.endOffset;
        answer.logStartOffset = partition.startOffset;
      }
    }
    return undefined;
  }
}

/** The leading whole batches within `limit` bytes, and at least the first (as a store read returns them). */
function wholeBatchesWithin(batches: Buffer, limit: number): Buffer {
  let end = 0;
  while (end < batches.length) {
    const size = LOG_OVERHEAD + batches.readInt32BE(end + 8);
    if (end > 0 && end + size > limit) break;
    end += size;
  }
  return end === batches.length ? batches : batches.subarray(0, end);
}

/** Resolves true when any readable partition gets a record at or past its fetch offset within `timeoutMs`. */
async function waitForAny(ctx: KafkaContext, answers: readonly TopicAnswer[], timeoutMs: number): Promise<boolean> {
  const done = new AbortController();
  const signal = AbortSignal.any([done.signal, ctx.shutdownSignal]);
  const waits: Promise<boolean>[] = [];
  for (const t of answers) {
    for (const p of t.partitions) {
      if (p.answer.errorCode !== 0) continue;
      waits.push(ctx.store.waitForAppend(t.name, p.request.partition, p.request.offset, timeoutMs, signal));
    }
  }
  if (waits.length === 0) return false;
  try {
    return await new Promise<boolean>((resolve) => {
      let pending = waits.length;
      const settle = (appended: boolean) => {
        if (appended) resolve(true);
        else if (--pending === 0) resolve(false);
      };
      for (const wait of waits) wait.then(settle, () => settle(false));
    });
  } finally {
    done.abort();
  }
}

function writeFetch(v: number, errorCode: number, answers: readonly TopicAnswer[], memory?: AnswerMemory): KafkaWriter {
  // Translated batches are attached to the answer, not copied into it; their memory is reused once it is written.
  const translated = answers.map((t) =>
    t.partitions.map((p) => (p.answer.batches === null ? [] : toKafkaBatches(p.answer.batches, memory))),
  );
  const w = new KafkaWriter(256 + answers.reduce((n, t) => n + t.name.length + t.partitions.length * 64, 0));
  if (memory) w.whenWritten(() => memory.release());
  w.int32(0); // throttle_time_ms
  if (v >= 7) w.int16(errorCode).int32(0); // error_code, session_id: 0 = no fetch session
  answers.forEach((t, ti) => {
    if (ti === 0) w.int32(answers.length);
    w.string(t.name).int32(t.partitions.length);
    t.partitions.forEach((p, pi) => {
      w.int32(p.request.partition).int16(p.answer.errorCode).int64(p.answer.highWatermark);
      w.int64(p.answer.highWatermark); // last_stable_offset: no transactions, every record is stable
      if (v >= 5) w.int64(p.answer.logStartOffset);
      w.int32(0); // aborted_transactions: none
      if (v >= 11) w.int32(-1); // preferred_read_replica: none
      const records = translated[ti]![pi]!;
      w.int32(records.reduce((n, b) => n + b.length, 0));
      for (const batch of records) w.attach(batch);
    });
  });
  if (answers.length === 0) w.int32(0);
  return w;
}
