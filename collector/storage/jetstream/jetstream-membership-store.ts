/**
 * Consumer group membership in the JetStream KV bucket `tributary_groups` (history 1, replicas as the store): one
 * key per group (`enc(group)`), value the GroupMembership as JSON.
 *
 * Every collector serving the topics reads and writes the same keys, so an update is optimistic: read the entry and
 * its revision, compute the change, write it only at that revision (create when absent). When another collector
 * wrote in between, the write fails and the change is computed again on the newer value. That is why
 * MembershipStore.update takes a pure function.
 */
import type { KvEntry } from 'nats';
import { UnavailableError } from '../../../shared/errors.ts';
import { assertValidName } from '../../../shared/names.ts';
import type { GroupMembership, MembershipChange, MembershipStore } from '../log-store.ts';
import { decodeName, encodeName, GROUPS_BUCKET } from './names.ts';
import { type KvBucketOptions, KvBucketStore } from './kv-entries.ts';

/**
 * A conflict means another writer succeeded in between, so of N writers racing on one group the last one loses at
 * most N - 1 rounds: the bound allows dozens of concurrent joins (a rolling restart of a consumer fleet).
 */
const MAX_ATTEMPTS = 50;

/** `kv`: the `tributary_groups` bucket. */
export type JetStreamMembershipStoreOptions = KvBucketOptions;

export class JetStreamMembershipStore extends KvBucketStore implements MembershipStore {
  protected readonly bucket = GROUPS_BUCKET;

  async get(group: string): Promise<GroupMembership | undefined> {
    assertValidName('group', group);
    return membershipOf(await this.naming(this.kv.get(encodeName(group))));
  }

  async update<T>(group: string, change: (current: GroupMembership | undefined) => MembershipChange<T>): Promise<T> {
    assertValidName('group', group);
    const key = encodeName(group);
    for (let attempt = 1; ; attempt++) {
      const entry = await this.naming(this.kv.get(key));
      const current = membershipOf(entry);
      const { next, result } = change(current);
      if (next === 'unchanged' || (next === undefined && current === undefined)) return result;
      try {
        if (next === undefined) await this.naming(this.kv.delete(key, { previousSeq: entry!.revision }));
        else if (entry === null) await this.naming(this.kv.create(key, JSON.stringify(next)));
        else await this.naming(this.kv.update(key, JSON.stringify(next), entry.revision));
        return result;
      } catch (error) {
        if (!isRevisionConflict(error)) throw error;
        if (attempt >= MAX_ATTEMPTS) {
          throw new UnavailableError(`group ${group}: membership kept changing under ${MAX_ATTEMPTS} attempts`, {
            cause: error,
          });
        }
        // Jitter spreads writers that keep colliding on the same revision.
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(20, attempt * 2)));
      }
    }
  }

  async listGroups(): Promise<string[]> {
    return [...(await this.list()).keys()].sort();
  }

  async list(): Promise<ReadonlyMap<string, GroupMembership>> {
    return new Map((await this.entries()).map((e) => [decodeName(e.key), e.json<GroupMembership>()]));
  }
}

function membershipOf(entry: KvEntry | null): GroupMembership | undefined {
  if (entry === null || entry.operation !== 'PUT') return undefined;
  return entry.json<GroupMembership>();
}

/** JetStream answers a write at a stale revision with "wrong last sequence" (API error 10071). */
function isRevisionConflict(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /wrong last sequence|10071|key exists/i.test(message);
}
