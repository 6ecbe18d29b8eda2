/**
 * The idempotent producer's state (KIP-98), kept in memory: InitProducerId hands out producer ids, and each
 * (producer id, topic, partition) remembers its epoch, the next expected sequence and the last five batches it
 * appended, so that a retried batch is recognised and answered with its original offset instead of being stored
 * twice, and a gap is refused with OUT_OF_ORDER_SEQUENCE_NUMBER (the client then retries in order).
 *
 * Not persisted: after a collector restart, or on another collector (JetStream), a producer id is unknown and its
 * first batch per partition is accepted whatever its sequence, so a batch retried across a restart may be stored
 * twice (at-least-once; never lost). Producer ids are the clock in microseconds plus a counter, so ids handed out by
 * different collectors or before a restart do not collide in practice.
 */
import { ErrorCode } from './protocol.ts';

interface AppendedBatch {
  readonly baseSequence: number;
  readonly recordCount: number;
  readonly baseOffset: number;
}

interface PartitionState {
  epoch: number;
  nextSequence: number;
  readonly recent: AppendedBatch[];
}

export type SequenceCheck =
  | { readonly kind: 'append' }
  | { readonly kind: 'duplicate'; readonly baseOffset: number }
  | { readonly kind: 'error'; readonly errorCode: number; readonly message: string };

const RECENT = 5;
const MAX_PRODUCERS = 100_000;

export class ProducerRegistry {
  private lastId = 0;
  /** Insertion-ordered: the oldest producers are dropped past MAX_PRODUCERS (they are then unknown, see above). */
  private readonly states = new Map<string, PartitionState>();

  constructor(private readonly now: () => number = Date.now) {}

  newProducerId(): number {
    this.lastId = Math.max(this.lastId + 1, this.now() * 1000);
    return this.lastId;
  }

  /** What to do with a batch of `count` records from `producerId` (-1: not idempotent, always appended). */
  check(producerId: number, epoch: number, baseSequence: number, key: string): SequenceCheck {
    if (producerId < 0) return { kind: 'append' };
    const state = this.states.get(`${producerId}\0${key}`);
    if (state === undefined || epoch > state.epoch) return { kind: 'append' };
    if (epoch < state.epoch) {
      return {
        kind: 'error',
        errorCode: ErrorCode.INVALID_PRODUCER_EPOCH,
        message: `producer epoch ${epoch} is older than ${state.epoch}`,
      };
    }
    if (baseSequence === state.nextSequence) return { kind: 'append' };
    const duplicate = state.recent.find((b) => b.baseSequence === baseSequence);
    if (duplicate) return { kind: 'duplicate', baseOffset: duplicate.baseOffset };
    return {
      kind: 'error',
      errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
      message: `expected sequence ${state.nextSequence}, got ${baseSequence}`,
    };
  }

  /** Records an appended batch (call only after `check` said append and the append succeeded). */
  appended(
    producerId: number,
    epoch: number,
    baseSequence: number,
    recordCount: number,
    baseOffset: number,
    key: string,
  ) {
    if (producerId < 0) return;
    const id = `${producerId}\0${key}`;
    let state = this.states.get(id);
    if (state === undefined || epoch > state.epoch) {
      state = { epoch, nextSequence: 0, recent: [] };
      this.states.delete(id);
      this.states.set(id, state);
      if (this.states.size > MAX_PRODUCERS) this.states.delete(this.states.keys().next().value!);
    }
    state.nextSequence = (baseSequence + recordCount) % 2 ** 31;
    state.recent.push({ baseSequence, recordCount, baseOffset });
    if (state.recent.length > RECENT) state.recent.shift();
  }
}
