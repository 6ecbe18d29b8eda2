/** One measured number of a benchmark; `npm run bench` prints every bench's rows as one table. */
export interface BenchRow {
  readonly bench: string;
  readonly case: string;
  readonly metric: string;
  readonly value: number;
  readonly unit: string;
  readonly note?: string;
}

/** Prints rows as aligned text, one a line: how a bench run on its own (not through run.ts) reports. */
export function printRows(rows: readonly BenchRow[]): void {
  const caseWidth = Math.max(0, ...rows.map((r) => r.case.length));
  const metricWidth = Math.max(0, ...rows.map((r) => r.metric.length));
  for (const r of rows) {
    const value = r.value.toFixed(r.unit === 'x' || Math.abs(r.value) < 10 ? 2 : 1).padStart(12);
    process.stdout.write(
      `${r.case.padEnd(caseWidth)}  ${r.metric.padEnd(metricWidth)} ${value} ${r.unit}${r.note ? `  (${r.note})` : ''}\n`,
    );
  }
}
