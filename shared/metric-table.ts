/**
 * Metric definitions as data: each side (agent/metrics.ts, collector/metrics.ts) declares its metrics in one table
 * of `counter(…)`, `gauge(…)` and `histogram(…)` entries, and `registerMetrics` makes the prom-client objects,
 * typed by their label names. The names in the tables are a contract with the dashboards and alert rules in
 * deploy/. Only the two metrics modules import this (and through it prom-client); the client library never does.
 */
import client from 'prom-client';

interface Spec<Type extends string, L extends string> {
  readonly type: Type;
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
}

export interface CounterSpec<L extends string> extends Spec<'counter', L> {}
export interface HistogramSpec<L extends string> extends Spec<'histogram', L> {
  readonly buckets: readonly number[];
}
export interface GaugeSpec<L extends string> extends Spec<'gauge', L> {
  /** Read at scrape time (the gauge is reset first, so a series that is gone disappears). */
  readonly collect?: (set: (value: number, labels?: Partial<Record<L, string>>) => void) => void | Promise<void>;
}

export type MetricSpec = CounterSpec<string> | HistogramSpec<string> | GaugeSpec<string>;

export function counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) {
  return { type: 'counter', name, help, labelNames } as CounterSpec<L>;
}

export function histogram<L extends string = never>(
  name: string,
  help: string,
  buckets: readonly number[],
  labelNames: readonly L[] = [],
) {
  return { type: 'histogram', name, help, buckets, labelNames } as HistogramSpec<L>;
}

export function gauge<L extends string = never>(
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  collect?: GaugeSpec<L>['collect'],
) {
  return { type: 'gauge', name, help, labelNames, ...(collect ? { collect } : {}) } as GaugeSpec<L>;
}

export type Registered<T extends Record<string, MetricSpec>> = {
  readonly [K in keyof T]: T[K] extends CounterSpec<infer L>
    ? client.Counter<L>
    : T[K] extends HistogramSpec<infer L>
      ? client.Histogram<L>
      : T[K] extends GaugeSpec<infer L>
        ? client.Gauge<L>
        : never;
};

/** Creates every metric of `table` in `registry`, keyed as in the table. */
export function registerMetrics<T extends Record<string, MetricSpec>>(
  table: T,
  registry: client.Registry,
): Registered<T> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(table)) {
    const common = { name: spec.name, help: spec.help, labelNames: [...spec.labelNames], registers: [registry] };
    if (spec.type === 'counter') out[key] = new client.Counter(common);
    else if (spec.type === 'histogram') out[key] = new client.Histogram({ ...common, buckets: [...spec.buckets] });
    else {
      const read = spec.collect;
      out[key] = new client.Gauge({
        ...common,
        ...(read
          ? {
              async collect() {
                this.reset();
                await read((value, labels) => (labels ? this.set(labels, value) : this.set(value)));
              },
            }
          : {}),
      });
    }
  }
  return out as Registered<T>;
}
