/**
 * deploy - the dashboards and alert rules work against the real thing: a collector and an agent (child processes)
 * ship a short load, a real Prometheus scrapes them with deploy/prometheus/prometheus.yml and loads
 * deploy/prometheus/alerts.yaml, and every PromQL expression shipped in deploy/ returns at least one series.
 * The manifests (compose, Kubernetes) only mention metric names the running processes expose.
 */
import { appendFile, mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { startAgentProcess, tempDir, waitFor, writeAgentConfig } from '../agent/support.ts';
import { CollectorProcess } from '../helpers/collector-process.ts';
import { prometheusBinary } from '../helpers/prometheus.ts';
import { needs } from '../helpers/requirement.ts';
import {
  alertRules,
  alertSignals,
  DEPLOY,
  DeployedPrometheus,
  dashboardQueries,
  exposedMetricNames,
  mentionedMetricNames,
} from './support.ts';

const withPrometheus = needs(prometheusBinary(), 'prometheus is not installed (apt install prometheus)');

// The whole stack is started once: starting processes is slow on a loaded 2-core machine.
withPrometheus.serial(
  'deploy - every dashboard and alert expression returns series from a running agent and collector',
  async (t, bin) => {
    t.timeout(300_000);
    const dir = await tempDir('tributary-deploy-test-');
    const logDir = path.join(dir, 'logs');
    await mkdir(logDir);
    const logFile = path.join(logDir, 'app.log');
    await appendFile(logFile, '');
    const collector = await CollectorProcess.start();
    let agent: Awaited<ReturnType<typeof startAgentProcess>> | undefined;
    let prometheus: DeployedPrometheus | undefined;
    let trickle: NodeJS.Timeout | undefined;
    try {
      const configFile = await writeAgentConfig({
        dir,
        collectorUrl: collector.url,
        sources: [
          {
            name: 'app',
            service: 'checkout',
            include: [path.join(logDir, '*.log')],
            topic: 'app',
            max_line_bytes: 1024,
          },
        ],
      });
      agent = await startAgentProcess(configFile);
      const agentTarget = new URL(agent.metricsUrl).host;
      const collectorTarget = new URL(collector.url).host;

      // The load: 2 000 lines, one of them longer than max_line_bytes (truncated), then a line every 200 ms so the
      // rates stay above zero while the queries run.
      const lines = Array.from({ length: 2000 }, (_, i) => `level=info i=${i} msg="request handled"`);
      lines.push(`level=warn msg="${'x'.repeat(5000)}"`);
      await appendFile(logFile, `${lines.join('\n')}\n`);
      let n = 0;
      trickle = setInterval(() => void appendFile(logFile, `level=info trickle=${n++}\n`), 200);
      await waitFor('the agent to have 2 001 lines acknowledged', async () =>
        (await agent!.metric('tributary_agent_lines_acknowledged_total')) >= 2001 ? true : undefined,
      );

      // What the collector dashboard needs besides produce: a consumer group with a committed offset, a fetch, and
      // requests rejected with an error code.
      const commit = await fetch(`${collector.url}/v1/groups/dashboards/offsets`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ offsets: [{ topic: 'app', partition: 0, offset: 1 }] }),
      });
      t.is(commit.status, 200, await commit.text());
      const fetched = await fetch(`${collector.url}/v1/topics/app/partitions/0/records?offset=0&max_bytes=1024`);
      t.is(fetched.status, 200);
      await fetched.arrayBuffer();
      t.is((await fetch(`${collector.url}/v1/topics/no-such-topic`)).status, 404);

      prometheus = await DeployedPrometheus.start(bin, { agents: [agentTarget], collectors: [collectorTarget] });
      const p = prometheus;
      await waitFor('both targets up', async () => (await p.query('up == 1')).length === 2, 60_000, 500);
      // Rates, deriv and predict_linear need a few samples in their windows.
      await waitFor(
        'five scrapes of the agent',
        async () =>
          ((await p.query(`count_over_time(up{job="tributary-agent"}[1m])`))[0]?.value ?? 0) >= 5 ? true : undefined,
        60_000,
        500,
      );

      // The relabelling of deploy/prometheus/prometheus.yml: host is the target's address without the port.
      const byHost = await p.query('sum by (host) (rate(tributary_agent_lines_acknowledged_total[1m]))');
      t.deepEqual(
        byHost.map((s) => s.metric.host),
        ['127.0.0.1'],
      );
      t.true(byHost[0]!.value > 0, 'the fleet dashboard shows lines flowing');
      const byService = await p.query('sum by (service) (rate(tributary_agent_source_lines_acknowledged_total[1m]))');
      t.deepEqual(
        byService.map((s) => s.metric.service),
        ['checkout'],
      );

      const failures: string[] = [];
      const queries = await dashboardQueries();
      for (const rule of await alertRules()) {
        // The full expression must be valid PromQL (it returns nothing while all is well)...
        queries.push({ where: `alert ${rule.alert} (whole expression, may be empty)`, promql: rule.expr });
        // ...and each of its signals must return series.
        for (const [i, signal] of alertSignals(rule.expr).entries()) {
          queries.push({ where: `alert ${rule.alert} / signal ${i + 1}`, promql: signal });
        }
      }
      t.true(queries.length >= 50, `only ${queries.length} expressions found`);
      for (const q of queries) {
        const mayBeEmpty = q.where.includes('may be empty');
        // Series appear as scrapes come in: poll each for a while before calling it empty.
        let result: { metric: Record<string, string>; value: number }[] = [];
        let error: string | undefined;
        const deadline = Date.now() + (mayBeEmpty ? 0 : 20_000);
        for (;;) {
          try {
            result = await p.query(q.promql);
            error = undefined;
          } catch (e) {
            error = (e as Error).message;
          }
          if (error || mayBeEmpty || result.length > 0 || Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 1000));
        }
        if (error) failures.push(`${q.where}: ${error}`);
        else if (!mayBeEmpty && result.length === 0) failures.push(`${q.where}: no series for ${q.promql}`);
      }
      t.deepEqual(failures, [], `${failures.length} of ${queries.length} expressions failed`);
      t.log(`${queries.length} PromQL expressions evaluated against the running agent and collector`);

      // Prometheus evaluated every rule of alerts.yaml without an error.
      const rules = await p.api<{ groups: { rules: { name: string; health: string; lastError?: string }[] }[] }>(
        '/api/v1/rules',
      );
      const loaded = rules.groups.flatMap((g) => g.rules);
      t.is(loaded.length, (await alertRules()).length);
      await waitFor('every rule evaluated', async () => {
        const now = (
          await p.api<{ groups: { rules: { name: string; health: string }[] }[] }>('/api/v1/rules')
        ).groups.flatMap((g) => g.rules);
        return now.every((r) => r.health === 'ok') ? true : undefined;
      });

      // Every metric name mentioned by the manifests and the shipped PromQL is exposed by a running process.
      const exposed = new Set([
        ...exposedMetricNames(await (await fetch(agent.metricsUrl)).text()),
        ...exposedMetricNames(await (await fetch(`${collector.url}/metrics`)).text()),
      ]);
      const files = [
        'docker/compose.yaml',
        'docker/agent.yaml',
        'docker/collector.yaml',
        'kubernetes/agent.yaml',
        'kubernetes/collector.yaml',
        'kubernetes/monitoring.yaml',
        'prometheus/alerts.yaml',
        'grafana/dashboards/tributary-fleet.json',
        'grafana/dashboards/tributary-collector.json',
      ];
      const unknown: string[] = [];
      let mentioned = 0;
      for (const file of files) {
        for (const name of mentionedMetricNames(await readFile(path.join(DEPLOY, file), 'utf8'))) {
          mentioned++;
          if (!exposed.has(name)) unknown.push(`${file}: ${name}`);
        }
      }
      t.deepEqual(unknown, [], 'metric names that neither the agent nor the collector exposes');
      t.true(mentioned > 30);
    } finally {
      clearInterval(trickle);
      await prometheus?.stop();
      await agent?.stop();
      await collector.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  },
);

