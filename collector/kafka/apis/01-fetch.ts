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
 * A consumer catching up is read ahead (fetch-ahead.ts): its next Fetch is prepared while it parses this one.
 *
 * Fetch sessions (v7+, KIP-227) are not kept: the answer's session_id is 0, which tells the client to send full
 * fetch requests; an incremental request for a session id we never gave gets FETCH_SESSION_ID_NOT_FOUND.
 * Needs the read role; otherwise TOPIC_AUTHORIZATION_FAILED for every partition, and no data.
 */
import { LOG_OVERHEAD } from '../../../shared/batch-codec.ts';
import { isValidName } from '../../../shared/names.ts';
import type { Offset } from '../../../shared/record.ts';
import type { AnswerMemory } from '../../storage/fetch-memory.ts';
import { KafkaWriter } from '../codec/primitives.ts';
import { toKafkaBatches } from '../codec/record-batch.ts';
import { type KafkaApi, type KafkaContext, mayDo } from '../context.ts';
import { type AheadRequest, aheadKey, type PartitionRead } from '../fetch-ahead.ts';
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
  /** Translated batches kept within the limits. */
  batches: readonly Buffer[] | null;
  /** Their stored bytes. */
  storedBytes: number;
}

interface TopicAnswer {
  readonly name: string;
  readonly partitions: { readonly request: PartitionFetch; readonly answer: PartitionAnswer }[];
}

type TopicFetch = { readonly name: string; readonly partitions: readonly PartitionFetch[] };

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
    const ahead = request.session.fetchAhead;
    // Translated batches live in reused memory, given back once the answer is written (storage/fetch-memory.ts).
    const translated = ctx.fetchMemory.forAnswer();
    const release = [() => translated.release()];
    try {
      const prepared = allowed ? await ahead.take(readableRequests(topics, maxBytes)) : undefined;
      if (prepared) release.push(prepared.release);
      let answers = await readAll(ctx, topics, maxBytes, allowed, translated, prepared?.reads);
      const found = answers.reduce((n, t) => n + t.partitions.reduce((m, p) => m + p.answer.storedBytes, 0), 0);
      if (found < Math.max(1, minBytes) && maxWaitMs > 0 && allowed) {
        if (await waitForAny(ctx, answers, maxWaitMs))
          answers = await readAll(ctx, topics, maxBytes, allowed, translated);
      }
      for (const t of answers) for (const p of t.partitions) request.countError(p.answer.errorCode);
      const writer = writeFetch(v, 0, answers);
      const toRelease = release.splice(0);
      writer.whenWritten(() => {
        for (const fn of toRelease) fn();
      });
      // Data now, and more behind it: the client is catching up, and will ask for what follows.
      ahead.prepare(nextRequests(answers, maxBytes), (r, memory) => readPartition(ctx, r, memory));
      return writer;
    } finally {
      for (const fn of release) fn();
    }
  },
};

/** A partition's read limit: its partition_max_bytes, within what the answer's budget has left (at least 1). */
const partitionLimit = (p: PartitionFetch, budget: number) => Math.min(Math.max(1, p.maxBytes), Math.max(1, budget));

/** The partitions of a request as FetchAhead keys them, each with the limit of a full budget. */
function readableRequests(topics: readonly TopicFetch[], maxBytes: number): AheadRequest[] {
  return topics.flatMap((t) =>
    t.partitions.map((p) => ({
      topic: t.name,
      partition: p.partition,
      offset: p.offset,
      limit: partitionLimit(p, maxBytes),
    })),
  );
}

/** Where the client's next Fetch will start, for each partition that returned data and has more. */
function nextRequests(answers: readonly TopicAnswer[], maxBytes: number): AheadRequest[] {
  const next: AheadRequest[] = [];
  for (const t of answers) {
    for (const { request, answer } of t.partitions) {
      const last = answer.batches?.at(-1);
      if (last === undefined) continue;
      // Kafka batch header: baseOffset at 0, lastOffsetDelta at 23.
      const offset = Number(last.readBigInt64BE(0)) + last.readInt32BE(23) + 1;
      if (offset >= answer.highWatermark) continue;
      next.push({ topic: t.name, partition: request.partition, offset, limit: partitionLimit(request, maxBytes) });
    }
  }
  return next;
}

/**
 * Reads every partition and keeps, in request order, what the answer's byte budget allows: each partition whole
 * batches up to its limit, at least its first batch while the budget is not spent, none after. Partitions are read
 * a window at a time: the next partitions whose limits fit together in what the budget has left, at once (their
 * file reads overlap), so no more than the budget is read ahead of need. `prepared` partitions (fetch-ahead.ts) were
 * read with a full budget's limit and are cut the same way.
 */
