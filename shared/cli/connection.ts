/**
 * What every client subcommand shares: `--url` / `--token` (falling back to TRIBUTARY_URL / TRIBUTARY_TOKEN, then
 * http://127.0.0.1:7070), `--output table|json`, and plain aligned tables for people.
 */
import { type Command, Option } from 'commander';
import { CollectorClient } from '../client/collector-client.ts';
import { formatDurationMs } from '../config-file.ts';

export const DEFAULT_URL = 'http://127.0.0.1:7070';

export interface ConnectionFlags {
  url?: string;
  token?: string;
  output?: 'table' | 'json';
}

/** Adds --url and --token to a command (commands with their own --output choices). */
export function withCollectorFlags(command: Command): Command {
  return command
    .option('--url <urls>', `collector URL, or several comma-separated (env TRIBUTARY_URL; default ${DEFAULT_URL})`)
    .option('--token <token>', 'bearer token (env TRIBUTARY_TOKEN)');
}

/** Adds --url, --token and --output to a command (call on each leaf command). */
export function withConnectionOptions(command: Command): Command {
  return withCollectorFlags(command).addOption(
    new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'),
  );
}

/** The collector URLs and token from the flags, else the environment, else the default URL. */
export function connectionFrom(
  flags: Pick<ConnectionFlags, 'url' | 'token'>,
  env: NodeJS.ProcessEnv = process.env,
): { urls: string[]; token: string | undefined } {
  const urls = (flags.url || env.TRIBUTARY_URL || DEFAULT_URL).split(',');
  return {
    urls: urls.map((u) => u.trim()).filter((u) => u !== ''),
    token: flags.token ?? (env.TRIBUTARY_TOKEN || undefined),
  };
}

export function clientFrom(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): CollectorClient {
  return new CollectorClient(connectionFrom(flags, env));
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints rows as an aligned table with a header line; numbers are right-aligned. */
export function printTable(columns: readonly string[], rows: readonly (readonly (string | number | null)[])[]): void {
  const cells = rows.map((r) => r.map((c) => (c === null ? '-' : String(c))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const numeric = columns.map(
    (_c, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || r[i] === null),
  );
  const line = (values: readonly string[], header: boolean) =>
    values
      .map((v, i) => (numeric[i] && !header ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(columns, true), ...cells.map((r) => line(r, false))];
  process.stdout.write(`${out.join('\n')}\n`);
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Durations print as the config files write them (`7d`, `forever`). */
export const formatDuration = formatDurationMs;
