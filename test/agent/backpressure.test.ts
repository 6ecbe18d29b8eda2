/**
 * The bound on unacknowledged bytes (agent/backpressure.ts): readers wait while it is full and all wake once an
 * acknowledgement makes room; a release never drives the count below zero.
 */
import test from 'ava';
import { UnackedBytes } from '../../agent/backpressure.ts';

/** Whether `promise` settled within a few turns of the event loop. */
async function settled(promise: Promise<void>): Promise<boolean> {
  let done = false;
  void promise.then(() => {
    done = true;
  });
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return done;
}

test('backpressure - full at the limit; waiting readers all wake when a release makes room, not before', async (t) => {
  const bound = new UnackedBytes({ limit: 1000 });
  t.true(await settled(bound.whenRoom()), 'room at once while below the limit');
  bound.add(600);
  t.false(bound.full);
  bound.add(600); // one chunk may overshoot: readers check before reading, not per byte
  t.true(bound.full);
  t.is(bound.bytes, 1200);
  const readers = [bound.whenRoom(), bound.whenRoom(), bound.whenRoom()];
  bound.release(100); // 1100: still full
  t.deepEqual(await Promise.all(readers.map(settled)), [false, false, false], 'still full: nobody wakes');
  bound.release(200); // 900: room
  t.deepEqual(await Promise.all(readers.map(settled)), [true, true, true], 'every waiting reader wakes');
  t.false(bound.full);
});

test('backpressure - a release larger than what is held (a rejected batch counted twice) stops at zero', (t) => {
  const bound = new UnackedBytes({ limit: 10 });
  bound.add(4);
  bound.release(9);
  t.is(bound.bytes, 0);
  bound.add(10);
  t.true(bound.full, 'the count restarts from zero, not from below it');
});
