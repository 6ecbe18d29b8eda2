/**
 * Helpers for the deploy tests: the PromQL shipped in deploy/ (dashboards and alert rules) as a list of queries a
 * real Prometheus can run, the deploy/prometheus config rewritten for a test (1 s scrapes, file_sd targets in a
 * temporary directory, the real alert rules), metric names mentioned in a text, and file-tree snapshots.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { REPO_ROOT, sleep } from '../helpers/collector-process.ts';
import { freePort } from '../helpers/ports.ts';

export const DEPLOY = path.join(REPO_ROOT, 'deploy');
export const DASHBOARDS = ['tributary-fleet.json', 'tributary-collector.json'].map((f) =>
  path.join(DEPLOY, 'grafana/dashboards', f),
);
export const ALERTS = path.join(DEPLOY, 'prometheus/alerts.yaml');
export const SCRAPE_CONFIG = path.join(DEPLOY, 'prometheus/prometheus.yml');

/** A binary on PATH, or undefined. */
export function which(name: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const bin = found.status === 0 ? found.stdout.trim() : '';
  return bin || undefined;
}

export interface Query {
  /** Where the expression comes from, for failure messages: "fleet / Retries/s / A". */
  readonly where: string;
  /** Runnable PromQL (Grafana variables replaced). */
  readonly promql: string;
}

// Grafana's built-in and template variables, replaced by values a test Prometheus (1 s scrapes) can run. Every
// template variable is used as `label=~"$var"`, so ".*" selects all, as the dashboards' "All" does.
const GRAFANA_VARIABLES: Record<string, string> = {
  __rate_interval: '1m',
  __interval: '15s',
  __range: '5m',
};

export function grafanaToPromql(expr: string): string {
  return expr.replace(/\$\{?(\w+)\}?/g, (_m, name: string) => GRAFANA_VARIABLES[name] ?? '.*');
}

interface DashboardJson {
  title: string;
  templating: { list: { name: string; type: string; query?: { query: string } | string }[] };
  panels: { title: string; targets?: { refId: string; expr: string }[] }[];
}

/** Every panel query and every template-variable query of the shipped dashboards. */
export async function dashboardQueries(): Promise<Query[]> {
  const out: Query[] = [];
  for (const file of DASHBOARDS) {
    const dash = JSON.parse(await readFile(file, 'utf8')) as DashboardJson;
    for (const panel of dash.panels) {
      for (const target of panel.targets ?? []) {
        out.push({ where: `${dash.title} / ${panel.title} / ${target.refId}`, promql: grafanaToPromql(target.expr) });
      }
    }
    for (const variable of dash.templating.list) {
      if (variable.type !== 'query') continue;
      const q = typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '');
      // label_values(metric, label) is Grafana's, not PromQL: the same question is `count by (label) (metric)`.
      const m = /^label_values\((.+),\s*(\w+)\)$/.exec(q.trim());
      if (!m) throw new Error(`${dash.title}: variable ${variable.name}: unexpected query ${q}`);
      out.push({ where: `${dash.title} / variable $${variable.name}`, promql: `count by (${m[2]}) (${m[1]})` });
    }
  }
  return out;
}

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
}

