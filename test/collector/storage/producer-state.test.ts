/**
 * The producer state of one partition (collector/storage/producer-state.ts), alone: which batches count as resends,
 * which offsets a resend is answered with, and its bounds.
 */
import test from 'ava';
import { ProducerState } from '../../../collector/storage/producer-state.ts';
import type { BatchHeader } from '../../../shared/batch-codec.ts';

/** The header of a stored one-record batch from `producer` at `offset`. */
function header(producer: number, sequence: number, offset: number): BatchHeader {
  return {
    baseOffset: offset,
    lastOffset: offset,
    size: 60,
    magic: 1,
    crc: 0,
    attributes: 0x10,
    compression: 'none',
    recordCount: 1,
    firstTimestamp: 0,
    maxTimestamp: 0,
    producer: { id: producer, sequence },
  };
}

test('producer state - the last 64 batches are answered with their offsets, older resends without', (t) => {
  const state = new ProducerState();
  for (let sequence = 0; sequence < 100; sequence++) state.stored(header(1, sequence, 1000 + sequence));
  for (const sequence of [99, 70, 36]) {
    t.deepEqual(state.duplicateOf(header(1, sequence, 0)), {
      baseOffset: 1000 + sequence,
      lastOffset: 1000 + sequence,
    });
  }
  // Stored (below the highest sequence), but out of the window: a resend all the same, its place unknown.
  t.deepEqual(state.duplicateOf(header(1, 35, 0)), { baseOffset: undefined, lastOffset: undefined });
  t.deepEqual(state.duplicateOf(header(1, 0, 0)), { baseOffset: undefined, lastOffset: undefined });
  t.is(state.duplicateOf(header(1, 100, 0)), undefined, 'the next sequence is new');
  t.is(state.duplicateOf(header(2, 5, 0)), undefined, 'another producer is its own');
  // A producer of a few batches (its ring grows from 4 entries): each is found with its own offsets.
  for (let sequence = 0; sequence < 6; sequence++) state.stored(header(3, sequence, 2000 + sequence));
  for (let sequence = 0; sequence < 6; sequence++) {
    t.deepEqual(state.duplicateOf(header(3, sequence, 0)), {
      baseOffset: 2000 + sequence,
      lastOffset: 2000 + sequence,
    });
  }
  const { producer: _producer, ...unstamped } = header(1, 5, 0);
  t.is(state.duplicateOf(unstamped), undefined, 'a batch without a producer is never a resend');
});

test('producer state - at most 1,024 producers: the least recently seen is forgotten, and its resend stored again', (t) => {
  const state = new ProducerState();
  for (let producer = 0; producer < 1024; producer++) state.stored(header(producer, 0, producer));
  state.stored(header(0, 1, 5000)); // producer 0 seen again: now the most recent
  state.stored(header(5000, 0, 5001)); // one more producer: producer 1, the least recently seen, goes
  t.truthy(state.duplicateOf(header(0, 1, 0)));
  t.is(state.duplicateOf(header(1, 0, 0)), undefined);
  t.truthy(state.duplicateOf(header(2, 0, 0)));
  t.truthy(state.duplicateOf(header(5000, 0, 0)));
});
