/**
 * Real programs the source and receiver tests drive (logger, rsyslogd, systemd-journal-remote, journalctl): where
 * they are, and the rule for a missing one: under CI=true a missing tool is a failure, outside CI the test is
 * skipped with the reason (common rule of the project's tests).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { ExecutionContext } from 'ava';

export function findTool(name: string, candidates: readonly string[] = []): string | undefined {
  for (const c of candidates) if (existsSync(c)) return c;
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The tool's path, or undefined after failing (CI) or marking the test skipped (elsewhere). */
export function requireTool(
  t: ExecutionContext,
  name: string,
  candidates: readonly string[] = [],
  install = `apt-get install -y ${name}`,
): string | undefined {
  const found = findTool(name, candidates);
  if (found) return found;
  const reason = `${name} is not installed (${install})`;
  if (process.env.CI === 'true') t.fail(`${reason}: required under CI=true`);
  else {
    t.log(`skipped: ${reason}`);
    t.pass();
  }
  return undefined;
}
