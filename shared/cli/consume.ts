/**
 * `tributary consume TOPIC --group G`: a consumer group member on the command line. Prints records as they come
 * and commits offsets (docs/consumers.md). Ctrl-C commits what was printed and leaves the group, so the other
 * members take its partitions at once.
 */
import { once } from 'node:events';
import { hostname } from 'node:os';
import { Command, InvalidArgumentError as CommanderInvalidArgument, Option } from 'commander';
import { parseDurationMs } from '../config-file.ts';
import { Consumer, type ConsumedRecord, type StartPosition } from '../client/consumer.ts';
import { toWireRecord } from '../record.ts';
import { parseTimeSpec } from '../time-spec.ts';
import { connectionFrom, withCollectorFlags } from './connection.ts';
import { formatHit, formatTemplate, type RecordOutput, useColour, type WireHit } from './record-format.ts';

interface ConsumeFlags {
  group: string;
  from: StartPosition;
  maxRecords?: number;
  sessionTimeout?: number;
  clientId?: string;
  commit: boolean;
  url?: string;
  token?: string;
  output: RecordOutput;
  format?: string;
}

/** earliest | latest | an offset (up to 9 digits) | a time (epoch ms, ISO-8601, or a duration before now). */
export function parseStartPosition(text: string): StartPosition {
  const value = text.trim();
  if (value === 'earliest' || value === 'latest') return value;
  if (/^\d{1,9}$/.test(value)) return { offset: Number(value) };
  return { timestamp: parseTimeSpec(value, '--from') };
}

function positiveInt(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) throw new CommanderInvalidArgument('a positive integer');
  return n;
}

function duration(text: string): number {
  const ms = parseDurationMs(text);
  if (ms === undefined || ms <= 0) throw new CommanderInvalidArgument('a duration such as 10s or 1m');
  return ms;
}

function hitOf(record: ConsumedRecord): WireHit & { topic: string } {
  return { topic: record.topic, partition: record.partition, ...toWireRecord(record) };
}

export function command(): Command {
  return withCollectorFlags(
    new Command().description('read a topic as a member of a consumer group, printing records and committing offsets'),
  )
    .argument('<topics...>', 'the topic(s) to consume')
    .requiredOption('-g, --group <group>', 'the consumer group to join')
    .addOption(
      new Option(
        '--from <position>',
        'where to start: earliest|latest apply to partitions the group has not committed; an offset (up to 9 ' +
          'digits) or a time (2026-11-25T10:00Z, 15m, epoch ms) applies to every partition',
      )
        .default('latest')
        .argParser(parseStartPosition),
    )
    .option('-n, --max-records <n>', 'exit after this many records (committing them)', positiveInt)
    .option(
      '--session-timeout <duration>',
      'how long the group waits for this member if it goes silent (10s)',
      duration,
    )
    .option('--client-id <id>', 'a name for this member in `groups describe` (default: the host name)')
    .option('--no-commit', 'read without committing offsets')
    .addOption(
      new Option('-o, --output <format>', 'output format (text: topic[partition]@offset time labels line)')
        .choices(['text', 'json', 'raw'])
        .default('text'),
    )
    .option(
      '-f, --format <format>',
      "kcat-style format, e.g. '%t %p %o %s\\n': %t topic, %p partition, %o offset, %T timestamp ms, %k key, " +
        '%s line, %l labels, %f fields (JSON), \\n newline, \\t tab',
    )
    .action(async (topics: string[], flags: ConsumeFlags) => {
      const consumer = new Consumer({
        ...connectionFrom(flags),
        group: flags.group,
        topics,
        from: flags.from,
        autoCommit: flags.commit,
        clientId: (flags.clientId ?? hostname()).replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 100),
        ...(flags.sessionTimeout !== undefined ? { sessionTimeoutMs: flags.sessionTimeout } : {}),
      });
      const stop = (): void => void consumer.close();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const colour = flags.output === 'text' && useColour();
      let printed = 0;
      try {
        for await (const record of consumer) {
          const hit = hitOf(record);
          const text =
            flags.format !== undefined
              ? formatTemplate(hit, flags.format)
              : `${formatHit(hit, flags.output, colour, () => undefined, true)}\n`;
          if (!process.stdout.write(text)) await once(process.stdout, 'drain');
          if (flags.maxRecords !== undefined && ++printed >= flags.maxRecords) {
            if (flags.commit) await consumer.commit();
            break;
          }
        }
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        await consumer.close();
      }
    });
}
