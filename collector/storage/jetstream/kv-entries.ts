/**
 * Listing what a JetStream KV bucket holds, for the topic, offset and group buckets.
 *
 * Why not nats.js's `kv.keys()`: its result is a QueuedIterator fed by an ordered consumer, and when the consumer
 * stops (no more pending keys) while the caller is still awaiting something inside its `for await` loop, the keys
 * that arrived meanwhile are dropped (QueuedIteratorImpl.iterate ends on `done` without draining `yields`). A
 * loop that does `await kv.get(key)` per key therefore saw 1 of 2 offsets committed just before.
 *
 * Here the keys come from the bucket's stream state: `STREAM.INFO` with `subjects_filter` is answered by the
 * stream leader from its current state (paged by nats.js), so every acknowledged write is listed. A deleted or
 * purged key is still a subject of the stream (its marker is its last message): each key is read and only live
 * entries (`PUT`) are returned.
 */
import { type JetStreamManager, type KV, type KvEntry, NatsError } from 'nats';
import { UnavailableError } from '../../../shared/errors.ts';
import { bucketStream } from './names.ts';

const GETS_IN_FLIGHT = 64;

/** The live entries of `bucket` whose keys match `filter` (a NATS subject pattern over keys; `>` for all). */
export async function liveEntries(jsm: JetStreamManager, kv: KV, bucket: string, filter = '>'): Promise<KvEntry[]> {
  const prefix = `$KV.${bucket}.`;
  const info = await jsm.streams.info(bucketStream(bucket), { subjects_filter: `${prefix}${filter}` });
  const keys = Object.keys(info.state.subjects ?? {})
    .filter((subject) => subject.startsWith(prefix))
    .map((subject) => subject.slice(prefix.length))
    .sort();
  const live: KvEntry[] = [];
  // A bounded number of gets in flight: a bucket may hold many thousands of keys.
  for (let i = 0; i < keys.length; i += GETS_IN_FLIGHT) {
    const entries = await Promise.all(keys.slice(i, i + GETS_IN_FLIGHT).map((key) => kv.get(key)));
    for (const e of entries) if (e !== null && e.operation === 'PUT') live.push(e);
  }
  return live;
}

/** What nats.js's bucket implements but its `KV` interface does not declare. */
interface PurgeableKV extends KV {
  purgeDeletes(olderMillis?: number): Promise<unknown>;
}

/**
 * Purges the delete markers of `kv` older than `olderThanMs` (newer ones are kept, as markers, so collectors still
 * watching learn of the deletion). A deleted key stays a subject of the bucket's stream, and so in every
 * liveEntries listing, until its marker is purged.
 */
export async function purgeDeleteMarkers(kv: KV, olderThanMs: number): Promise<void> {
  await (kv as PurgeableKV).purgeDeletes(olderThanMs);
}

/** Where a store keeps its keys: one KV bucket, and the manager that lists it (liveEntries). */
export interface KvBucketOptions {
  readonly kv: KV;
  readonly jsm: JetStreamManager;
  /** "NATS at nats://…", for errors that say where the bucket is. */
  readonly servers: string;
}

/** What the offset and membership stores share: their bucket, listing it, and purging its old delete markers. */
export abstract class KvBucketStore {
  protected readonly kv: KV;
  private readonly jsm: JetStreamManager;
  private readonly servers: string;
  /** The bucket's name, as `liveEntries` needs it. */
  protected abstract readonly bucket: string;

  constructor(options: KvBucketOptions) {
    this.kv = options.kv;
    this.jsm = options.jsm;
    this.servers = options.servers;
  }

  /** The bucket's live entries whose keys match `filter`. */
  protected async entries(filter = '>'): Promise<KvEntry[]> {
    return await this.naming(liveEntries(this.jsm, this.kv, this.bucket, filter));
  }

  /**
   * A failure of NATS (no answer, no leader) as an UnavailableError that names the bucket and the servers, so a log
   * line says where the problem is ("KV bucket tributary_groups on NATS at …: TIMEOUT"); other errors as they came.
   */
  protected async naming<T>(operation: Promise<T>): Promise<T> {
    try {
      return await operation;
    } catch (error) {
      if (error instanceof NatsError) {
        throw new UnavailableError(`KV bucket ${this.bucket} on ${this.servers}: ${error.message}`, { cause: error });
      }
      throw error;
    }
  }

  /** Purges delete markers older than `olderThanMs`. */
  async purgeDeleteMarkers(olderThanMs: number): Promise<void> {
    await purgeDeleteMarkers(this.kv, olderThanMs);
  }
}
