/**
 * Appending to a partition's stream when several collectors append to it at once.
 *
 * Why two collectors cannot both claim an offset range
 * - Each collector caches per partition (lastSeq, nextOffset) and publishes with `expect.lastSequence = lastSeq`.
 *   The stream leader applies publishes one at a time and rejects a publish whose expectation is stale ("wrong last
 *   sequence"). So of two collectors that both believe the next offset is N, exactly one lands at lastSeq+1 with
 *   base N; the other is rejected, reloads (lastSeq, nextOffset) from the stream's last message, re-stamps its
 *   batches and retries (bounded). Offsets are decided by the stream's total order, not by any collector's clock.
 * - A publish whose ack is lost (leader failover, timeout) is retried with the same `msgID` and the same expected
 *   sequence: the server's duplicate window (checked before the expected-sequence check) answers with the original
 *   sequence instead of storing it twice. Beyond the retry budget the append rejects; the agent then retries the
 *   request and the batch may be stored twice (at-least-once, as over HTTP).
 * - Fairness: a collector with appends queued publishes its next one the moment the previous is acknowledged, while
 *   a loser needs round trips to reload the tail, so under saturation the loser would lose every race (measured:
 *   an append failed after 50 lost races). A loser therefore announces it on core NATS
 *   (`tributary.contention.<topic>.<partition>`, best effort, no data); every other collector then waits a random
 *   few milliseconds before each publish to that partition for a short while, which opens windows for the loser.
 *   Only throughput under contention depends on it, never correctness.
 *
 * Size: an append is one NATS message, so it cannot exceed the servers' `max_payload`; a bigger one is refused
 * (413) with a message naming `max_payload` and `limits.max_body_bytes` (the rule: docs/scaling.md, "Message size").
 *
 * Logged: an append that waited on a stream without a leader (an election after a server loss) is logged once it
 * lands, with how long it stalled and the stream's name.
 */
import { headers, type Subscription } from 'nats';
import { stampBaseOffset, type ValidatedBatch } from '../../../shared/batch-codec.ts';
import { InvalidArgumentError, LimitExceededError, UnavailableError } from '../../../shared/errors.ts';
import type { Logger } from '../../../shared/logger.ts';
import { currentServer } from '../../../shared/nats-connection.ts';
import type { PartitionId } from '../../../shared/record.ts';
import type { AppendResult, StorageEvents } from '../log-store.ts';
import type { JetStreamSession } from './connection.ts';
import { CONTENTION_SUBJECT_PREFIX, contentionSubject, logSubject, streamName } from './names.ts';
import { H_BASE, H_MAXTS, H_NEXT, headerNumber, type PartitionStreams } from './partition-stream.ts';
import type { TopicEntry } from './topic-catalogue.ts';

/** How long a contention notice slows this collector's publishes to that partition, and by how much at most. */
const CONTENTION_WINDOW_MS = 250;
const CONTENTION_YIELD_MS = 20;
/** Lost races against other collectors are retried with jitter; beyond this the append rejects (the agent retries). */
const MAX_PUBLISH_ATTEMPTS = 50;
/** An append that waited longer than this on a stream without an answer is logged as stalled. */
const STALL_LOG_MS = 1_000;

export interface FencedAppenderOptions {
  readonly session: JetStreamSession;
  readonly streams: PartitionStreams;
  readonly events: StorageEvents;
  readonly logger: Logger;
  /** Unique per collector process: the prefix of its msg-ids, and its signature on contention notices. */
  readonly idPrefix: string;
  /** How long one publish waits for its ack before it is sent again (same msg-id). */
  readonly publishTimeoutMs: number;
  /** Called after every append that landed (floors.ts schedules its record). */
  readonly onAppended: (topic: string, entry: TopicEntry) => void;
}

function isWrongLastSequence(error: unknown): boolean {
  return error instanceof Error && /wrong last sequence/i.test(error.message);
}

