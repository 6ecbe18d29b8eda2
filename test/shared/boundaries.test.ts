/**
 * The module boundaries the layout promises, checked on every import of the sources (static and dynamic): the agent
 * and the collector never import each other, and `shared/` imports neither — except the CLI's composition root
 * (`shared/cli/main.ts`, which loads each side's command, and `shared/cli/up.ts`, which runs both in one process).
 * A small test instead of a lint rule: biome has no rule for import boundaries between folders.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { REPO_ROOT } from '../helpers/collector-process.ts';

const COMPOSITION_ROOT = new Set(['shared/cli/main.ts', 'shared/cli/up.ts']);

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(rel)));
    else if (/\.(ts|js)$/.test(entry.name)) out.push(rel);
  }
  return out;
}

function importsOf(file: string, text: string): string[] {
  const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)].map((m) => m[1]!);
  return specifiers
    .filter((s) => s.startsWith('.'))
    .map((s) => path.relative(REPO_ROOT, path.resolve(REPO_ROOT, path.dirname(file), s)));
}

function top(file: string): string {
  return file.split(path.sep)[0]!;
}

test('boundaries - agent, collector and shared import only what the layout allows', async (t) => {
  const violations: string[] = [];
  for (const side of ['agent', 'collector', 'shared']) {
    for (const file of await sources(side)) {
      for (const target of importsOf(file, await readFile(path.join(REPO_ROOT, file), 'utf8'))) {
        const to = top(target);
        const allowed =
          side === 'shared'
            ? COMPOSITION_ROOT.has(file) || (to !== 'agent' && to !== 'collector')
            : to !== (side === 'agent' ? 'collector' : 'agent');
        if (!allowed) violations.push(`${file} imports ${target}`);
      }
    }
  }
  t.deepEqual(violations, []);
});
