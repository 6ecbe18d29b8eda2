/**
 * How a benchmark starts the `tributary` command: compiled (`dist`, what the package ships and users run; the
 * default) or through tsx's loader from the TypeScript sources (`tsx`, how every process ran before dist/ existed),
 * so one run can put both side by side (docs/benchmarks.md, "Compiled JavaScript against tsx").
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export type Runner = 'dist' | 'tsx';

/** Node's arguments before the subcommand's own: `[...tributaryArgs(runner), 'agent', '--config', file]`. */
export function tributaryArgs(runner: Runner): string[] {
  return runner === 'dist'
    ? [path.join(REPO, 'dist/shared/cli/tributary.js')]
    : ['--import', 'tsx', path.join(REPO, 'shared/cli/tributary.ts')];
}
