/**
 * A SyslogReceiver in the test's own process, listening on an ephemeral loopback port, with the produce path
 * replaced by the test's `deliver` (the tests that look at what a receiver hands to the store, and when).
 */
import type { RecordLimits } from '../../../collector/produce/record-batches.ts';
import { NO_RECEIVER_EVENTS, type ReceiverEvents } from '../../../collector/receivers/receiver-events.ts';
import type { Deliver } from '../../../collector/syslog/ingest-queue.ts';
import { SyslogReceiver } from '../../../collector/syslog/receiver.ts';
import { silentLogger } from '../../../shared/logger.ts';

export const LIMITS: RecordLimits = { maxRecordsPerRequest: 500_000, maxLineBytes: 1024 * 1024 };

export async function startReceiver(options: {
  readonly protocol: 'tcp' | 'udp';
  readonly deliver: Deliver;
  readonly maxPendingBytes: number;
  readonly events?: ReceiverEvents;
  readonly limits?: RecordLimits;
}): Promise<SyslogReceiver> {
  const receiver = new SyslogReceiver({
    listener: {
      protocol: options.protocol,
      host: '127.0.0.1',
      port: 0,
      topic: 't',
      maxMessageBytes: 4096,
      maxConnections: 10,
      maxPendingBytes: options.maxPendingBytes,
    },
    limits: options.limits ?? LIMITS,
    deliver: options.deliver,
    events: options.events ?? NO_RECEIVER_EVENTS,
    logger: silentLogger(),
  });
  await receiver.start();
  return receiver;
}
