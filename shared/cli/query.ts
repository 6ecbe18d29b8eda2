/** `tributary query TOPIC`: search a topic like grep, across hosts, newest first. */
import { Command, Option } from 'commander';
import { compileLineFilter } from '../query/line-filter.ts';
import { parseMatcher } from '../query/matchers.ts';
import { parseTimeSpec } from '../time-spec.ts';
import { clientFrom, type ConnectionFlags } from './connection.ts';
import { formatHit, type RecordOutput, useColour, type WireHit } from './record-format.ts';

interface QueryFlags extends Omit<ConnectionFlags, 'output'> {
  since?: string;
  until?: string;
  where: string[];
  grep?: string;
  regex?: string;
  ignoreCase?: boolean;
  limit: string;
  oldestFirst?: boolean;
  output: RecordOutput;
  cursor?: string;
}

/** The summary line of a query answer (docs/api.md#query). */
interface QuerySummaryWire {
  readonly count: number;
  readonly partial: boolean;
  readonly cursor: string | null;
  readonly notes?: readonly string[];
}

/** Shown after the options of `tributary query --help`; test/query/query-cli.test.ts runs each against a collector. */
export const QUERY_EXAMPLES = [
  'tributary query app --since 15m --grep timeout',
  "tributary query app --where host=web-1 --where 'service=~\"api|auth\"' --regex 'status=5\\d\\d' -i",
  "tributary query app --where field.level=error --where 'field.status>=500'",
  'tributary query app --oldest-first --limit 1000 --output json',
];

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Query-string parameters shared by query and tail, checked locally first so mistakes are reported at once. */
export function filterParams(flags: Pick<QueryFlags, 'where' | 'grep' | 'regex' | 'ignoreCase'>): URLSearchParams {
  const params = new URLSearchParams();
  for (const w of flags.where) {
    parseMatcher(w);
    params.append('where', w);
  }
  compileLineFilter({ ...(flags.grep ? { grep: flags.grep } : {}), ...(flags.regex ? { regex: flags.regex } : {}) });
  if (flags.grep) params.set('grep', flags.grep);
  if (flags.regex) params.set('regex', flags.regex);
  if (flags.ignoreCase) params.set('ignore_case', 'true');
  return params;
}

export function filterOptions(command: Command): Command {
  return command
    .option(
      '--where <matcher>',
      "repeatable; a label: host=web-1, service!=db, service=~'api.*'; a parsed field: field.level=error, field.status>=500",
      collect,
      [],
    )
    .option('--grep <text>', 'keep lines containing this text')
    .option('--regex <re>', 'keep lines matching this regular expression (RE2 syntax: no backreferences or lookaround)')
    .option('-i, --ignore-case', 'case-insensitive --grep and --regex')
    .option('--url <urls>', 'collector URL (env TRIBUTARY_URL; default http://127.0.0.1:7070)')
    .option('--token <token>', 'bearer token (env TRIBUTARY_TOKEN)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json', 'raw']).default('text'));
}

export function command(): Command {
  return filterOptions(
    new Command()
      .description('search a topic: time range, labels, text or regex (newest first)')
      .argument('<topic>', 'the topic to search')
      .option('--since <time>', 'from this time: 15m, 2h, 7d, an ISO time or epoch ms')
      .option('--until <time>', 'up to this time (exclusive)')
      .option('--limit <n>', 'at most this many lines', '100')
      .option('--oldest-first', 'oldest lines first')
      .option('--cursor <cursor>', 'continue a partial or limited result')
      .addHelpText('after', `\nExamples:\n${QUERY_EXAMPLES.map((e) => `  ${e}`).join('\n')}\n`),
  ).action(async (topic: string, flags: QueryFlags) => {
    const params = filterParams(flags);
    if (flags.since) params.set('since', String(parseTimeSpec(flags.since, '--since')));
    if (flags.until) params.set('until', String(parseTimeSpec(flags.until, '--until')));
    params.set('limit', flags.limit);
    params.set('order', flags.oldestFirst ? 'oldest' : 'newest');
    if (flags.cursor) params.set('cursor', flags.cursor);
    const client = clientFrom({ ...flags, output: 'table' });
    const res = await client.request('GET', `/v1/topics/${encodeURIComponent(topic)}/query?${params}`);
    const filter = compileLineFilter({
      ...(flags.grep ? { grep: flags.grep } : {}),
      ...(flags.regex ? { regex: flags.regex } : {}),
      ignoreCase: Boolean(flags.ignoreCase),
    });
    const colour = flags.output === 'text' && useColour();
    const out: string[] = [];
    for (const line of res.body.toString('utf8').split('\n')) {
      if (line === '') continue;
      const parsed = JSON.parse(line) as WireHit | { summary: QuerySummaryWire };
      if ('summary' in parsed) {
        const s = parsed.summary;
        for (const note of s.notes ?? []) process.stderr.write(`warning: ${note}\n`);
        if (s.count === 0 && process.stderr.isTTY) process.stderr.write('0 lines matched\n');
        if (s.partial) {
          process.stderr.write(
            `partial result: the scan budget ran out after ${s.count} lines; continue with --cursor ${s.cursor}\n`,
          );
        } else if (s.cursor && flags.output === 'text') {
          process.stderr.write(`(limit reached; more with --cursor ${s.cursor})\n`);
        }
        continue;
      }
      out.push(formatHit(parsed, flags.output, colour, (l) => filter.locate(l)));
    }
    if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
  });
}
