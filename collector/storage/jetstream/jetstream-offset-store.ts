/**
 * Committed consumer offsets in a JetStream KV bucket (history 1, replicas as the store). One key per
 * (group, topic, partition): `enc(group).enc(topic).partition`, value JSON {offset, metadata, commitTimestamp}.
 * Updates are revision-checked (create when absent, update at the revision read): two collectors committing the
 * same key serialize on the bucket's stream instead of silently interleaving; the retry re-reads, then writes.
 */
import type { KV } from 'nats';
import { assertValidName } from '../../../shared/names.ts';
import type { CommitRequest, CommittedOffset, OffsetStore } from '../log-store.ts';
import { decodeName, encodeName } from './jetstream-log-store.ts';

interface StoredOffset {
  offset: number;
  metadata: string;
  commitTimestamp: number;
}

export class JetStreamOffsetStore implements OffsetStore {
  constructor(private readonly kv: KV) {}

  async commit(group: string, offsets: readonly CommitRequest[]): Promise<void> {
    assertValidName('group', group);
    for (const c of offsets) {
      const key = `${encodeName(group)}.${encodeName(c.topic)}.${c.partition}`;
      const value = JSON.stringify({ offset: c.offset, metadata: c.metadata ?? '', commitTimestamp: Date.now() });
      for (let attempt = 1; ; attempt++) {
        const current = await this.kv.get(key);
        try {
          if (current === null || current.operation !== 'PUT') {
            if (current === null) await this.kv.create(key, value);
            else await this.kv.update(key, value, current.revision);
          } else await this.kv.update(key, value, current.revision);
          break;
        } catch (error) {
          if (attempt >= 5) throw error;
        }
      }
    }
  }

  async fetch(group: string): Promise<CommittedOffset[]> {
    const out: CommittedOffset[] = [];
    const prefix = `${encodeName(group)}.`;
    for await (const key of await this.kv.keys(`${prefix}>`)) {
      const entry = await this.kv.get(key);
      if (entry === null || entry.operation !== 'PUT') continue;
      const [, topic, partition] = key.split('.');
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
    for await (const key of await this.kv.keys()) groups.add(decodeName(key.split('.')[0] ?? ''));
    return [...groups].sort();
  }

  async deleteGroup(group: string): Promise<void> {
    for await (const key of await this.kv.keys(`${encodeName(group)}.>`)) await this.kv.purge(key);
  }
}