export class FencedAppender {
  /** Appends to one partition from this collector are serialized (call order), as the contract requires. */
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Per `topic/partition`: until when another collector's lost races ask this one to leave gaps. */
  private readonly yieldUntil = new Map<string, number>();
  private readonly contentionSub: Subscription;
  private msgCounter = 0;

  constructor(private readonly o: FencedAppenderOptions) {
    const prefix = `${CONTENTION_SUBJECT_PREFIX}.`;
    this.contentionSub = o.session.nc.subscribe(`${prefix}>`, {
      callback: (error, msg) => {
        if (error || Buffer.from(msg.data).toString() === o.idPrefix) return;
        // The partition is the last token; the topic, which may contain dots, is the rest.
        const rest = msg.subject.slice(prefix.length);
        const dot = rest.lastIndexOf('.');
        this.yieldUntil.set(`${rest.slice(0, dot)}/${rest.slice(dot + 1)}`, Date.now() + CONTENTION_WINDOW_MS);
      },
    });
  }

  /** Queues the append behind this collector's earlier appends to the same partition. */
  append(
    topic: string,
    partition: PartitionId,
    entry: TopicEntry,
    batches: readonly ValidatedBatch[],
  ): Promise<AppendResult> {
    const key = `${topic}/${partition}`;
    const previous = this.queues.get(key) ?? Promise.resolve();
    const run = () => this.appendNow(topic, partition, entry, batches);
    const next = previous.then(run, run);
    const settled = next.catch(() => undefined);
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    return next;
  }

  /** Resolves once every queued append has settled; stops listening for contention. */
  async close(): Promise<void> {
    this.contentionSub.unsubscribe();
    await Promise.allSettled([...this.queues.values()]);
  }

