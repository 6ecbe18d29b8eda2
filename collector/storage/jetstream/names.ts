/**
 * Every name the JetStream backend gives things on the NATS server, in one place: streams, subjects, KV buckets and
 * keys. Topic and group names are validated (`[a-zA-Z0-9._-]`) before they get here.
 *
 * - A topic-partition is the stream `TRIB_<enc(topic)>_<partition>` with the single subject
 *   `tributary.log.<topic>.<partition>`. `enc` maps '_' to '_u' and '.' to '_d': injective, and the result is a
 *   legal stream name and KV key token. The partition is the subject's last token, so subjects are unambiguous
 *   even for topics with dots.
 * - Buckets: `tributary_topics` (key enc(topic)), `tributary_offsets` (key `enc(group).enc(topic).partition`),
 *   `tributary_groups` (key enc(group)).
 * - `tributary.contention.<topic>.<partition>`: core NATS, the fairness hint of fenced-append.ts (no data).
 */
import type { PartitionId } from '../../../shared/record.ts';

export const LOG_SUBJECT_PREFIX = 'tributary.log';
export const CONTENTION_SUBJECT_PREFIX = 'tributary.contention';
export const TOPICS_BUCKET = 'tributary_topics';
export const OFFSETS_BUCKET = 'tributary_offsets';
export const GROUPS_BUCKET = 'tributary_groups';
/** Every bucket this backend keeps, for the checks at start and for operators. */
export const BUCKETS: readonly string[] = [TOPICS_BUCKET, OFFSETS_BUCKET, GROUPS_BUCKET];
/** A stream name starts with this; a bucket's stream is `KV_<bucket>` (nats.js). */
export const STREAM_PREFIX = 'TRIB_';

/** '_' -> '_u', '.' -> '_d': injective, and the result is a legal stream name and KV key token. */
export function encodeName(name: string): string {
  return name.replace(/_/g, '_u').replace(/\./g, '_d');
}

export function decodeName(encoded: string): string {
  return encoded.replace(/_d|_u/g, (m) => (m === '_d' ? '.' : '_'));
}

export function streamName(topic: string, partition: PartitionId): string {
  return `${STREAM_PREFIX}${encodeName(topic)}_${partition}`;
}

export function logSubject(topic: string, partition: PartitionId): string {
  return `${LOG_SUBJECT_PREFIX}.${topic}.${partition}`;
}

export function contentionSubject(topic: string, partition: PartitionId): string {
  return `${CONTENTION_SUBJECT_PREFIX}.${topic}.${partition}`;
}

/** The stream that holds a KV bucket. */
export function bucketStream(bucket: string): string {
  return `KV_${bucket}`;
}
