/**
 * The embedded file store: all topics of one collector in one data directory (Kafka's LogManager). It creates and
 * deletes topics, recovers every partition on open (log-loader.ts), routes appends and reads to partition logs,
 * and runs retention on a timer.
 *
 * Topic creation is atomic: the topic directory is built under `<dataDir>/staging/` and renamed into `topics/`,
 * so a crash leaves either no topic or a whole one. Deletion renames the directory into `<dataDir>/trash/` first,
 * so a crash mid-delete never leaves half a topic; open empties `staging/` and `trash/`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ClosedError,
  InvalidArgumentError,
  PartitionNotFoundError,
  StorageFullError,
  TopicExistsError,
  TopicNotFoundError,
} from '../../../shared/errors.ts';
import { splitBatches, type ValidatedBatch } from '../../../shared/batch-codec.ts';
import { assertValidName, isValidName } from '../../../shared/names.ts';
import type { Offset, PartitionId, TimestampMs } from '../../../shared/record.ts';
import type {
  AppendResult,
  BackendSummary,
  LogStore,
  ReadResult,
  RetentionResult,
  StorageEvents,
  TopicConfig,
  TopicInfo,
} from '../log-store.ts';
import { DEFAULT_TOPIC_CONFIG, resolveTopicConfig } from '../topic-config.ts';
import { syncDirectory, writeFileAtomic } from './atomic-file.ts';
import { DataDirLock } from './data-dir-lock.ts';
import { partitionDir, TOPIC_METADATA, topicDir, topicsDir } from './log-file-names.ts';
import { loadPartition } from './log-loader.ts';
import { FileOffsetStore } from './offset-store.ts';
import { LocalMembershipStore } from './local-membership-store.ts';
import { isDiskFull, PartitionLog } from './partition-log.ts';
import { Segment } from './segment.ts';

const METADATA_VERSION = 1;
export interface FileLogStoreOptions {
  readonly dataDir: string;
  /** Config for topics created without one; each key may be overridden per topic. */
  readonly defaults?: Partial<TopicConfig>;
  readonly events?: StorageEvents;
  /** How often retention runs; 0 disables the timer (tests call enforceRetention). Default 5 minutes. */
  readonly retentionCheckIntervalMs?: number;
  readonly now?: () => TimestampMs;
}

interface TopicState {
  readonly name: string;
  readonly config: TopicConfig;
  readonly partitions: PartitionLog[];
}

/** A full disk while creating a topic is StorageFullError (507), like a full disk on append; the rest as it came. */
function classifyCreateError(error: unknown, topic: string): unknown {
  if (!isDiskFull(error)) return error;
  return new StorageFullError(
    `no space left to create topic '${topic}': nothing of it was kept; free disk space or lower retention, then retry`,
    { cause: error },
  );
}

export class FileLogStore implements LogStore {
  readonly offsets: FileOffsetStore;
  readonly membership = new LocalMembershipStore();
  private readonly dataDir: string;
  private readonly defaults: TopicConfig;
  private readonly events: StorageEvents;
  private readonly now: () => TimestampMs;
  private readonly topics = new Map<string, TopicState>();
  private readonly creating = new Set<string>();
  private retentionTimer: NodeJS.Timeout | undefined;
  private lock: DataDirLock | undefined;
  private closed = false;

  private constructor(options: FileLogStoreOptions) {
    this.dataDir = options.dataDir;
    this.defaults = resolveTopicConfig(options.defaults ?? {}, DEFAULT_TOPIC_CONFIG);
    this.events = options.events ?? {};
    this.now = options.now ?? Date.now;
    this.offsets = new FileOffsetStore(this.dataDir, this.now);
  }

  /** Opens (and recovers) the store in `dataDir`, creating the directory if needed. */
  static async open(options: FileLogStoreOptions): Promise<FileLogStore> {
    const store = new FileLogStore(options);
    await mkdir(options.dataDir, { recursive: true });
    store.lock = await DataDirLock.acquire(options.dataDir);
    try {
      await store.load();
    } catch (error) {
      await store.lock.release();
      throw error;
    }
    const interval = options.retentionCheckIntervalMs ?? 300_000;
    if (interval > 0) {
      store.retentionTimer = setInterval(() => void store.enforceRetention().catch(() => {}), interval);
      store.retentionTimer.unref();
    }
    return store;
  }

  private async load(): Promise<void> {
    await mkdir(topicsDir(this.dataDir), { recursive: true });
    await rm(join(this.dataDir, 'staging'), { recursive: true, force: true });
    await rm(join(this.dataDir, 'trash'), { recursive: true, force: true });
    await this.offsets.open();
    for (const name of await readdir(topicsDir(this.dataDir))) {
      if (!isValidName(name)) continue;
      const metadata = JSON.parse(await readFile(join(topicDir(this.dataDir, name), TOPIC_METADATA), 'utf8')) as {
        version: number;
        config: TopicConfig;
      };
      if (metadata.version !== METADATA_VERSION) {
        throw new InvalidArgumentError(`topic '${name}' has metadata version ${metadata.version}; expected 1`);
      }
      const config = resolveTopicConfig(metadata.config, this.defaults);
      this.topics.set(name, { name, config, partitions: await this.openPartitions(name, config) });
    }
  }

  private async openPartitions(topic: string, config: TopicConfig): Promise<PartitionLog[]> {
    const partitions: PartitionLog[] = [];
    for (let partition = 0; partition < config.partitions; partition++) {
      const dir = partitionDir(this.dataDir, topic, partition);
      const { segments, producers } = await loadPartition({
        topic,
        partition,
        dir,
        events: this.events,
        now: this.now,
      });
      partitions.push(
        new PartitionLog({ topic, partition, dir, config, segments, producers, events: this.events, now: this.now }),
      );
    }
    return partitions;
  }