async function readAll(
  ctx: KafkaContext,
  topics: readonly TopicFetch[],
  maxBytes: number,
  allowed: boolean,
  translated: AnswerMemory,
  prepared?: ReadonlyMap<string, PartitionRead>,
): Promise<TopicAnswer[]> {
  const out: TopicAnswer[] = [];
  const readable: { topic: string; request: PartitionFetch; answer: PartitionAnswer }[] = [];
  for (const t of topics) {
    const partitions: TopicAnswer['partitions'] = [];
    for (const p of t.partitions) {
      const answer: PartitionAnswer = {
        errorCode: 0,
        highWatermark: -1,
        logStartOffset: -1,
        batches: null,
        storedBytes: 0,
      };
      partitions.push({ request: p, answer });
      if (!allowed) answer.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
      else if (!isValidName(t.name)) answer.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      else readable.push({ topic: t.name, request: p, answer });
    }
    out.push({ name: t.name, partitions });
  }
  let budget = maxBytes;
  let first = true;
  for (let i = 0; i < readable.length; ) {
    const window = [readable[i++]!];
    let reserved = partitionLimit(window[0]!.request, budget);
    while (i < readable.length && reserved + partitionLimit(readable[i]!.request, budget) <= budget) {
      reserved += partitionLimit(readable[i]!.request, budget);
      window.push(readable[i++]!);
    }
    const reads = await Promise.all(
      window.map(
        ({ topic, request }) =>
          prepared?.get(aheadKey(topic, request.partition)) ??
          readPartition(
            ctx,
            { topic, partition: request.partition, offset: request.offset, limit: partitionLimit(request, budget) },
            translated,
          ),
      ),
    );
    for (const [j, read] of reads.entries()) {
      const { request, answer } = window[j]!;
      answer.errorCode = read.errorCode;
      answer.highWatermark = read.highWatermark;
      answer.logStartOffset = read.logStartOffset;
      // Past the budget, partitions report their offsets but no data, unless nothing was returned yet.
      if (read.batches.length === 0 || (budget <= 0 && !first)) continue;
      const limit = partitionLimit(request, budget);
      let kept = 0;
      let bytes = 0;
      while (kept < read.batches.length && (kept === 0 || bytes + read.storedSizes[kept]! <= limit)) {
        bytes += read.storedSizes[kept++]!;
      }
      answer.batches = read.batches.slice(0, kept);
      answer.storedBytes = bytes;
      budget -= bytes;
      first = false;
    }
  }
  return out;
}

/** One partition's stored batches from `offset`, at most `limit` bytes (at least one batch), translated. */
async function readPartition(ctx: KafkaContext, r: AheadRequest, translated: AnswerMemory): Promise<PartitionRead> {
  // The stored bytes are read into reused memory too, given back as soon as they are translated.
  const reads = ctx.fetchMemory.forAnswer();
  try {
    const count = await ctx.topics.partitionsFor(r.topic, false);
    if (r.partition < 0 || r.partition >= count) return failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const result = await ctx.store.read(r.topic, r.partition, r.offset, r.limit, (size) => reads.bufferOf(size));
    const storedSizes: number[] = [];
    for (let pos = 0; pos < result.batches.length; pos += storedSizes.at(-1)!) {
      storedSizes.push(LOG_OVERHEAD + result.batches.readInt32BE(pos + 8));
    }
    return {
      errorCode: 0,
      highWatermark: result.endOffset,
      logStartOffset: result.startOffset,
      batches: toKafkaBatches(result.batches, translated),
      storedSizes,
    };
  } catch (error) {
    const errorCode = kafkaErrorFor(error);
    if (errorCode !== ErrorCode.OFFSET_OUT_OF_RANGE) return failed(errorCode);
    const info = await ctx.store.describeTopic(r.topic).catch(() => undefined);
    const partition = info?.partitions[r.partition];
    return failed(errorCode, partition?.endOffset, partition?.startOffset);
  } finally {
    reads.release();
  }
}

function failed(errorCode: number, highWatermark = -1, logStartOffset = -1): PartitionRead {
  return { errorCode, highWatermark, logStartOffset, batches: [], storedSizes: [] };
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

function writeFetch(v: number, errorCode: number, answers: readonly TopicAnswer[]): KafkaWriter {
  const w = new KafkaWriter(256 + answers.reduce((n, t) => n + t.name.length + t.partitions.length * 64, 0));
  w.int32(0); // throttle_time_ms
  if (v >= 7) w.int16(errorCode).int32(0); // error_code, session_id: 0 = no fetch session
  answers.forEach((t, ti) => {
    if (ti === 0) w.int32(answers.length);
    w.string(t.name).int32(t.partitions.length);
    for (const p of t.partitions) {
      w.int32(p.request.partition).int16(p.answer.errorCode).int64(p.answer.highWatermark);
      w.int64(p.answer.highWatermark); // last_stable_offset: no transactions, every record is stable
      if (v >= 5) w.int64(p.answer.logStartOffset);
      w.int32(0); // aborted_transactions: none
      if (v >= 11) w.int32(-1); // preferred_read_replica: none
      const batches = p.answer.batches ?? [];
      w.int32(batches.reduce((n, b) => n + b.length, 0));
      // Translated batches are attached to the answer, not copied into it.
      for (const batch of batches) w.attach(batch);
    }
  });
  if (answers.length === 0) w.int32(0);
  return w;
}
