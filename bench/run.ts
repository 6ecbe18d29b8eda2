/**
 * `npm run bench [-- --quick] [-- --only storage,agent]`: runs every `bench/*.bench.ts` in turn (each exports
 * `run({ quick })` returning BenchRows) and prints one table. Benchmarks run one after another, never side by side,
 * and each compares its numbers as ratios measured in the same run, since this machine is shared and noisy.
 */
import { readdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from './bench-row.ts';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? new Set((args[onlyAt + 1] ?? '').split(',')) : undefined;

const names = (await readdir(here))
  .filter((n) => n.endsWith('.bench.ts'))
  .map((n) => n.slice(0, -'.bench.ts'.length))
  .filter((n) => !only || only.has(n))
  .sort();

const rows: BenchRow[] = [];
for (const name of names) {
  process.stderr.write(`running ${name}${quick ? ' (quick)' : ''}…\n`);
  const module = (await import(`./${name}.bench.ts`)) as { run(opts: { quick: boolean }): Promise<BenchRow[]> };
  try {
    rows.push(...(await module.run({ quick })));
  } catch (error) {
    rows.push({ bench: name, case: 'failed', metric: 'error', value: Number.NaN, unit: '', note: String(error) });
  }
}

const table = [
  ['bench', 'case', 'metric', 'value', 'unit', 'note'],
  ...rows.map((r) => [
    r.bench,
    r.case,
    r.metric,
    Number.isFinite(r.value) ? String(Number(r.value.toPrecision(4))) : 'n/a',
    r.unit,
    r.note ?? '',
  ]),
];
const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
for (const [i, row] of table.entries()) {
  process.stdout.write(
    `${row
      .map((cell, c) => (c === 3 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd()}\n`,
  );
  if (i === 0) process.stdout.write(`${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
}
