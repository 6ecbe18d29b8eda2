/** `tributary groups list|describe` against a running collector. */
import { Command } from 'commander';
import { type ConnectionFlags, clientFrom, printJson, printTable, withConnectionOptions } from './connection.ts';

export function command(): Command {
  const groups = new Command('groups').description('list and describe consumer groups');

  withConnectionOptions(groups.command('list').description('list consumer groups with committed offsets')).action(
    async (flags: ConnectionFlags) => {
      const client = clientFrom(flags);
      const names = await client.listGroups();
      const rows = [];
      for (const name of names) {
        const offsets = await client.groupOffsets(name);
        const lag = offsets.reduce((n, o) => n + (o.lag ?? 0), 0);
        rows.push({
          group: name,
          topics: [...new Set(offsets.map((o) => o.topic))].sort(),
          partitions: offsets.length,
          lag,
        });
      }
      if (flags.output === 'json') return printJson(rows);
      printTable(
        ['GROUP', 'TOPICS', 'PARTITIONS', 'LAG'],
        rows.map((r) => [r.group, r.topics.join(','), r.partitions, r.lag]),
      );
    },
  );

  withConnectionOptions(
    groups.command('describe').description('per partition: committed offset, end offset and lag').argument('<group>'),
  ).action(async (group: string, flags: ConnectionFlags) => {
    const offsets = await clientFrom(flags).groupOffsets(group);
    offsets.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    if (flags.output === 'json') return printJson({ group, offsets });
    if (offsets.length === 0) {
      process.stdout.write(`group ${group} has no committed offsets\n`);
      return;
    }
    printTable(
      ['TOPIC', 'PARTITION', 'COMMITTED', 'END', 'LAG', 'COMMITTED AT'],
      offsets.map((o) => [
        o.topic,
        o.partition,
        o.offset,
        o.end_offset,
        o.lag,
        new Date(o.commit_timestamp).toISOString(),
      ]),
    );
  });

  return groups;
}
