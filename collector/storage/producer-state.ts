/**
 * What one partition knows of the producers that stamp their batches (BatchProducer: an agent's run id and its
 * batch numbers), so that a batch stored once is not stored again when its producer sends it a second time because
 * the answer never reached it — the collector was killed after the fsync and before the reply, or the reply was lost
 * on the network. Kafka's idempotent producer, reduced to what our producers need:
 *
 * - A producer sends its batches in sequence order and resends a request whole, never a later batch before an
 *   earlier one is acknowledged or given up (agent/ship/shipper.ts: one request in flight per topic). So a batch
 *   whose sequence is at or below the highest this partition has stored from that producer was stored already:
 *   `duplicateOf` answers with its offsets when they are among the last RECENT_BATCHES, else with `undefined`
 *   offsets (stored, but too long ago to say where).
 * - The state is rebuilt from the tail of the log when a partition opens (the producer fields are in the stored
 *   batches), so it outlives a collector crash; nothing else is written for it.
 * - Bounded: MAX_PRODUCERS producers per partition, least recently seen forgotten first. A forgotten producer's
 *   resend is stored again — the at-least-once of a store without this state, never a loss.
 */
import type { BatchHeader } from '../../shared/batch-codec.ts';
import type { Offset } from '../../shared/record.ts';

/** Producers remembered per partition (an agent restart is a new producer; old ones age out). */
const MAX_PRODUCERS = 1024;
/** Batches per producer whose offsets are remembered for the answer to a resend. */
const RECENT_BATCHES = 64;

/** A batch stored earlier: where it is, when still known. */
export interface StoredDuplicate {
  readonly baseOffset: Offset | undefined;
  readonly lastOffset: Offset | undefined;
}

class ProducerEntry {
  highestSequence = -1;
  /**
   * Ring of the last batches (sequence, base offset, last offset), grown from 4 to RECENT_BATCHES as the producer
   * sends more: a producer seen for a few batches (an agent that restarted soon after) costs little.
   */
  private ring = new Float64Array(4 * 3);
  private next = 0;
  private filled = 0;

  private get capacity(): number {
    return this.ring.length / 3;
  }

  record(sequence: number, baseOffset: Offset, lastOffset: Offset): void {
    if (sequence > this.highestSequence) this.highestSequence = sequence;
    if (this.filled === this.capacity && this.capacity < RECENT_BATCHES) this.grow();
    const at = this.next * 3;
    this.ring[at] = sequence;
    this.ring[at + 1] = baseOffset;
    this.ring[at + 2] = lastOffset;
    this.next = (this.next + 1) % this.capacity;
    this.filled = Math.min(this.filled + 1, this.capacity);
  }

  find(sequence: number): StoredDuplicate {
    // Newest first: a resend is nearly always of the last request.
    const capacity = this.capacity;
    for (let i = 1; i <= this.filled; i++) {
      const at = ((this.next - i + capacity) % capacity) * 3;
      if (this.ring[at] === sequence) return { baseOffset: this.ring[at + 1]!, lastOffset: this.ring[at + 2]! };
    }
    return { baseOffset: undefined, lastOffset: undefined };
  }

  /** Doubles the ring, oldest entry first (only when full, so the oldest is at `next`). */
  private grow(): void {
    const capacity = this.capacity;
    const grown = new Float64Array(capacity * 2 * 3);
    for (let i = 0; i < capacity; i++) {
      const from = ((this.next + i) % capacity) * 3;
      grown.set(this.ring.subarray(from, from + 3), i * 3);
    }
    this.ring = grown;
    this.next = capacity;
  }
}

export class ProducerState {
  /** Map order is recency order: a producer seen again moves to the end, the first is the one to forget. */
  private readonly producers = new Map<number, ProducerEntry>();

  /** The stored copy of this batch when its producer already sent it, else undefined (a batch to append). */
  duplicateOf(header: BatchHeader): StoredDuplicate | undefined {
    const producer = header.producer;
    if (!producer) return undefined;
    const entry = this.producers.get(producer.id);
    if (!entry || producer.sequence > entry.highestSequence) return undefined;
    return entry.find(producer.sequence);
  }

  /** Notes a batch that is now stored, with the offsets it was given. */
  stored(header: BatchHeader): void {
    const producer = header.producer;
    if (!producer) return;
    let entry = this.producers.get(producer.id);
    if (entry) {
      this.producers.delete(producer.id);
    } else {
      entry = new ProducerEntry();
      if (this.producers.size >= MAX_PRODUCERS) this.producers.delete(this.producers.keys().next().value!);
    }
    this.producers.set(producer.id, entry);
    entry.record(producer.sequence, header.baseOffset, header.lastOffset);
  }
}