withPrometheus.test(
  'deploy - an alert fires: TributaryAgentDown once the agent is gone (rule evaluated with a short for)',
  async (t, bin) => {
    // The shipped rule waits 5 minutes; here the same expression is checked to turn true when the target dies.
    t.timeout(240_000);
    const dir = await tempDir('tributary-deploy-test-');
    await mkdir(path.join(dir, 'logs'));
    const collector = await CollectorProcess.start();
    let prometheus: DeployedPrometheus | undefined;
    try {
      const configFile = await writeAgentConfig({
        dir,
        collectorUrl: collector.url,
        sources: [{ name: 'app', include: [path.join(dir, 'logs/*.log')], topic: 'app' }],
      });
      const agent = await startAgentProcess(configFile);
      prometheus = await DeployedPrometheus.start(bin, {
        agents: [new URL(agent.metricsUrl).host],
        collectors: [new URL(collector.url).host],
      });
      const p = prometheus;
      const expr = (await alertRules()).find((r) => r.alert === 'TributaryAgentDown')!.expr;
      await waitFor('the agent scraped', async () => (await p.query('up{job="tributary-agent"} == 1')).length === 1);
      t.deepEqual(await p.query(expr), [], 'silent while the agent runs');
      await agent.stop();
      const firing = await waitFor('the AgentDown expression to turn true', async () => {
        const r = await p.query(expr);
        return r.length === 1 ? r : undefined;
      });
      t.is(firing[0]!.metric.host, '127.0.0.1');
      // And Prometheus itself sees the alert pending (its `for` has not run out yet).
      await waitFor('the alert pending', async () => {
        const alerts = await p.api<{ alerts: { labels: { alertname: string }; state: string }[] }>('/api/v1/alerts');
        return alerts.alerts.some((a) => a.labels.alertname === 'TributaryAgentDown' && a.state === 'pending')
          ? true
          : undefined;
      });
    } finally {
      await prometheus?.stop();
      await collector.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  },
);
