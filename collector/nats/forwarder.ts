/**
 * Live forwarding: every batch the store appends is published, as stored (base offset stamped, the batch codec's
 * bytes), on `tributary.records.<topic>.<partition>` — one NATS message per batch, never one per record.
 *
 * Guarantee: a live feed, at-most-once. The publish happens after the append is durable, on core NATS with no
 * acknowledgement: a subscriber that is disconnected, slow (its pending limit overflows) or not yet subscribed
 * misses batches, and nothing resends them. The log is the durable path: a subscriber that sees a gap in offsets
 * (a batch's base offset above the last offset it saw + 1) fetches the missing range from the collector by offset.
 *
 * Topic names are validated by shared/names.ts before they reach storage ([a-zA-Z0-9._-]); a '.' in a topic name
 * becomes a subject token separator, so subscribers should match `tributary.records.<topic>.>` only for topics
 * without dots, or subscribe to `tributary.records.>` and read the topic from the header `Tributary-Topic`.
 */
import { headers, type NatsConnection } from 'nats';
import type { AppendEvent, StorageEvents } from '../storage/log-store.ts';

export const RECORDS_SUBJECT_PREFIX = 'tributary.records';

export function recordsSubject(topic: string, partition: number, prefix = RECORDS_SUBJECT_PREFIX): string {
  return `${prefix}.${topic}.${partition}`;
}

export interface ForwarderOptions {
  readonly connection: NatsConnection;
  readonly subjectPrefix?: string;
  /** Called when a publish throws (connection closed); forwarding never fails an append. */
  readonly onError?: (error: Error) => void;
}

/** A StorageEvents sink to compose with the metrics sink. */
export function createForwarder(options: ForwarderOptions): Required<Pick<StorageEvents, 'appended'>> {
  const prefix = options.subjectPrefix ?? RECORDS_SUBJECT_PREFIX;
  return {
    appended(event: AppendEvent): void {
      const subject = recordsSubject(event.topic, event.partition, prefix);
      try {
        for (const batch of event.batches) {
          const h = headers();
          h.set('Tributary-Topic', event.topic);
          h.set('Tributary-Partition', String(event.partition));
          options.connection.publish(subject, batch, { headers: h });
        }
      } catch (error) {
        options.onError?.(error as Error);
      }
    },
  };
}

/** Every storage event, as a record so that an event added to StorageEvents and not here fails the type check. */
const STORAGE_EVENTS: Record<keyof StorageEvents, true> = {
  appended: true,
  duplicatesSkipped: true,
  fsynced: true,
  segmentRolled: true,
  segmentsDeleted: true,
  recoveryTruncated: true,
  corruptionDetected: true,
};

/** Both sinks receive every event; a throwing listener never stops the other. */
export function composeEvents(...sinks: StorageEvents[]): StorageEvents {
  const out: StorageEvents = {};
  const keys = Object.keys(STORAGE_EVENTS) as (keyof StorageEvents)[];
  for (const key of keys) {
    const fns = sinks.map((s) => s[key]).filter((f) => f !== undefined) as ((...args: unknown[]) => void)[];
    if (fns.length === 0) continue;
    (out as Record<string, unknown>)[key] = (...args: unknown[]) => {
      for (const fn of fns) {
        try {
          fn(...args);
        } catch {
          // a listener's failure is its own; the append already succeeded
        }
      }
    };
  }
  return out;
}
