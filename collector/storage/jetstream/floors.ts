/**
 * Partition floors: the next offset of each partition, recorded in the topic's KV entry (`floorOffsets`), so that
 * offsets continue when retention has emptied a stream.
 *
 * When retention has removed every message of a partition, the next offset cannot be read from the stream; it is
 * kept in memory by the collectors that saw it, and a fresh collector continues at the recorded floor. A collector
 * records a topic's floors half a retention time after an append to it (at most one pending record per topic), so
 * they are written before that append's message can expire, and the retention timer records every topic's floors.
 * Floors are only ever raised, with revision-checked writes (a concurrent delete or another collector's record
 * makes the write fail; it is read again).
 * Gap left: a collector that dies between an append and that record, when no other collector's timer runs before
 * the append expires (offsets could then be reused).
 */
import type { TopicConfig } from '../log-store.ts';
import type { PartitionStreams } from './partition-stream.ts';
import type { TopicCatalogue } from './topic-catalogue.ts';

const MAX_ATTEMPTS = 5;

export class FloorRecorder {
  /** Per topic: the pending record after an append (recordSoon). */
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly catalogue: TopicCatalogue,
    private readonly streams: PartitionStreams,
    /** A background record failed (the retention timer reports its own failures). */
    private readonly onFailure: (topic: string, error: unknown) => void,
  ) {}

  /** Schedules a record of the topic's floors half a retention time from now, unless one is pending. */
  recordSoon(topic: string, config: TopicConfig): void {
    if (config.retentionMs === null || this.timers.has(topic) || this.closed) return;
    const timer = setTimeout(
      () => {
        // Deleted first: an append while the record runs schedules the next one, so none is missed.
        this.timers.delete(topic);
        void this.record(topic).catch((error: unknown) => this.onFailure(topic, error));
      },
      Math.max(1, Math.floor(config.retentionMs / 2)),
    );
    timer.unref();
    this.timers.set(topic, timer);
  }

  /** Raises the topic's recorded floors to its partitions' current next offsets (never lowers them). */
  async record(topic: string): Promise<void> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      try {
        await this.catalogue.update(topic, async (entry) => {
          const floors: number[] = [];
          for (let p = 0; p < entry.config.partitions; p++) {
            const next = (await this.streams.loadTail(topic, p, entry)).nextOffset;
            floors.push(Math.max(next, entry.floorOffsets?.[p] ?? 0));
          }
          if (floors.every((f, p) => f === (entry.floorOffsets?.[p] ?? 0))) return undefined;
          return { ...entry, floorOffsets: floors };
        });
        return;
      } catch (error) {
        if (attempt === MAX_ATTEMPTS) throw error;
        // read again
      }
    }
  }

  /** Runs every pending record now and schedules no more: a clean shutdown leaves no gap. */
  async close(): Promise<void> {
    this.closed = true;
    const pending = [...this.timers.keys()];
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled(pending.map((topic) => this.record(topic)));
  }
}
