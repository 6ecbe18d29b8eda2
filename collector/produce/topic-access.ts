/**
 * Topic lookup for the hot path and the rules around creating topics: auto-creation on produce, the topic-count
 * and partition-count limits, and a cache of partition counts so a produce does not describe its topic each time.
 * A topic's partition count never changes while it exists; the cache entry goes when the topic is deleted here, or
 * when the store reports it missing (deleted through another collector sharing a JetStream backend).
 */
import { LimitExceededError, TopicExistsError, TopicNotFoundError } from '../../shared/errors.ts';
import { assertValidName } from '../../shared/names.ts';
import type { CollectorOptions } from '../config.ts';
import type { LogStore, TopicConfig, TopicInfo } from '../storage/log-store.ts';

export class TopicAccess {
  private readonly store: LogStore;
  private readonly options: CollectorOptions;
  private readonly partitions = new Map<string, number>();
  private readonly creating = new Map<string, Promise<number>>();

  constructor(options: { store: LogStore; collector: CollectorOptions }) {
    this.store = options.store;
    this.options = options.collector;
  }

  /** The partition count of a topic, creating it with the defaults if auto-creation is on. */
  async partitionsFor(topic: string, autoCreate = this.options.autoCreateTopics): Promise<number> {
    const cached = this.partitions.get(topic);
    if (cached !== undefined) return cached;
    assertValidName('topic', topic);
    if (this.store.hasTopic(topic)) {
      const info = await this.store.describeTopic(topic);
      this.partitions.set(topic, info.config.partitions);
      return info.config.partitions;
    }
    if (!autoCreate) throw new TopicNotFoundError(topic);
    // Concurrent first produces to a new topic share one creation.
    let pending = this.creating.get(topic);
    if (!pending) {
      pending = this.autoCreate(topic).finally(() => this.creating.delete(topic));
      this.creating.set(topic, pending);
    }
    return await pending;
  }

  private async autoCreate(topic: string): Promise<number> {
    try {
      const info = await this.create(topic, {});
      return info.config.partitions;
    } catch (error) {
      if (!(error instanceof TopicExistsError)) throw error;
      const info = await this.store.describeTopic(topic);
      this.partitions.set(topic, info.config.partitions);
      return info.config.partitions;
    }
  }

  /** Creates a topic within the limits; unspecified settings take the collector's topic defaults. */
  async create(topic: string, config: Partial<TopicConfig>): Promise<TopicInfo> {
    assertValidName('topic', topic);
    const limits = this.options.limits;
    const partitions = config.partitions ?? this.options.topicDefaults.partitions;
    if (partitions > limits.maxPartitionsPerTopic) {
      throw new LimitExceededError(
        `topic '${topic}' would have ${partitions} partitions, above the limit of ${limits.maxPartitionsPerTopic} ` +
          '(limits.max_partitions_per_topic)',
        'count',
      );
    }
    const count = (await this.store.listTopics()).length;
    if (count >= limits.maxTopics && !this.store.hasTopic(topic)) {
      throw new LimitExceededError(
        `the collector already holds ${count} topics, the limit (limits.max_topics): delete unused topics or raise it`,
        'count',
      );
    }
    const info = await this.store.createTopic(topic, { ...this.options.topicDefaults, ...config, partitions });
    this.partitions.set(topic, info.config.partitions);
    return info;
  }

  async delete(topic: string): Promise<void> {
    assertValidName('topic', topic);
    this.partitions.delete(topic);
    await this.store.deleteTopic(topic);
    this.partitions.delete(topic);
  }

  /** Drops a cached entry after the store said the topic is gone. */
  forget(topic: string): void {
    this.partitions.delete(topic);
  }
}