export async function alertRules(): Promise<AlertRule[]> {
  const doc = parse(await readFile(ALERTS, 'utf8')) as { groups: { rules: AlertRule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

/**
 * The signals of an alert expression: its top-level `and`/`or`/`unless` operands, each without its trailing
 * comparison with a number. A healthy system makes the alert itself return nothing; its signals must not.
 */
export function alertSignals(expr: string): string[] {
  const operands: string[] = [];
  let depth = 0;
  let start = 0;
  const flat = expr.replace(/\s+/g, ' ').trim();
  for (let i = 0; i < flat.length; i++) {
    const c = flat[i];
    if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') depth--;
    else if (c === '"') i = flat.indexOf('"', i + 1);
    else if (depth === 0) {
      const m = /^ (and|or|unless) /.exec(flat.slice(i));
      if (m) {
        operands.push(flat.slice(start, i));
        i += m[0].length - 1;
        start = i + 1;
      }
    }
  }
  operands.push(flat.slice(start));
  return operands.map((o) => o.replace(/\s*(==|!=|>=|<=|>|<)\s*(bool\s+)?-?[0-9.]+(e[+-]?\d+)?\s*$/, '').trim());
}

/** Metric names (tributary_*, process_*, nodejs_*) a text mentions, histogram suffixes included as written. */
export function mentionedMetricNames(text: string): Set<string> {
  return new Set(text.match(/\b(?:tributary_(?:agent|collector)_[a-z0-9_]+|process_[a-z0-9_]+|nodejs_[a-z0-9_]+)\b/g));
}

/** Every sample name in a Prometheus text exposition (so histograms give name_bucket, name_sum, name_count). */
export function exposedMetricNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (m) names.add(m[1]!);
  }
  return names;
}

/**
 * Prometheus started with deploy/prometheus/prometheus.yml itself, changed only where a test must: 1 s scrape and
 * evaluation, the file_sd files and the rule file moved into a temporary directory.
 */
export class DeployedPrometheus {
  private output = '';
  private constructor(
    readonly url: string,
    readonly dir: string,
    readonly configFile: string,
    private readonly child: ChildProcess,
    private readonly exited: Promise<number | null>,
  ) {
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  /** Writes the test config (for `promtool check config` too) without starting anything. */
  static async writeConfig(targets: {
    agents: string[];
    collectors: string[];
  }): Promise<{ dir: string; file: string }> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-deploy-prometheus-'));
    const config = parse(await readFile(SCRAPE_CONFIG, 'utf8')) as {
      global: Record<string, unknown>;
      rule_files: string[];
      scrape_configs: { job_name: string; file_sd_configs: { files: string[] }[] }[];
    };
    config.global = { ...config.global, scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' };
    config.rule_files = [path.join(dir, path.basename(config.rule_files[0]!))];
    await writeFile(config.rule_files[0]!, await readFile(ALERTS));
    for (const job of config.scrape_configs) {
      for (const sd of job.file_sd_configs) {
        sd.files = sd.files.map((f) => path.join(dir, path.basename(f)));
      }
    }
    await writeFile(path.join(dir, 'agents.yaml'), stringify([{ targets: targets.agents }]));
    await writeFile(path.join(dir, 'collectors.yaml'), stringify([{ targets: targets.collectors }]));
    const file = path.join(dir, 'prometheus.yml');
    await writeFile(file, stringify(config));
    return { dir, file };
  }

  static async start(binary: string, targets: { agents: string[]; collectors: string[] }): Promise<DeployedPrometheus> {
    const { dir, file } = await DeployedPrometheus.writeConfig(targets);
    const port = await freePort();
    const child = spawn(
      binary,
      [
        `--config.file=${file}`,
        `--storage.tsdb.path=${path.join(dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const server = new DeployedPrometheus(`http://127.0.0.1:${port}`, dir, file, child, exited);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${server.output}`);
      try {
        if ((await fetch(`${server.url}/-/ready`, { signal: AbortSignal.timeout(2000) })).status === 200) return server;
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    await server.stop();
    throw new Error(`prometheus was not ready within 60 s:\n${server.output}`);
  }

  get logs(): string {
    return this.output;
  }

  /** An instant query; throws with Prometheus's error for invalid PromQL. */
  async query(promql: string): Promise<{ metric: Record<string, string>; value: number }[]> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    if (body.status !== 'success' || !body.data) throw new Error(`${promql}: ${body.error}`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  async api<T>(pathAndQuery: string): Promise<T> {
    const body = (await (await fetch(`${this.url}${pathAndQuery}`)).json()) as { status: string; data: T };
    if (body.status !== 'success') throw new Error(`${pathAndQuery}: ${JSON.stringify(body)}`);
    return body.data;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
      await this.exited;
      clearTimeout(timer);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * A file tree as `relative path -> description` (type, mode, owner, and the content's hash or the link target), to
 * compare two installs. `contentOf` may say a file's content is not to be compared (returns false).
 */
export async function snapshotTree(
  root: string,
  contentOf: (rel: string) => boolean = () => true,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of (await readdir(dir)).sort()) {
      const full = path.join(dir, entry);
      const rel = path.relative(root, full);
      const st = await lstat(full);
      const meta = `mode=${(st.mode & 0o7777).toString(8)} owner=${st.uid}:${st.gid}`;
      if (st.isSymbolicLink()) out.set(rel, `link -> ${await readlink(full)}`);
      else if (st.isDirectory()) {
        out.set(rel, `dir ${meta}`);
        await walk(full);
      } else {
        const hash = contentOf(rel)
          ? createHash('sha256')
              .update(await readFile(full))
              .digest('hex')
          : 'not compared';
        out.set(rel, `file ${meta} ${hash}`);
      }
    }
  };
  await walk(root);
  return out;
}

/** The differences between two snapshots, readable in a failure message. */
export function treeDiff(a: Map<string, string>, b: Map<string, string>): string[] {
  const diff: string[] = [];
  for (const [k, v] of a) if (b.get(k) !== v) diff.push(`${k}: ${v} -> ${b.get(k) ?? 'missing'}`);
  for (const [k, v] of b) if (!a.has(k)) diff.push(`${k}: new ${v}`);
  return diff;
}
