/**
 * A topic's configuration, whatever the backend: the defaults of a topic created without settings, and the one
 * validation every backend applies before creating a topic (each bad value named, as the API returns it).
 * The file backend uses every key; the JetStream backend maps retention to its streams and ignores the segment and
 * flush keys (docs/scaling.md).
 */
import { InvalidArgumentError } from '../../shared/errors.ts';
import type { TopicConfig } from './log-store.ts';

export const MAX_PARTITIONS = 1024;

export const DEFAULT_TOPIC_CONFIG: TopicConfig = Object.freeze({
  partitions: 1,
  retentionMs: 7 * 86_400_000,
  retentionBytes: null,
  segmentBytes: 1024 ** 3,
  segmentMs: 7 * 86_400_000,
  flush: Object.freeze({ mode: 'always' as const }),
});

/** Fills in and checks a topic config; every bad value is named. */
export function resolveTopicConfig(input: Partial<TopicConfig>, defaults: TopicConfig): TopicConfig {
  const config = { ...defaults, ...input };
  const positive = (name: string, value: number, min: number, max: number): void => {
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}, got ${value}`);
    }
  };
  positive('partitions', config.partitions, 1, MAX_PARTITIONS);
  positive('segment_bytes', config.segmentBytes, 4096, 2 * 1024 ** 3);
  positive('segment_ms', config.segmentMs, 1, Number.MAX_SAFE_INTEGER);
  if (config.retentionMs !== null) positive('retention_ms', config.retentionMs, 1, Number.MAX_SAFE_INTEGER);
  if (config.retentionBytes !== null) positive('retention_bytes', config.retentionBytes, 1, Number.MAX_SAFE_INTEGER);
  const flush = config.flush;
  if (flush.mode === 'interval') {
    positive('flush_interval_ms', flush.intervalMs, 1, 86_400_000);
    positive('flush_interval_bytes', flush.intervalBytes, 1, Number.MAX_SAFE_INTEGER);
  } else if (flush.mode !== 'always') {
    throw new InvalidArgumentError(`flush must be "always" or "interval"`);
  }
  return Object.freeze({ ...config, flush: Object.freeze({ ...flush }) });
}
