/**
 * Confirmation for destructive commands (`topics delete`, `groups reset-offsets`): on a terminal the command asks
 * and does nothing unless the answer is yes; `--yes` skips the question (scripts run from a terminal). Without a
 * terminal on stdin there is nobody to ask, and the command runs as typed, as kubectl and kcat do.
 */
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { TributaryError } from '../errors.ts';

export interface ConfirmFlags {
  yes?: boolean;
}

/** Adds `-y, --yes` to a destructive command. */
export function withConfirmation(command: Command): Command {
  return command.option('-y, --yes', 'do not ask for confirmation on a terminal');
}

/** Throws (exit 1, nothing done) unless the user confirms `question`, or confirmation is not needed. */
export async function confirm(question: string, flags: ConfirmFlags): Promise<void> {
  if (flags.yes || !process.stdin.isTTY) return;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer === 'y' || answer === 'yes') return;
  } finally {
    rl.close();
  }
  throw new TributaryError('invalid_argument', 'not confirmed: nothing was changed (use --yes to skip the question)');
}
