/**
 * Topic administration: list, create, describe, delete. The wire form of a topic config is snake_case JSON
 * (docs/api.md, "Topics"); `topicToWire` is also what `tributary topics describe --output json` prints.
 */
import { z } from 'zod';
import { assertValidName } from '../../../shared/names.ts';
import type {
  FlushPolicy,
  PartitionInfo,
  StorageBackendKind,
  TopicConfig,
  TopicInfo,
} from '../../storage/log-store.ts';
import type { RouteModule } from '../context.ts';
import { parseJsonBody } from '../json-body.ts';

/** A topic config on the wire; `backend` jetstream leaves out the segment and flush keys, which do not apply there. */
export function topicConfigToWire(c: TopicConfig, backend: StorageBackendKind = 'file') {
  const base = { partitions: c.partitions, retention_ms: c.retentionMs, retention_bytes: c.retentionBytes };
  if (backend === 'jetstream') return base;
  return {
    ...base,
    segment_bytes: c.segmentBytes,
    segment_ms: c.segmentMs,
    flush: c.flush.mode,
    ...(c.flush.mode === 'interval'
      ? { flush_interval_ms: c.flush.intervalMs, flush_interval_bytes: c.flush.intervalBytes }
      : {}),
  };
}

/** What the backend has, and only that: segment_count on the file backend, the stream and its copies on JetStream. */
function partitionStorageToWire(p: PartitionInfo) {
  if (p.stream !== undefined) {
    return {
      stream: {
        name: p.stream.name,
        replicas: p.stream.replicas,
        leader: p.stream.leader ?? null,
        followers: p.stream.followers.map((f) => ({ server: f.server, current: f.current, lag: f.lag })),
        storage: p.stream.storage,
      },
    };
  }
  return p.segmentCount === undefined ? {} : { segment_count: p.segmentCount };
}

export function topicToWire(t: TopicInfo) {
  return {
    name: t.name,
    backend: t.backend,
    config: topicConfigToWire(t.config, t.backend),
    partitions: t.partitions.map((p) => ({
      partition: p.partition,
      start_offset: p.startOffset,
      end_offset: p.endOffset,
      size_bytes: p.sizeBytes,
      ...partitionStorageToWire(p),
    })),
  };
}

const positive = z.number().int().min(1);
const CreateTopicBody = z.strictObject({
  name: z.string(),
  partitions: positive.optional(),
  retention_ms: positive.nullable().optional(),
  retention_bytes: positive.nullable().optional(),
  segment_bytes: z.number().int().min(4096).optional(),
  segment_ms: z.number().int().min(1000).optional(),
  flush: z.enum(['always', 'interval']).optional(),
  flush_interval_ms: positive.optional(),
  flush_interval_bytes: positive.optional(),
});

function parseCreate(body: unknown, defaults: TopicConfig): { name: string; config: Partial<TopicConfig> } {
  const b = parseJsonBody(CreateTopicBody, body, 'topic');
  assertValidName('topic', b.name);
  const config: { -readonly [K in keyof TopicConfig]?: TopicConfig[K] } = {};
  if (b.partitions !== undefined) config.partitions = b.partitions;
  if (b.retention_ms !== undefined) config.retentionMs = b.retention_ms;
  if (b.retention_bytes !== undefined) config.retentionBytes = b.retention_bytes;
  if (b.segment_bytes !== undefined) config.segmentBytes = b.segment_bytes;
  if (b.segment_ms !== undefined) config.segmentMs = b.segment_ms;
  if (b.flush !== undefined || b.flush_interval_ms !== undefined || b.flush_interval_bytes !== undefined) {
    const mode = b.flush ?? defaults.flush.mode;
    const base = defaults.flush.mode === 'interval' ? defaults.flush : { intervalMs: 1000, intervalBytes: 1024 * 1024 };
    const flush: FlushPolicy =
      mode === 'always'
        ? { mode: 'always' }
        : {
            mode: 'interval',
            intervalMs: b.flush_interval_ms ?? base.intervalMs,
            intervalBytes: b.flush_interval_bytes ?? base.intervalBytes,
          };
    config.flush = flush;
  }
  return { name: b.name, config };
}

export const topicsRoutes: RouteModule = {
  name: 'topics',
  register(app, ctx) {
    app.get('/v1/topics', { config: { role: 'read' } }, async () => {
      const topics = await ctx.store.listTopics();
      return { topics: topics.map(topicToWire).sort((a, b) => a.name.localeCompare(b.name)) };
    });

    app.post('/v1/topics', { config: { role: 'admin' } }, async (request, reply) => {
      const { name, config } = parseCreate(request.body, ctx.options.topicDefaults);
      const info = await ctx.topics.create(name, config);
      return reply.code(201).send(topicToWire(info));
    });

    app.get<{ Params: { topic: string } }>('/v1/topics/:topic', { config: { role: 'read' } }, async (request) => {
      assertValidName('topic', request.params.topic);
      return topicToWire(await ctx.store.describeTopic(request.params.topic));
    });

    app.delete<{ Params: { topic: string } }>(
      '/v1/topics/:topic',
      { config: { role: 'admin' } },
      async (request, reply) => {
        await ctx.topics.delete(request.params.topic);
        return reply.code(204).send();
      },
    );
  },
};