  private async appendNow(
    topic: string,
    partition: PartitionId,
    entry: TopicEntry,
    batches: readonly ValidatedBatch[],
  ): Promise<AppendResult> {
    if (batches.length === 0) throw new InvalidArgumentError('an append needs at least one batch');
    const { session, streams } = this.o;
    let recordCount = 0;
    let batchMaxTs = 0;
    let bytes = 0;
    // The CRC was checked by the caller (ValidatedBatch: splitBatches, or encoded in this process).
    for (const { header } of batches) {
      recordCount += header.recordCount;
      batchMaxTs = Math.max(batchMaxTs, header.maxTimestamp);
      bytes += header.size;
    }
    const buffers = batches.map((b) => b.bytes);
    const payloadLimit = session.nc.info?.max_payload ?? 1024 * 1024;
    if (bytes > payloadLimit) {
      throw new LimitExceededError(
        `the records of this request for ${topic}/${partition} take ${bytes} bytes, above the NATS servers' ` +
          `max_payload of ${payloadLimit} bytes (one append is one NATS message): send smaller requests ` +
          '(agent: collector.max_request_bytes), or raise max_payload on the servers and limits.max_body_bytes ' +
          'with it',
        'body',
      );
    }
    const resendID = producerMessageId(batches);
    const msgID = resendID ?? `${this.o.idPrefix}-${++this.msgCounter}`;
    let tail = streams.cachedTail(topic, partition) ?? (await streams.loadTail(topic, partition, entry));
    /** When publishes started going unanswered (no leader), for the stall log. */
    let stalledSince: number | undefined;
    for (let attempt = 1; ; attempt++) {
      const attemptAt = Date.now();
      let offset = tail.nextOffset;
      for (const { header, bytes: batch } of batches) {
        stampBaseOffset(batch, 0, offset);
        offset += header.recordCount;
      }
      const maxTs = Math.max(tail.maxTs, batchMaxTs);
      const h = headers();
      h.set(H_BASE, String(tail.nextOffset));
      h.set(H_NEXT, String(offset));
      h.set(H_MAXTS, String(maxTs));
      const payload = buffers.length === 1 ? (buffers[0] as Buffer) : Buffer.concat(buffers);
      if ((this.yieldUntil.get(`${topic}/${partition}`) ?? 0) > Date.now()) {
        await new Promise((r) => setTimeout(r, Math.random() * CONTENTION_YIELD_MS));
      }
      try {
        const ack = await session.js.publish(logSubject(topic, partition), payload, {
          msgID,
          timeout: this.o.publishTimeoutMs,
          expect: { lastSequence: tail.lastSeq },
          headers: h,
        });
        this.logStall(topic, partition, stalledSince, attempt);
        if (ack.duplicate) {
          // Our earlier attempt was stored: its offsets are in the stored message, not necessarily in `tail`.
          const stored = await streams.getMsg(topic, partition, ack.seq);
          await streams.loadTail(topic, partition, entry);
          return {
            baseOffset: headerNumber(stored, H_BASE),
            lastOffset: headerNumber(stored, H_NEXT) - 1,
            recordCount,
            // Not our own retry but a producer's resend, possibly through another collector or after a restart.
            ...(resendID && attempt === 1 ? { duplicateBatches: batches.length } : {}),
          };
        }
        const baseOffset = tail.nextOffset;
        streams.setTail(topic, partition, { lastSeq: ack.seq, nextOffset: offset, maxTs });
        this.o.onAppended(topic, entry);
        this.o.events.appended?.({
          topic,
          partition,
          baseOffset,
          lastOffset: offset - 1,
          recordCount,
          bytes,
          batches: buffers,
        });
        return { baseOffset, lastOffset: offset - 1, recordCount };
      } catch (error) {
        if (attempt >= MAX_PUBLISH_ATTEMPTS) {
          throw new UnavailableError(
            `append to ${topic}/${partition} (stream ${streamName(topic, partition)} on ${session.servers}) ` +
              `failed after ${attempt} attempts: ${(error as Error).message}; retry`,
            { cause: error },
          );
        }
        // Another collector appended first (wrong last sequence): reload the tail, re-stamp and retry; jitter breaks
        // the lockstep of collectors that keep losing the same race to each other. Anything else (no answer: the
        // leader died; 503 no responders: the stream is electing one): send the same publish again, as it is; if
        // the first one was stored, the duplicate window answers with its sequence, and if the expectation has
        // gone stale meanwhile the retry says "wrong last sequence". Reloading the tail there would only wait on
        // the same election (a stream info request hangs until its timeout while the stream has no leader).
        if (isWrongLastSequence(error)) {
          try {
            session.nc.publish(contentionSubject(topic, partition), this.o.idPrefix);
          } catch {
            // a hint only: a closed or reconnecting connection must not fail the append
          }
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(10, attempt)));
          try {
            tail = await streams.loadTail(topic, partition, entry);
          } catch {
            // the cluster may be electing a leader; the next attempt tells
          }
        } else {
          stalledSince ??= attemptAt;
          await new Promise((r) => setTimeout(r, Math.min(100 * attempt, 1000)));
        }
      }
    }
  }

  private logStall(topic: string, partition: PartitionId, since: number | undefined, attempts: number): void {
    if (since === undefined) return;
    const stalledMs = Date.now() - since;
    if (stalledMs < STALL_LOG_MS) return;
    this.o.logger.warn(
      {
        topic,
        partition,
        stream: streamName(topic, partition),
        stalledMs,
        attempts,
        nats: currentServer(this.o.session.nc),
      },
      'append stalled: the stream answered nothing (electing a leader after a server loss?) and then took it',
    );
  }
}

/**
 * The msg-id of an append whose batches all carry one producer's stamps (BatchProducer): the same for the same
 * batches whichever collector appends them, so the stream's duplicate window (`duplicate_window`, partition-stream.ts)
 * stores a producer's resend once even when the first copy went through a collector that was killed before it
 * answered. Other appends get a per-collector id (undefined here).
 */
function producerMessageId(batches: readonly ValidatedBatch[]): string | undefined {
  const id = batches[0]!.header.producer?.id;
  if (id === undefined || batches.some((b) => b.header.producer?.id !== id)) return undefined;
  return `p${id}-${batches[0]!.header.producer!.sequence}-${batches.at(-1)!.header.producer!.sequence}-${batches.length}`;
}
