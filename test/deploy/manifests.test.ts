/**
 * deploy - the files in deploy/ are well-formed and agree with each other and with the code: compose and
 * Kubernetes manifests parse, the files they reference exist, the configs they carry pass the agent's and the
 * collector's own config loaders, promtool accepts the rules and the scrape config, the PrometheusRule is the
 * alert file, the dashboards only use variables they define. (The metric names these files mention are checked
 * against running processes in monitoring.test.ts.)
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { parseAgentConfig } from '../../agent/config.ts';
import { parseCollectorConfig } from '../../collector/config.ts';
import { interpolateEnv } from '../../shared/config-file.ts';
import { needs } from '../helpers/requirement.ts';
import {
  ALERTS,
  alertRules,
  alertSignals,
  DASHBOARDS,
  DEPLOY,
  DeployedPrometheus,
  dashboardQueries,
  grafanaToPromql,
  which,
} from './support.ts';

const REPO = path.dirname(DEPLOY);

const withPromtool = needs(which('promtool'), 'promtool is not installed (apt install prometheus)');

/** The parts of the manifests the test reads (parsed YAML, so only a shape, not a checked type). */
interface K8sObject {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  data: Record<string, string>;
  spec: {
    selector: Record<string, string> & { matchLabels: Record<string, string> };
    ports: { name: string }[];
    endpoints: { port: string }[];
    volumeClaimTemplates: { metadata: { name: string } }[];
    template: {
      spec: {
        tolerations?: unknown[];
        volumes: { name: string; hostPath?: { path: string } }[];
        containers: {
          volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
          resources: { limits: { memory?: string } };
          ports: { containerPort: number }[];
        }[];
      };
    };
  };
}

async function yamlDocs(file: string): Promise<Record<string, unknown>[]> {
  const docs = parseAllDocuments(await readFile(file, 'utf8'));
  for (const d of docs) if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`);
  return docs.map((d) => d.toJS() as Record<string, unknown>);
}

withPromtool.test('deploy - promtool accepts the alert rules and the scrape config', async (t, bin) => {
  const rules = spawnSync(bin, ['check', 'rules', ALERTS], { encoding: 'utf8' });
  t.is(rules.status, 0, rules.stdout + rules.stderr);
  t.regex(rules.stdout, /SUCCESS: \d+ rules found/);
  // The scrape config as shipped, with its file paths moved into a temporary directory.
  const { dir, file } = await DeployedPrometheus.writeConfig({ agents: ['127.0.0.1:9464'], collectors: [] });
  try {
    const config = spawnSync(bin, ['check', 'config', file], { encoding: 'utf8' });
    t.is(config.status, 0, config.stdout + config.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

withPromtool.test(
  'deploy - every dashboard query and alert signal is valid PromQL (promtool, no server needed)',
  async (t, bin) => {
    // Each query as a recording rule: promtool parses every expression and names the broken one. The alert signals
    // (monitoring.test.ts runs them) too.
    const queries = await dashboardQueries();
    t.true(queries.length > 40);
    for (const rule of await alertRules()) {
      for (const signal of alertSignals(rule.expr)) queries.push({ where: rule.alert, promql: signal });
    }
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-deploy-promql-'));
    try {
      const file = path.join(dir, 'dashboards.rules.yaml');
      const rules = queries.map((q, i) => ({ record: `tributary:dashboard_query:${i}`, expr: q.promql }));
      await writeFile(file, stringify({ groups: [{ name: 'dashboards', rules }] }));
      const r = spawnSync(bin, ['check', 'rules', file], { encoding: 'utf8' });
      t.is(r.status, 0, r.stdout + r.stderr);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test('deploy - the alert rules cover the required situations and each has a runbook section', async (t) => {
  const doc = parse(await readFile(ALERTS, 'utf8')) as {
    groups: {
      rules: { alert: string; expr: string; labels: { severity: string }; annotations: Record<string, string> }[];
    }[];
  };
  const rules = doc.groups.flatMap((g) => g.rules);
  const names = rules.map((r) => r.alert);
  for (const required of [
    'TributaryAgentDown',
    'TributaryAgentFallingBehind',
    'TributaryCollectorDiskNearlyFull',
    'TributaryConsumerLagGrowing',
    'TributaryProduceErrors',
  ]) {
    t.true(names.includes(required), `missing alert ${required}`);
  }
  const operations = await readFile(path.join(REPO, 'docs/operations.md'), 'utf8');
  for (const rule of rules) {
    t.true(['critical', 'warning'].includes(rule.labels.severity), `${rule.alert}: severity`);
    t.truthy(rule.annotations.summary, `${rule.alert}: summary`);
    t.is(rule.annotations.runbook, `docs/operations.md#${rule.alert.toLowerCase()}`.replace('fullin24h', 'nearlyfull'));
    const anchor = rule.annotations.runbook!.split('#')[1]!;
    t.regex(operations, new RegExp(`^#+ ${anchor}\\b`, 'im'), `docs/operations.md has no section for ${rule.alert}`);
    // The signal split used by monitoring.test.ts must actually remove the threshold.
    for (const signal of alertSignals(rule.expr)) t.notRegex(signal, /(==|>|<)\s*[0-9.]+$/, `${rule.alert}: ${signal}`);
  }
});