  private checkOpen(): void {
    if (this.closed) throw new ClosedError('the log store');
  }

  private topic(name: string): TopicState {
    assertValidName('topic', name);
    const topic = this.topics.get(name);
    if (!topic) throw new TopicNotFoundError(name);
    return topic;
  }

  private partitionLog(topic: string, partition: PartitionId): PartitionLog {
    const state = this.topic(topic);
    const log = Number.isSafeInteger(partition) ? state.partitions[partition] : undefined;
    if (!log) throw new PartitionNotFoundError(topic, partition, state.partitions.length);
    return log;
  }

  private describe(state: TopicState): TopicInfo {
    return {
      name: state.name,
      backend: 'file',
      config: state.config,
      partitions: state.partitions.map((p) => p.info()),
    };
  }

  backendSummary(): BackendSummary {
    return { kind: 'file', dataDir: this.dataDir };
  }

  hasTopic(name: string): boolean {
    return this.topics.has(name);
  }

  async createTopic(name: string, config: Partial<TopicConfig> = {}): Promise<TopicInfo> {
    this.checkOpen();
    assertValidName('topic', name);
    const resolved = resolveTopicConfig(config, this.defaults);
    if (this.topics.has(name) || this.creating.has(name)) throw new TopicExistsError(name);
    this.creating.add(name);
    // Built under staging/ with its real layout, then renamed into place in one step.
    const staging = join(this.dataDir, 'staging', `${name}-${randomBytes(6).toString('hex')}`);
    let placed = false;
    try {
      const stagedTopicDir = join(staging, 'topics', name);
      await mkdir(stagedTopicDir, { recursive: true });
      for (let p = 0; p < resolved.partitions; p++) {
        const dir = partitionDir(staging, name, p);
        await mkdir(dir, { recursive: true });
        await (await Segment.create(dir, 0, this.now())).close();
      }
      await writeFileAtomic(
        join(stagedTopicDir, TOPIC_METADATA),
        JSON.stringify({ version: METADATA_VERSION, name, config: resolved }),
      );
      await rename(stagedTopicDir, topicDir(this.dataDir, name));
      placed = true;
      await syncDirectory(topicsDir(this.dataDir));
      const state = { name, config: resolved, partitions: await this.openPartitions(name, resolved) };
      this.topics.set(name, state);
      await rm(staging, { recursive: true, force: true }).catch(() => {});
      return this.describe(state);
    } catch (error) {
      // Nothing half-made may stay where the next open would find it: a placed directory goes back to staging/
      // (emptied here, and on open if this removal fails too).
      if (placed) await rename(topicDir(this.dataDir, name), join(staging, 'unplaced')).catch(() => {});
      await rm(staging, { recursive: true, force: true }).catch(() => {});
      throw classifyCreateError(error, name);
    } finally {
      this.creating.delete(name);
    }
  }

  async deleteTopic(name: string): Promise<void> {
    this.checkOpen();
    const state = this.topic(name);
    this.topics.delete(name);
    const trash = join(this.dataDir, 'trash');
    await mkdir(trash, { recursive: true });
    await Promise.all(state.partitions.map((p) => p.close().catch(() => {})));
    const target = join(trash, `${name}-${randomBytes(6).toString('hex')}`);
    await rename(topicDir(this.dataDir, name), target);
    await syncDirectory(topicsDir(this.dataDir));
    await rm(target, { recursive: true, force: true });
  }

  async listTopics(): Promise<TopicInfo[]> {
    return [...this.topics.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((t) => this.describe(t));
  }

  async describeTopic(name: string): Promise<TopicInfo> {
    return this.describe(this.topic(name));
  }

  async append(topic: string, partition: PartitionId, batches: readonly ValidatedBatch[]): Promise<AppendResult> {
    this.checkOpen();
    return this.partitionLog(topic, partition).append(batches);
  }

  async appendChecked(topic: string, partition: PartitionId, buffers: readonly Buffer[]): Promise<AppendResult> {
    return this.append(topic, partition, buffers.flatMap(splitBatches));
  }

  async read(
    topic: string,
    partition: PartitionId,
    offset: Offset,
    maxBytes: number,
    readInto?: (size: number) => Buffer,
  ): Promise<ReadResult> {
    this.checkOpen();
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
      throw new InvalidArgumentError(`max_bytes must be a positive whole number, got ${maxBytes}`);
    }
    return this.partitionLog(topic, partition).read(offset, maxBytes, readInto);
  }

  async offsetForTimestamp(topic: string, partition: PartitionId, timestamp: TimestampMs): Promise<Offset> {
    this.checkOpen();
    return this.partitionLog(topic, partition).offsetForTimestamp(timestamp);
  }

  async waitForAppend(
    topic: string,
    partition: PartitionId,
    offset: Offset,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    this.checkOpen();
    return this.partitionLog(topic, partition).waitForAppend(offset, timeoutMs, signal);
  }

  async enforceRetention(): Promise<RetentionResult> {
    const result = { segmentsDeleted: 0, bytesDeleted: 0 };
    for (const topic of [...this.topics.values()]) {
      for (const partition of topic.partitions) {
        const deleted = await partition.enforceRetention();
        result.segmentsDeleted += deleted.segments;
        result.bytesDeleted += deleted.bytes;
      }
    }
    return result;
  }

  /** Makes every write so far durable, whatever the flush policy (benchmarks; an operator's sync point). */
  async flushAll(): Promise<void> {
    await Promise.all([...this.topics.values()].flatMap((t) => t.partitions.map((p) => p.flush())));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    await Promise.all([...this.topics.values()].flatMap((t) => t.partitions.map((p) => p.close())));
    await this.lock?.release();
  }
}
