/**
 * Committed consumer offsets in a JetStream KV bucket (history 1, replicas as the store). One key per
 * (group, topic, partition): `enc(group).enc(topic).partition`, value JSON {offset, metadata, commitTimestamp}.
 * Updates are revision-checked (create when absent, update at the revision read): two collectors committing the
 * same key serialize on the bucket's stream instead of silently interleaving; the retry re-reads, then writes.
 */
import { assertValidName } from '../../../shared/names.ts';
import type { CommitRequest, CommittedOffset, OffsetStore } from '../log-store.ts';
import { decodeName, encodeName, OFFSETS_BUCKET } from './names.ts';
import { type KvBucketOptions, KvBucketStore } from './kv-entries.ts';

/** Another collector committing the same key at the same moment; a few rounds settle it. */
const MAX_ATTEMPTS = 10;

interface StoredOffset {
  offset: number;
  metadata: string;
  commitTimestamp: number;
}

/** `kv`: the `tributary_offsets` bucket. */
export type JetStreamOffsetStoreOptions = KvBucketOptions;

export class JetStreamOffsetStore extends KvBucketStore implements OffsetStore {
  protected readonly bucket = OFFSETS_BUCKET;

  async commit(group: string, offsets: readonly CommitRequest[]): Promise<void> {
    assertValidName('group', group);
    for (const c of offsets) {
      assertValidName('topic', c.topic);
      const key = `${encodeName(group)}.${encodeName(c.topic)}.${c.partition}`;
      const value = JSON.stringify({ offset: c.offset, metadata: c.metadata ?? '', commitTimestamp: Date.now() });
      for (let attempt = 1; ; attempt++) {
        const current = await this.naming(this.kv.get(key));
        try {
          if (current === null) await this.kv.create(key, value);
          else await this.kv.update(key, value, current.revision);
          break;
        } catch (error) {
          if (attempt >= MAX_ATTEMPTS) throw error;
          await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
        }
      }
    }
  }

  async fetch(group: string): Promise<CommittedOffset[]> {
    assertValidName('group', group);
    const out: CommittedOffset[] = [];
    for (const entry of await this.entries(`${encodeName(group)}.>`)) {
      const [, topic, partition] = entry.key.split('.');
      const v = entry.json<StoredOffset>();
      out.push({
        topic: decodeName(topic ?? ''),
        partition: Number(partition),
        offset: v.offset,
        metadata: v.metadata,
        commitTimestamp: v.commitTimestamp,
      });
    }
    return out.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  }

  async listGroups(): Promise<string[]> {
    const groups = new Set<string>();
    for (const entry of await this.entries()) {
      groups.add(decodeName(entry.key.split('.')[0] ?? ''));
    }
    return [...groups].sort();
  }

  async deleteGroup(group: string): Promise<void> {
    assertValidName('group', group);
    for (const entry of await this.entries(`${encodeName(group)}.>`)) {
      await this.kv.purge(entry.key);
    }
  }
}
