/** One measured number of a benchmark; `npm run bench` prints every bench's rows as one table. */
export interface BenchRow {
  readonly bench: string;
  readonly case: string;
  readonly metric: string;
  readonly value: number;
  readonly unit: string;
  readonly note?: string;
}
