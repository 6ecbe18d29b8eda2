/**
 * Committed consumer offsets, one file per group: `<dataDir>/groups/<group>.json` =
 * `{"version": 1, "offsets": [{"topic", "partition", "offset", "metadata", "commit_timestamp"}]}`.
 *
 * Crash policy: each commit rewrites the group's file atomically (tmp -> fsync -> rename -> fsync dir) before it
 * resolves, so a commit that resolved survives a crash and a torn write can never be seen. Commits to one group are
 * serialized; different groups proceed in parallel. A group file that fails to parse is reported as
 * CorruptDataError when that group is read, and does not stop the store from opening.
 */
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CorruptDataError, InvalidArgumentError } from '../../../shared/errors.ts';
import { assertValidName } from '../../../shared/names.ts';
import { isOffset, type TimestampMs } from '../../../shared/record.ts';
import type { CommitRequest, CommittedOffset, OffsetStore } from '../log-store.ts';
import { writeFileAtomic } from './atomic-file.ts';
import { groupsDir } from './log-file-names.ts';

const VERSION = 1;
const MAX_METADATA_BYTES = 4096;

interface GroupFileEntry {
  topic: string;
  partition: number;
  offset: number;
  metadata: string;
  commit_timestamp: number;
}

export class FileOffsetStore implements OffsetStore {
  private readonly dir: string;
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    dataDir: string,
    private readonly now: () => TimestampMs,
  ) {
    this.dir = groupsDir(dataDir);
  }

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  private path(group: string): string {
    assertValidName('group', group);
    return join(this.dir, `${group}.json`);
  }

  private serialize<T>(group: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(group) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(work);
    this.queues.set(group, next);
    void next
      .finally(() => {
        if (this.queues.get(group) === next) this.queues.delete(group);
      })
      .catch(() => {});
    return next;
  }

  private async readGroup(group: string): Promise<GroupFileEntry[]> {
    let text: string;
    try {
      text = await readFile(this.path(group), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    try {
      const parsed = JSON.parse(text) as { version?: number; offsets?: GroupFileEntry[] };
      if (parsed.version !== VERSION || !Array.isArray(parsed.offsets)) throw new Error('unknown layout');
      return parsed.offsets;
    } catch (cause) {
      throw new CorruptDataError(`the committed offsets of group '${group}' are unreadable`, { cause });
    }
  }

  commit(group: string, offsets: readonly CommitRequest[]): Promise<void> {
    const path = this.path(group);
    for (const o of offsets) {
      assertValidName('topic', o.topic);
      if (!Number.isSafeInteger(o.partition) || o.partition < 0) {
        throw new InvalidArgumentError(`partition ${o.partition} is not a partition number`);
      }
      if (!isOffset(o.offset)) throw new InvalidArgumentError(`offset ${o.offset} is not a valid offset`);
      if (Buffer.byteLength(o.metadata ?? '') > MAX_METADATA_BYTES) {
        throw new InvalidArgumentError(`commit metadata is limited to ${MAX_METADATA_BYTES} bytes`);
      }
    }
    return this.serialize(group, async () => {
      const entries = await this.readGroup(group).catch(() => [] as GroupFileEntry[]);
      const byKey = new Map(entries.map((e) => [`${e.topic}\0${e.partition}`, e]));
      const now = this.now();
      for (const o of offsets) {
        byKey.set(`${o.topic}\0${o.partition}`, {
          topic: o.topic,
          partition: o.partition,
          offset: o.offset,
          metadata: o.metadata ?? '',
          commit_timestamp: now,
        });
      }
      const sorted = [...byKey.values()].sort((a, b) =>
        a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1,
      );
      await writeFileAtomic(path, JSON.stringify({ version: VERSION, offsets: sorted }));
    });
  }

  async fetch(group: string): Promise<CommittedOffset[]> {
    this.path(group);
    await this.queues.get(group)?.catch(() => {});
    return (await this.readGroup(group)).map((e) => ({
      topic: e.topic,
      partition: e.partition,
      offset: e.offset,
      metadata: e.metadata,
      commitTimestamp: e.commit_timestamp,
    }));
  }

  async listGroups(): Promise<string[]> {
    const names = await readdir(this.dir);
    return names
      .filter((n) => n.endsWith('.json'))
      .map((n) => n.slice(0, -'.json'.length))
      .sort();
  }

  deleteGroup(group: string): Promise<void> {
    const path = this.path(group);
    return this.serialize(group, () => rm(path, { force: true }));
  }
}
