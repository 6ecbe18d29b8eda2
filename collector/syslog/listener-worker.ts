/**
 * The worker thread of one syslog listener (listener-thread.ts starts it): its sockets, framing, parsing, records and
 * batch encoding run here, so the collector's main thread only appends what arrives.
 *
 * It runs an ordinary SyslogReceiver whose `deliver` hands the batches its queues encoded to the main thread
 * (transferred, not copied), resolving when the main thread reports them durable or
 * rejecting with its error (the receiver's IngestQueue then retries with the socket paused, as it would in-process).
 * Receiver events are added up here and sent with each delivery and every EVENTS_EVERY_MS, not one message each.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../../shared/logger.ts';
import type { ReceiverErrorKind, ReceiverEvents } from '../receivers/receiver-events.ts';
import type { EventCounts, ToListener, ToWorker, WorkerStart } from './listener-thread.ts';
import { SyslogReceiver } from './receiver.ts';

const EVENTS_EVERY_MS = 100;

const port = parentPort!;
const start = workerData as WorkerStart;
const post = (message: ToListener, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

const noCounts = (): EventCounts => ({ received: 0, bytes: 0, stored: 0, opened: 0, closed: 0, errors: {} });
let counts = noCounts();
let countsPending = false;
const events: ReceiverEvents = {
  received(messages, bytes) {
    counts.received += messages;
    counts.bytes += bytes;
    countsPending = true;
  },
  stored(messages) {
    counts.stored += messages;
    countsPending = true;
  },
  error(kind: ReceiverErrorKind, count = 1) {
    counts.errors[kind] = (counts.errors[kind] ?? 0) + count;
    countsPending = true;
  },
  connectionOpened() {
    counts.opened++;
    sendEvents();
  },
  connectionClosed() {
    counts.closed++;
    sendEvents();
  },
};
function sendEvents(): void {
  if (!countsPending && counts.opened === 0 && counts.closed === 0) return;
  post({ type: 'events', counts });
  counts = noCounts();
  countsPending = false;
}
setInterval(sendEvents, EVENTS_EVERY_MS).unref();

// Lines logged here are re-logged by the main thread's logger (its destination, its name).
const logger = createLogger({
  level: start.logLevel,
  name: 'syslog',
  destination: { write: (line: string) => post({ type: 'log', line }) },
});

let nextDelivery = 0;
const deliveries = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();

const receiver = new SyslogReceiver({
  listener: start.listener,
  events,
  logger,
  limits: start.limits,
  deliver: (produced) => {
    // A BatchBuilder's batch has a buffer of its own (never Buffer's shared pool), transferred whole.
    const batches = produced.map(({ bytes, key }) => ({
      bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      key,
    }));
    const id = nextDelivery++;
    sendEvents(); // what was received is counted before what it becomes stored
    return new Promise<void>((resolve, reject) => {
      deliveries.set(id, { resolve, reject });
      post(
        { type: 'deliver', id, batches },
        batches.map((b) => b.bytes.buffer as ArrayBuffer),
      );
    });
  },
});

port.on('message', (message: ToWorker) => {
  if (message.type === 'delivered') {
    const waiting = deliveries.get(message.id);
    deliveries.delete(message.id);
    if (message.error === undefined) waiting?.resolve();
    else waiting?.reject(new Error(message.error));
  } else if (message.type === 'close') {
    void receiver.close(message.deadlineMs).finally(() => {
      sendEvents();
      post({ type: 'closed' });
    });
  }
});

receiver.start().then(
  () => post({ type: 'listening', port: receiver.port }),
  (error: Error) => post({ type: 'failed', message: error.message }),
);
