/**
 * Where the real programs that the source and receiver tests drive live (logger, rsyslogd, systemd-journal-remote,
 * journalctl): the first existing candidate path, else the name on PATH, else undefined. Tests declare what they
 * need with test/helpers/requirement.ts (`needs`), which fails under CI=true and skips elsewhere.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export function findTool(name: string, candidates: readonly string[] = []): string | undefined {
  for (const c of candidates) if (existsSync(c)) return c;
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}
