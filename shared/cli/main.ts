/**
 * The `tributary` command line: one command, one subcommand per job. Each subcommand lives with the side it
 * belongs to and is loaded only when invoked, so `tributary query` never loads the collector or the agent.
 * A subcommand module exports `command(): Command` (commander) whose action does the work.
 */
import { type Command, CommanderError } from 'commander';
import { TributaryError } from '../errors.ts';

interface SubcommandEntry {
  readonly summary: string;
  readonly load: () => Promise<{ command(): Command }>;
}

const SUBCOMMANDS: Readonly<Record<string, SubcommandEntry>> = {
  up: { summary: 'run a collector and an agent in one process (the embedded default)', load: () => import('./up.ts') },
  collector: { summary: 'run the collector server', load: () => import('../../collector/command.ts') },
  agent: { summary: 'run the host agent that tails log files', load: () => import('../../agent/command.ts') },
  query: { summary: 'search a topic: time range, labels, text or regex', load: () => import('./query.ts') },
  tail: { summary: 'show the last matching lines, then follow new ones live', load: () => import('./tail.ts') },
  topics: { summary: 'list, create, describe and delete topics', load: () => import('./topics.ts') },
  consume: {
    summary: 'read topics as a consumer group member, committing offsets',
    load: () => import('./consume.ts'),
  },
  groups: { summary: 'list, describe and reset consumer groups', load: () => import('./groups.ts') },
};

function overview(): string {
  const width = Math.max(...Object.keys(SUBCOMMANDS).map((n) => n.length));
  const lines = Object.entries(SUBCOMMANDS).map(([name, e]) => `  ${name.padEnd(width)}  ${e.summary}`);
  return `Usage: tributary <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'tributary <command> --help' for the options of one command.\n`;
}

/** Runs the command line and returns the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(overview());
    return name === undefined ? 1 : 0;
  }
  if (name === '--version' || name === '-V') {
    const { createRequire } = await import('node:module');
    // By the package's own name (its `exports` lists ./package.json): the same from the sources and from dist/.
    process.stdout.write(`${createRequire(import.meta.url)('tributary/package.json').version}\n`);
    return 0;
  }
  const entry = SUBCOMMANDS[name];
  if (!entry) {
    process.stderr.write(`tributary: unknown command '${name}'\n\n${overview()}`);
    return 2;
  }
  const command = (await entry.load()).command().name(name).exitOverride();
  try {
    await command.parseAsync([...rest], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (error instanceof TributaryError) {
      process.stderr.write(`tributary ${name}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
