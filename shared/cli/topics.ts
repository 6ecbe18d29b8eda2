/** `tributary topics list|create|describe|delete` against a running collector. */
import { Command, InvalidArgumentError as CommanderArgumentError } from 'commander';
import type { CreateTopicRequest, WirePartitionInfo, WireTopic } from '../client/collector-client.ts';
import { parseDurationMs, parseSizeBytes } from '../config-file.ts';
import { type ConfirmFlags, confirm, withConfirmation } from './confirm.ts';
import {
  type ConnectionFlags,
  clientFrom,
  formatBytes,
  formatDuration,
  printJson,
  printTable,
  withConnectionOptions,
} from './connection.ts';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new CommanderArgumentError('expected a whole number >= 1');
  return n;
}

function duration(value: string): number | null {
  if (value === 'forever' || value === 'none') return null;
  const ms = parseDurationMs(value);
  if (ms === undefined || ms < 1) throw new CommanderArgumentError('expected a duration like 7d, 12h, 30m, or forever');
  return ms;
}

function size(value: string): number | null {
  if (value === 'none' || value === 'unlimited') return null;
  const bytes = parseSizeBytes(value);
  if (bytes === undefined || bytes < 1) throw new CommanderArgumentError('expected a size like 10GiB, 512MiB, or none');
  return bytes;
}

function totals(t: WireTopic) {
  let records = 0;
  let bytes = 0;
  for (const p of t.partitions) {
    records += p.end_offset - p.start_offset;
    bytes += p.size_bytes;
  }
  return { records, bytes };
}

interface CreateFlags extends ConnectionFlags {
  partitions?: number;
  retention?: number | null;
  retentionBytes?: number | null;
  segmentBytes?: number | null;
  flush?: 'always' | 'interval';
}

export function command(): Command {
  const topics = new Command('topics').description('list, create, describe and delete topics');

  withConnectionOptions(
    topics.command('list').description('list topics with their partitions, records and size'),
  ).action(async (flags: ConnectionFlags) => {
    const list = await clientFrom(flags).listTopics();
    if (flags.output === 'json') return printJson(list);
    printTable(
      ['TOPIC', 'PARTITIONS', 'RECORDS', 'SIZE', 'RETENTION'],
      list.map((t) => {
        const { records, bytes } = totals(t);
        return [t.name, t.config.partitions, records, formatBytes(bytes), formatDuration(t.config.retention_ms)];
      }),
    );
  });

  withConnectionOptions(
    topics
      .command('create')
      .description('create a topic (unset settings take the collector defaults)')
      .argument('<name>', 'topic name: 1-200 of A-Z a-z 0-9 . _ -')
      .option('-p, --partitions <n>', 'partition count', positiveInt)
      .option('--retention <duration>', 'delete data older than this (7d, 12h, forever)', duration)
      .option('--retention-bytes <size>', 'per partition size limit (10GiB, none)', size)
      .option('--segment-bytes <size>', 'segment size', size)
      .option('--flush <policy>', 'always (fsync before ack) or interval'),
  ).action(async (name: string, flags: CreateFlags) => {
    const request: CreateTopicRequest = { name };
    if (flags.partitions !== undefined) request.partitions = flags.partitions;
    if (flags.retention !== undefined) request.retention_ms = flags.retention;
    if (flags.retentionBytes !== undefined) request.retention_bytes = flags.retentionBytes;
    if (flags.segmentBytes !== undefined && flags.segmentBytes !== null) request.segment_bytes = flags.segmentBytes;
    if (flags.flush !== undefined) {
      if (flags.flush !== 'always' && flags.flush !== 'interval') {
        throw new CommanderArgumentError('--flush must be always or interval');
      }
      request.flush = flags.flush;
    }
    const topic = await clientFrom(flags).createTopic(request);
    if (flags.output === 'json') return printJson(topic);
    process.stdout.write(`created topic ${topic.name} with ${topic.config.partitions} partition(s)\n`);
  });

  withConnectionOptions(
    topics
      .command('describe')
      .description('show a topic: config and per-partition offsets and size')
      .argument('<name>'),
  ).action(async (name: string, flags: ConnectionFlags) => {
    const t = await clientFrom(flags).describeTopic(name);
    if (flags.output === 'json') return printJson(t);
    const c = t.config;
    const { records, bytes } = totals(t);
    const retention =
      `retention ${formatDuration(c.retention_ms)}` +
      `${c.retention_bytes === null ? '' : `, at most ${formatBytes(c.retention_bytes)} per partition`}`;
    const head = `topic ${t.name}: ${c.partitions} partition(s), ${records} record(s), ${formatBytes(bytes)}\n`;
    const rows = (extra: (p: WirePartitionInfo) => (string | number)[]) =>
      t.partitions.map((p) => [
        p.partition,
        p.start_offset,
        p.end_offset,
        p.end_offset - p.start_offset,
        formatBytes(p.size_bytes),
        ...extra(p),
      ]);
    const columns = ['PARTITION', 'START', 'END', 'RECORDS', 'SIZE'];
    if (t.backend === 'jetstream') {
      // What JetStream has: a stream per partition, its leader and its copies (no segments, no flush policy).
      const replicas = [...new Set(t.partitions.map((p) => p.stream?.replicas))].join('/');
      const storage = t.partitions[0]?.stream?.storage ?? 'file';
      process.stdout.write(
        `${head}  JetStream: one stream per partition, ${replicas} replica(s), ${storage} storage; ${retention}\n\n`,
      );
      printTable(
        [...columns, 'STREAM', 'LEADER', 'FOLLOWERS'],
        rows((p) => [
          p.stream?.name ?? '-',
          p.stream?.leader ?? '(electing)',
          (p.stream?.followers ?? [])
            .map((f) => (f.current ? f.server : `${f.server} (not current${f.lag > 0 ? `, ${f.lag} behind` : ''})`))
            .join(', ') || '-',
        ]),
      );
      return;
    }
    process.stdout.write(
      `${head}  ${retention}, segments of ${formatBytes(c.segment_bytes ?? 0)} or ${formatDuration(c.segment_ms ?? 0)}` +
        `, flush ${c.flush}\n\n`,
    );
    printTable(
      [...columns, 'SEGMENTS'],
      rows((p) => [p.segment_count ?? '-']),
    );
  });

  withConfirmation(
    withConnectionOptions(topics.command('delete').description('delete a topic and all its data').argument('<name>')),
  ).action(async (name: string, flags: ConnectionFlags & ConfirmFlags) => {
    await confirm(`delete topic ${name} and all its data?`, flags);
    await clientFrom(flags).deleteTopic(name);
    if (flags.output === 'json') return printJson({ deleted: name });
    process.stdout.write(`deleted topic ${name}\n`);
  });

  return topics;
}
