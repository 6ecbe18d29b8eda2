/** `tributary tail TOPIC`: follow new matching lines live across all hosts, like `tail -f`, until Ctrl-C. */
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { Command } from 'commander';
import { compileLineFilter } from '../../collector/query/line-filter.ts';
import { errorFromWire, parseWireError } from '../wire-errors.ts';
import { UnavailableError } from '../errors.ts';
import { connectionFrom } from './connection.ts';
import { filterOptions, filterParams } from './query.ts';
import { formatHit, type RecordOutput, useColour, type WireHit } from './record-format.ts';

interface TailFlags {
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
    new Command().description('follow new matching lines live').argument('<topic>', 'the topic to follow'),
  ).action(async (topic: string, flags: TailFlags) => {
    const params = filterParams(flags);
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
    try {
      for await (const line of lines) {
        if (line === '') continue;
        const parsed = JSON.parse(line) as WireHit | { following: string };
        if ('following' in parsed) {
          if (process.stderr.isTTY) process.stderr.write(`following ${parsed.following} (Ctrl-C to stop)\n`);
          continue;
        }
        process.stdout.write(`${formatHit(parsed, flags.output, colour, (l) => filter.locate(l))}\n`);
      }
    } catch (error) {
      if (!stop.signal.aborted) throw error;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}
