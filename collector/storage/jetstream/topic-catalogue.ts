/**
 * The topics of the JetStream backend: each topic's config (and its recorded floors, floors.ts) is one entry of
 * the KV bucket `tributary_topics`, key enc(topic). Every collector keeps the whole catalogue in memory, so that
 * `hasTopic` can be synchronous, and keeps it current through a KV watch: a topic another collector creates or
 * deletes shows up here without a restart. A name missing from the cache is read again from the bucket before it
 * is reported missing (the watch may lag a create by a moment).
 */
import { type KV, KvWatchInclude } from 'nats';
import { PartitionNotFoundError, TopicExistsError, TopicNotFoundError } from '../../../shared/errors.ts';
import type { PartitionId } from '../../../shared/record.ts';
import type { TopicConfig } from '../log-store.ts';
import type { JetStreamSession } from './connection.ts';
import { liveEntries } from './kv-entries.ts';
import { decodeName, encodeName, TOPICS_BUCKET } from './names.ts';

/** The value of a topic's KV entry. */
export interface TopicEntry {
  readonly config: TopicConfig;
  /** Per partition, the next offset as last recorded (floors.ts); absent: 0. */
  readonly floorOffsets?: readonly number[];
}

export class TopicCatalogue {
  private readonly topics = new Map<string, TopicEntry>();
  private readonly kv: KV;
  private stopWatch: (() => void) | undefined;

  /** `onDeleted` runs when a watch reports a topic deleted (by any collector), to drop what is cached about it. */
  constructor(
    private readonly session: JetStreamSession,
    private readonly onDeleted: (topic: string) => void,
  ) {
    this.kv = session.topicsKv;
  }

  /** Reads every topic of the bucket, then watches it. */
  async start(): Promise<void> {
    await this.reload();
    const watch = await this.kv.watch({ include: KvWatchInclude.UpdatesOnly });
    this.stopWatch = () => watch.stop();
    void (async () => {
      for await (const e of watch) {
        const name = decodeName(e.key);
        if (e.operation === 'PUT') this.topics.set(name, e.json<TopicEntry>());
        else {
          this.topics.delete(name);
          this.onDeleted(name);
        }
      }
    })().catch(() => undefined);
  }

  stop(): void {
    this.stopWatch?.();
  }

  async reload(): Promise<void> {
    const entries = await liveEntries(this.session.jsm, this.kv, TOPICS_BUCKET);
    this.topics.clear();
    for (const entry of entries) this.topics.set(decodeName(entry.key), entry.json<TopicEntry>());
  }

  names(): string[] {
    return [...this.topics.keys()].sort();
  }

  has(name: string): boolean {
    return this.topics.has(name);
  }

  /** Another collector may have created or deleted the topic: read it again from the bucket. */
  async refresh(name: string): Promise<TopicEntry | undefined> {
    const entry = await this.kv.get(encodeName(name));
    if (entry?.operation !== 'PUT') {
      this.topics.delete(name);
      return undefined;
    }
    const value = entry.json<TopicEntry>();
    this.topics.set(name, value);
    return value;
  }

  /** The topic's entry; TopicNotFoundError when no collector has it. */
  async get(name: string): Promise<TopicEntry> {
    const entry = this.topics.get(name) ?? (await this.refresh(name));
    if (entry === undefined) throw new TopicNotFoundError(name);
    return entry;
  }

  /** The topic's entry, checking that `partition` exists. */
  async partitionOf(name: string, partition: PartitionId): Promise<TopicEntry> {
    const entry = await this.get(name);
    if (!Number.isSafeInteger(partition) || partition < 0 || partition >= entry.config.partitions) {
      throw new PartitionNotFoundError(name, partition, entry.config.partitions);
    }
    return entry;
  }

  /** Adds the topic's entry (create-only: another collector's create of the same name wins, TopicExistsError). */
  async add(name: string, config: TopicConfig): Promise<void> {
    try {
      await this.kv.create(encodeName(name), JSON.stringify({ config } satisfies TopicEntry));
    } catch (error) {
      if (/wrong last sequence|exists/i.test((error as Error).message)) throw new TopicExistsError(name);
      throw error;
    }
    this.topics.set(name, { config });
  }

  async remove(name: string): Promise<void> {
    await this.kv.delete(encodeName(name));
    this.topics.delete(name);
  }

  /**
   * Read-modify-write of a topic's entry at the revision read (a concurrent delete or change makes it fail; the
   * caller reads again). `change` returns undefined to write nothing. Returns false when the topic is gone.
   */
  async update(name: string, change: (entry: TopicEntry) => Promise<TopicEntry | undefined>): Promise<boolean> {
    const kvEntry = await this.kv.get(encodeName(name));
    if (kvEntry?.operation !== 'PUT') return false;
    const next = await change(kvEntry.json<TopicEntry>());
    if (next === undefined) return true;
    await this.kv.update(encodeName(name), JSON.stringify(next), kvEntry.revision);
    this.topics.set(name, next);
    return true;
  }
}