test('deploy - the Kubernetes PrometheusRule carries exactly deploy/prometheus/alerts.yaml', async (t) => {
  const docs = await yamlDocs(path.join(DEPLOY, 'kubernetes/monitoring.yaml'));
  const rule = docs.find((d) => d.kind === 'PrometheusRule') as { spec: { groups: unknown } } | undefined;
  t.truthy(rule);
  t.deepEqual(rule!.spec.groups, (parse(await readFile(ALERTS, 'utf8')) as { groups: unknown }).groups);
});

test('deploy - Kubernetes manifests parse and hold the required objects', async (t) => {
  const dir = path.join(DEPLOY, 'kubernetes');
  const kustomization = parse(await readFile(path.join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  const objects: Record<string, unknown>[] = [];
  for (const file of kustomization.resources) {
    for (const doc of await yamlDocs(path.join(dir, file))) {
      t.truthy(doc.apiVersion, `${file}: apiVersion`);
      t.truthy(doc.kind, `${file}: kind`);
      t.truthy((doc.metadata as { name?: string }).name, `${file}: metadata.name`);
      objects.push(doc);
    }
  }
  const find = (kind: string, name: string) =>
    objects.find((o) => o.kind === kind && (o.metadata as { name: string }).name === name) as K8sObject | undefined;

  const ds = find('DaemonSet', 'tributary-agent');
  t.truthy(ds, 'agent DaemonSet');
  const pod = ds!.spec.template.spec;
  const mounts = pod.containers[0]!.volumeMounts;
  const volumes = pod.volumes;
  const varlog = mounts.find((m) => m.mountPath === '/var/log')!;
  t.true(varlog.readOnly, '/var/log is mounted read-only');
  t.is(volumes.find((v) => v.name === varlog.name)!.hostPath!.path, '/var/log');
  const state = mounts.find((m) => m.mountPath === '/var/lib/tributary/agent')!;
  t.truthy(volumes.find((v) => v.name === state.name)!.hostPath, 'agent state on a hostPath');
  t.truthy(pod.containers[0]!.resources.limits.memory);
  t.true((pod.tolerations as unknown[]).length > 0);

  const sts = find('StatefulSet', 'tributary-collector');
  t.truthy(sts, 'collector StatefulSet');
  t.is(sts!.spec.volumeClaimTemplates[0]!.metadata.name, 'data');
  t.true(
    sts!.spec.template.spec.containers[0]!.volumeMounts.some((m) => m.name === 'data'),
    'the claim is mounted',
  );
  const svc = find('Service', 'tributary-collector');
  t.truthy(svc);
  // The Service selects the StatefulSet's pods, and exactly one Service carries the label the ServiceMonitor wants.
  t.deepEqual(svc!.spec.selector, sts!.spec.selector.matchLabels);
  for (const name of ['tributary-collector', 'tributary-agent']) {
    const sm = find('ServiceMonitor', name);
    t.truthy(sm, `ServiceMonitor ${name}`);
    const wanted = sm!.spec.selector.matchLabels as Record<string, string>;
    const services = objects.filter(
      (o) =>
        o.kind === 'Service' &&
        Object.entries(wanted).every(([k, v]) => (o.metadata as { labels?: Record<string, string> }).labels?.[k] === v),
    );
    t.is(services.length, 1, `ServiceMonitor ${name} selects exactly one Service`);
    // The job label is the Service name: the dashboards and rules use job="tributary-…".
    t.is((services[0]!.metadata as { name: string }).name, name);
    const port = (sm!.spec.endpoints as { port: string }[])[0]!.port;
    t.true(
      (services[0] as unknown as K8sObject).spec.ports.some((p) => p.name === port),
      `${name}: port ${port}`,
    );
  }

  // The configs in the ConfigMaps pass the agent's and the collector's own validation.
  const agentYaml = find('ConfigMap', 'tributary-agent')!.data['agent.yaml'] as string;
  const agent = parseAgentConfig(
    interpolateEnv(parse(agentYaml), { TRIBUTARY_AGENT_HOST: 'node-1' }, 'agent.yaml'),
    '/',
    'agent.yaml',
  );
  t.is(agent.metricsListen?.port, 9464);
  t.true(
    pod.containers[0]!.ports.some((p) => p.containerPort === 9464),
    'the metrics port is declared',
  );
  const collectorYaml = find('ConfigMap', 'tributary-collector')!.data['collector.yaml'] as string;
  const tokens = {
    TRIBUTARY_AGENT_TOKEN: 'a'.repeat(32),
    TRIBUTARY_READER_TOKEN: 'r'.repeat(32),
    TRIBUTARY_ADMIN_TOKEN: 'x'.repeat(32),
  };
  const collector = collectorOptions(collectorYaml, tokens, 'collector.yaml');
  t.is(collector.dataDir, '/var/lib/tributary/collector');
  t.is(collector.tokens.length, 3);
});

function collectorOptions(text: string, env: NodeJS.ProcessEnv, source: string) {
  return parseCollectorConfig(interpolateEnv(parse(text), env, source), '/', source).options;
}

test('deploy - compose parses, references existing files, and its configs are valid', async (t) => {
  const dir = path.join(DEPLOY, 'docker');
  const compose = parse(await readFile(path.join(dir, 'compose.yaml'), 'utf8'), { merge: true }) as {
    services: Record<
      string,
      { image?: string; build?: { context: string; dockerfile: string }; volumes?: string[]; command?: string[] }
    >;
    volumes: Record<string, unknown>;
  };
  t.deepEqual(Object.keys(compose.services).sort(), ['agent', 'collector', 'grafana', 'loggen', 'nats', 'prometheus']);
  for (const [name, service] of Object.entries(compose.services)) {
    t.truthy(service.image, `${name}: image`);
    if (service.build) {
      const context = path.resolve(dir, service.build.context);
      t.true(existsSync(path.join(context, service.build.dockerfile)), `${name}: Dockerfile`);
      t.true(existsSync(path.join(context, 'package.json')), `${name}: build context is the package`);
    }
    for (const volume of service.volumes ?? []) {
      const source = volume.split(':')[0]!;
      if (source.startsWith('.')) t.true(existsSync(path.resolve(dir, source)), `${name}: ${source} exists`);
      else t.true(source in compose.volumes, `${name}: named volume ${source} is declared`);
    }
  }
  // The Dockerfile copies what exists, and runs the bin the package declares.
  const dockerfile = await readFile(path.join(dir, 'Dockerfile'), 'utf8');
  for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
    for (const source of m[1]!.split(/\s+/)) t.true(existsSync(path.join(REPO, source)), `Dockerfile COPY ${source}`);
  }
  const pkg = JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  t.true(dockerfile.includes(`/app/${pkg.bin.tributary}`), 'ENTRYPOINT runs the package bin');
  t.regex(dockerfile, /^USER 10001/m, 'non-root');

  // The configs the services mount pass the real loaders.
  const agentFile = path.join(dir, 'agent.yaml');
  const agent = parseAgentConfig(parse(await readFile(agentFile, 'utf8')), dir, agentFile);
  t.deepEqual(agent.collector.urls, ['http://collector:7070']);
  const collector = collectorOptions(await readFile(path.join(dir, 'collector.yaml'), 'utf8'), {}, 'collector.yaml');
  t.is(collector.listen.port, 7070);
  t.is(compose.services.collector!.command!.at(-1), '/etc/tributary/collector.yaml');

  // Grafana: the provisioned dashboard folder is where compose mounts the dashboards.
  const provider = parse(
    await readFile(path.join(DEPLOY, 'grafana/provisioning/dashboards/tributary.yaml'), 'utf8'),
  ) as { providers: { options: { path: string } }[] };
  const grafanaVolumes = compose.services.grafana!.volumes!;
  t.true(grafanaVolumes.includes(`../grafana/dashboards:${provider.providers[0]!.options.path}:ro`));
  // Prometheus: the rule file and the file_sd directory are mounted where prometheus.yml expects them.
  const prom = parse(await readFile(path.join(DEPLOY, 'prometheus/prometheus.yml'), 'utf8')) as {
    rule_files: string[];
    scrape_configs: { file_sd_configs: { files: string[] }[] }[];
  };
  const promVolumes = compose.services.prometheus!.volumes!;
  t.true(promVolumes.includes(`../prometheus/alerts.yaml:${prom.rule_files[0]}:ro`));
  for (const job of prom.scrape_configs) {
    for (const f of job.file_sd_configs[0]!.files) {
      t.true(existsSync(path.join(dir, 'prometheus-targets', path.basename(f))), `target file for ${f}`);
      t.true(promVolumes.includes(`./prometheus-targets:${path.dirname(f)}:ro`));
    }
  }
});

test('deploy - dashboards: valid JSON, unique uids, every variable used is defined, required panels', async (t) => {
  const uids = new Set<string>();
  for (const file of DASHBOARDS) {
    const dash = JSON.parse(await readFile(file, 'utf8')) as {
      uid: string;
      templating: { list: { name: string }[] };
      panels: { title: string; gridPos: object; targets: { expr: string }[] }[];
    };
    t.false(uids.has(dash.uid));
    uids.add(dash.uid);
    const defined = new Set([...dash.templating.list.map((v) => v.name), '__rate_interval', '__range', '__interval']);
    for (const panel of dash.panels) {
      t.truthy(panel.gridPos, `${panel.title}: gridPos`);
      for (const target of panel.targets) {
        for (const m of target.expr.matchAll(/\$\{?(\w+)/g)) t.true(defined.has(m[1]!), `${panel.title}: $${m[1]}`);
        t.notRegex(grafanaToPromql(target.expr), /\$/);
      }
    }
  }
  const text = (await Promise.all(DASHBOARDS.map((f) => readFile(f, 'utf8')))).join('\n');
  // The list: fleet (ingest by host and service, bytes behind, retries, errors, truncated lines) and
  // collector (append rate, produce latency percentiles, disk per topic, consumer lag per group).
  for (const needle of [
    'sum by (host) (rate(tributary_agent_lines_acknowledged_total',
    'sum by (service) (rate(tributary_agent_source_lines_acknowledged_total',
    'tributary_agent_bytes_behind',
    'tributary_agent_retries_total',
    'tributary_agent_lines_dropped_total',
    'tributary_agent_lines_truncated_total',
    'sum by (topic) (rate(tributary_collector_records_appended_total',
    'histogram_quantile(0.99, sum by (le) (rate(tributary_collector_produce_duration_seconds_bucket',
    'sum by (topic) (tributary_collector_log_size_bytes',
    'sum by (group, topic) (tributary_collector_group_lag',
  ]) {
    t.true(text.includes(needle), needle);
  }
});
