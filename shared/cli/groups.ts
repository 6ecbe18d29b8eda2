/** `tributary groups list|describe|reset-offsets` against a running collector. */
import { Command, Option } from 'commander';
import { GroupNotFoundError } from '../errors.ts';
import { parseTimeSpec } from '../time-spec.ts';
import { type ConfirmFlags, confirm, withConfirmation } from './confirm.ts';
import { type ConnectionFlags, clientFrom, printJson, printTable, withConnectionOptions } from './connection.ts';

export function command(): Command {
  const groups = new Command('groups').description('list, describe and reset consumer groups');

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
    const client = clientFrom(flags);
    const offsets = await client.groupOffsets(group);
    const members = await client.groupMembers(group);
    const ownerOf = new Map<string, string>();
    for (const m of members.members) {
      for (const a of m.assignment) ownerOf.set(`${a.topic}/${a.partition}`, m.member_id);
    }
    if (flags.output === 'json')
      return printJson({ group, generation_id: members.generation_id, members: members.members, offsets });
    // A group exists while it has members or committed offsets; with neither, the name is unknown (or a typo).
    if (members.members.length === 0 && offsets.length === 0) throw new GroupNotFoundError(group);
    if (members.members.length === 0) process.stdout.write(`group ${group} has no active members\n`);
    else
      process.stdout.write(
        `group ${group}: generation ${members.generation_id}, ${members.members.length} active member(s)\n`,
      );
    if (offsets.length === 0 && ownerOf.size === 0) {
      process.stdout.write(`group ${group} has no committed offsets\n`);
      return;
    }
    // Every partition of the topics the group reads or has committed, so one never committed shows up as '-'.
    type Row = [string, number, number | null, number | null, number | null, string, string];
    const rows = new Map<string, Row>();
    const topics = new Set([
      ...offsets.map((o) => o.topic),
      ...[...ownerOf.keys()].map((k) => k.slice(0, k.lastIndexOf('/'))),
    ]);
    for (const topic of topics) {
      const described = await client.describeTopic(topic).catch(() => undefined);
      for (const p of described?.partitions ?? []) {
        rows.set(`${topic}/${p.partition}`, [topic, p.partition, null, p.end_offset, null, '-', '-']);
      }
    }
    for (const o of offsets) {
      rows.set(`${o.topic}/${o.partition}`, [
        o.topic,
        o.partition,
        o.offset,
        o.end_offset,
        o.lag,
        new Date(o.commit_timestamp).toISOString(),
        '-',
      ]);
    }
    for (const [k, row] of rows) row[6] = ownerOf.get(k) ?? '-';
    printTable(
      ['TOPIC', 'PARTITION', 'COMMITTED', 'END', 'LAG', 'COMMITTED AT', 'MEMBER'],
      [...rows.values()].sort((a, b) => a[0].localeCompare(b[0]) || a[1] - b[1]),
    );
  });

  withConfirmation(
    withConnectionOptions(
      groups
        .command('reset-offsets')
        .description("set a group's committed offsets (refused while the group has active members)")
        .argument('<group>')
        .addOption(
          new Option(
            '--to <position>',
            'earliest, latest, or a time (2026-11-25T10:00Z, 15m, epoch ms)',
          ).makeOptionMandatory(),
        )
        .option('--topic <topic...>', 'the topics to reset (default: the topics the group has committed offsets for)'),
    ),
  ).action(async (group: string, flags: ConnectionFlags & ConfirmFlags & { to: string; topic?: string[] }) => {
    const to = flags.to === 'earliest' || flags.to === 'latest' ? flags.to : parseTimeSpec(flags.to, '--to');
    await confirm(`reset the committed offsets of group ${group} to ${flags.to}?`, flags);
    const offsets = await clientFrom(flags).resetGroupOffsets(group, to, flags.topic);
    if (flags.output === 'json') return printJson({ group, offsets });
    printTable(
      ['TOPIC', 'PARTITION', 'NEW OFFSET'],
      offsets.map((o) => [o.topic, o.partition, o.offset]),
    );
  });

  return groups;
}
