/**
 * `tributary tail TOPIC`: like `tail -f` across all hosts: the last N matching lines (`-n`, default 10; or those
 * since `--since`), then new matching lines live until Ctrl-C. The history ends exactly where the live stream
 * starts (the collector names that offset per partition in the stream's first line), so nothing is shown twice and
 * nothing is skipped.
 */
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { Command } from 'commander';
import { compileLineFilter } from '../query/line-filter.ts';
import { errorFromWire, parseWireError } from '../wire-errors.ts';
import { UnavailableError } from '../errors.ts';
import type { CollectorClient } from '../client/collector-client.ts';
import { InvalidArgumentError } from '../errors.ts';
import { parseTimeSpec } from '../time-spec.ts';
import { clientFrom, connectionFrom } from './connection.ts';
import { filterOptions, filterParams } from './query.ts';
import { formatHit, type RecordOutput, useColour, type WireHit } from './record-format.ts';

interface TailFlags {
  lines?: string;
  since?: string;
  where: string[];
  grep?: string;
  regex?: string;
  ignoreCase?: boolean;
  url?: string;
  token?: string;
  output: RecordOutput;
}

export function command(): Command {
  return filterOptions(
    new Command()
      .description('show the last matching lines, then follow new ones live')
      .argument('<topic>', 'the topic to follow')
      .option('-n, --lines <n>', 'show the last N matching lines first (default 10; 0: none)')
      .option('--since <time>', 'show the matching lines since this time first (15m, 2h, an ISO time)'),
  ).action(async (topic: string, flags: TailFlags) => {
    const params = filterParams(flags);
    const history = historyParams(flags, params);
    const { urls, token } = connectionFrom(flags);
    const base = urls[0]!;
    const stop = new AbortController();
    const onSignal = (): void => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let res: Response;
    try {
      res = await fetch(`${base}/v1/topics/${encodeURIComponent(topic)}/tail?${params}`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
        signal: stop.signal,
      });
    } catch (error) {
      if (stop.signal.aborted) return;
      throw new UnavailableError(`cannot reach the collector at ${base}: ${(error as Error).message}`);
    }
    if (!res.ok || !res.body) {
      throw errorFromWire(res.status, parseWireError(await res.text().catch(() => ''), `HTTP ${res.status}`));
    }
    const filter = compileLineFilter({
      ...(flags.grep ? { grep: flags.grep } : {}),
      ...(flags.regex ? { regex: flags.regex } : {}),
      ignoreCase: Boolean(flags.ignoreCase),
    });
    const colour = flags.output === 'text' && useColour();
    const lines = createInterface({ input: Readable.fromWeb(res.body as import('node:stream/web').ReadableStream) });
    const print = (hit: WireHit): void => {
      process.stdout.write(`${formatHit(hit, flags.output, colour, (l) => filter.locate(l))}\n`);
    };
    try {
      for await (const line of lines) {
        if (line === '') continue;
        const parsed = JSON.parse(line) as WireHit | { following: string; start?: Record<string, number> };
        if ('following' in parsed) {
          if (history) {
            const client = clientFrom({ ...flags, output: 'table' });
            for (const hit of await lastLines(client, topic, history, parsed.start ?? {})) print(hit);
          }
          if (process.stderr.isTTY) process.stderr.write(`following ${parsed.following} (Ctrl-C to stop)\n`);
          continue;
        }
        print(parsed);
      }
    } catch (error) {
      if (!stop.signal.aborted) throw error;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}

const DEFAULT_LINES = 10;
/** The API's largest query limit: `--since` without `-n` shows everything since then, up to this. */
const MAX_HISTORY = 100_000;

/** The query parameters of the history to show before following; undefined for none (`-n 0`). */
function historyParams(flags: TailFlags, filters: URLSearchParams): URLSearchParams | undefined {
  let limit = flags.since !== undefined ? MAX_HISTORY : DEFAULT_LINES;
  if (flags.lines !== undefined) {
    limit = Number(flags.lines);
    if (!Number.isSafeInteger(limit) || limit < 0 || limit > MAX_HISTORY) {
      throw new InvalidArgumentError(
        `-n takes a whole number from 0 to ${MAX_HISTORY}, got ${JSON.stringify(flags.lines)}`,
      );
    }
  }
  if (limit === 0) return undefined;
  const params = new URLSearchParams(filters);
  params.set('limit', String(limit));
  params.set('order', 'newest');
  if (flags.since !== undefined) params.set('since', String(parseTimeSpec(flags.since, '--since')));
  return params;
}

/** The newest matching lines before `start` (per partition, where the live stream begins), oldest first. */
async function lastLines(
  client: CollectorClient,
  topic: string,
  params: URLSearchParams,
  start: Record<string, number>,
): Promise<WireHit[]> {
  const res = await client.request('GET', `/v1/topics/${encodeURIComponent(topic)}/query?${params}`);
  const hits: WireHit[] = [];
  for (const line of res.body.toString('utf8').split('\n')) {
    if (line === '') continue;
    const parsed = JSON.parse(line) as WireHit | { summary: unknown };
    if ('summary' in parsed) continue;
    const end = start[String(parsed.partition)];
    if (end !== undefined && parsed.offset >= end) continue; // the live stream shows it
    hits.push(parsed);
  }
  return hits.reverse();
}
