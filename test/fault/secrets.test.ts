/**
 * Tokens never leak: a real collector with three tokens and real agents (one with the right token, one with an
 * unknown token, one with a token of the wrong role) run at log level trace; clients call with right, wrong and
 * malformed credentials. Then every byte each process wrote to stdout and stderr, both /metrics pages, every
 * error body and `--print-config` are searched for each token (whole, and its first and last 16 characters).
 *
 * test/collector/auth.test.ts checks the collector's log for its fixed test tokens at its default level; this test
 * adds the agent, trace logging, metrics, error bodies and partial matches, with random tokens.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { REPO, tempDir, waitFor, writeAgentConfig } from '../agent/support.ts';
import { call } from '../collector/support.ts';
import { CLI, CollectorProcess } from '../helpers/collector-process.ts';

const token = (role: string) => `${role}-${randomBytes(20).toString('hex')}`;
const ADMIN = token('admin');
const PRODUCE = token('produce');
const READ = token('read');
const UNKNOWN = token('unknown');
const SECRETS = { ADMIN, PRODUCE, READ, UNKNOWN } as const;

interface Agent {
  readonly child: ChildProcess;
  output: string;
  metricsUrl: string;
}

/** The agent at log level trace (test/agent/support.ts's helper starts it at the default level). */
async function startAgent(config: string): Promise<Agent> {
  const child = spawn(process.execPath, [CLI, 'agent', '--config', config, '--log-level', 'trace'], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const agent: Agent = { child, output: '', metricsUrl: '' };
  child.stdout!.on('data', (d: Buffer) => {
    agent.output += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    agent.output += d.toString();
  });
  agent.metricsUrl = await waitFor('the agent to start', () => {
    if (child.exitCode !== null) throw new Error(`the agent exited: ${agent.output.slice(-2000)}`);
    const started = agent.output
      .split('\n')
      .map((l) => {
        try {
          return JSON.parse(l) as { msg?: string; metrics?: string };
        } catch {
          return undefined;
        }
      })
      .find((l) => l?.msg === 'agent started');
    return started?.metrics;
  });
  return agent;
}

async function stopAgent(agent: Agent): Promise<void> {
  if (agent.child.exitCode !== null || agent.child.signalCode !== null) return;
  const exited = new Promise((r) => agent.child.once('exit', r));
  agent.child.kill('SIGTERM');
  const timer = setTimeout(() => agent.child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

function leaks(where: string, text: string): string[] {
  const found: string[] = [];
  for (const [name, secret] of Object.entries(SECRETS)) {
    for (const piece of [secret, secret.slice(0, 16), secret.slice(-16)]) {
      if (text.includes(piece)) found.push(`${where} contains the ${name} token${piece === secret ? '' : ' (part)'}`);
    }
  }
  return found;
}

test('secrets - tokens never appear in stdout, stderr, /metrics, error bodies or --print-config of the collector and the agents', async (t) => {
  const collector = await CollectorProcess.start({
    config: {
      log_level: 'trace',
      tokens: [
        { name: 'admin', token: ADMIN, role: 'admin' },
        { name: 'agent', token: PRODUCE, role: 'produce' },
        { name: 'reader', token: READ, role: 'read' },
      ],
    },
  });
  const agents: Agent[] = [];
  t.teardown(async () => {
    for (const a of agents) await stopAgent(a);
    await collector.dispose();
  });
  const texts: [string, string][] = [];

  // Agents: right token, unknown token, right token with the wrong role.
  const dirs = await Promise.all([0, 1, 2].map(() => tempDir('tributary-fault-secrets-')));
  const lines = Array.from({ length: 100 }, (_v, i) => `secret test line ${i}`);
  const setups: readonly (readonly [string, string])[] = [
    [dirs[0]!, PRODUCE],
    [dirs[1]!, UNKNOWN],
    [dirs[2]!, READ],
  ];
  t.teardown(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
  for (const [i, [dir, secret]] of setups.entries()) {
    const logs = path.join(dir, 'logs');
    await mkdir(logs);
    await appendFile(path.join(logs, 'app.log'), lines.map((l) => `${l}\n`).join(''));
    const config = await writeAgentConfig({
      dir,
      collectorUrl: collector.url,
      sources: [{ include: [`${logs}/*.log`], topic: `secrets-${i}` }],
      extra: { collector: { urls: [collector.url], token: secret, retry: { initial: '50ms', max: '200ms' } } },
    });
    agents.push(await startAgent(config));
  }

  // The right token delivers; the wrong ones are retried (401 / 403) without a leak.
  const delivered = await waitFor('the agent with the right token to deliver', async () => {
    const res = await call(`${collector.url}/v1/topics/secrets-0/partitions/0/records?offset=0&max_bytes=1048576`, {
      token: READ,
    });
    const records = (res.json as { records?: { value: string }[] } | undefined)?.records ?? [];
    return records.length >= lines.length ? records : undefined;
  });
  const got = new Set(delivered.map((r) => r.value));
  t.deepEqual(
    lines.filter((l) => !got.has(l)),
    [],
    'every line of the agent with the right token arrived',
  );
  for (const agent of agents.slice(1)) {
    await waitFor('the agent with a bad token to be refused and retry', () => /answered 40[13]/.test(agent.output));
  }

  // Clients: right, wrong and malformed credentials on every role.
  const ndjson = `${JSON.stringify({ key: 'k', value: 'v' })}\n`;
  const attempts: [string, Record<string, string>][] = [
    ['right produce', { authorization: `Bearer ${PRODUCE}` }],
    ['unknown', { authorization: `Bearer ${UNKNOWN}` }],
    ['wrong role', { authorization: `Bearer ${READ}` }],
    ['basic', { authorization: `Basic ${Buffer.from(`user:${ADMIN}`).toString('base64')}` }],
    ['no scheme', { authorization: ADMIN }],
    ['trailing', { authorization: `Bearer ${ADMIN} ${UNKNOWN}` }],
    ['lower-case scheme', { authorization: `bearer ${UNKNOWN}` }],
    ['token in another header', { 'x-token': UNKNOWN, authorization: `Bearer ${UNKNOWN}x` }],
  ];
  for (const [what, headers] of attempts) {
    const produce = await call(`${collector.url}/v1/topics/secrets-direct/records`, {
      method: 'POST',
      body: ndjson,
      headers: { ...headers, 'content-type': 'application/x-ndjson' },
    });
    texts.push([`the answer to a produce with ${what} credentials`, produce.text]);
    const admin = await call(`${collector.url}/v1/topics`, {
      method: 'POST',
      body: JSON.stringify({ name: 'secrets-admin', partitions: 1 }),
      headers: { ...headers, 'content-type': 'application/json' },
    });
    texts.push([`the answer to a topic create with ${what} credentials`, admin.text]);
    // An invalid body (400, logged at debug) with each credential: error paths at trace level are covered too.
    const bad = await call(`${collector.url}/v1/groups/g/offsets`, {
      method: 'POST',
      body: '{"offsets": [{"topic": 1}]}',
      headers: { ...headers, 'content-type': 'application/json' },
    });
    texts.push([`the answer to a bad group commit with ${what} credentials`, bad.text]);
  }
  const right = await call(`${collector.url}/v1/topics/secrets-direct/partitions/0/records?offset=0`, { token: READ });
  t.is(right.status, 200, right.text);

  // Everything the processes showed.
  texts.push(['the collector /metrics', (await call(`${collector.url}/metrics`)).text]);
  for (const [i, agent] of agents.entries()) {
    texts.push([`agent ${i} /metrics`, await (await fetch(agent.metricsUrl)).text()]);
  }
  const printed = spawnSync(process.execPath, [CLI, 'collector', '--config', collector.configFile, '--print-config'], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.is(printed.status, 0, printed.stderr);
  t.regex(printed.stdout, /tokens:/);
  texts.push(['collector --print-config', printed.stdout + printed.stderr]);
  for (const agent of agents) await stopAgent(agent);
  await collector.stop();
  texts.push(['the collector stdout and stderr', collector.logs]);
  for (const [i, agent] of agents.entries()) texts.push([`agent ${i} stdout and stderr`, agent.output]);

  t.true(collector.logs.length > 0, 'the collector logged something at trace level');
  t.true(agents.every((a) => a.output.length > 0));
  t.deepEqual(
    texts.flatMap(([where, text]) => leaks(where, text)),
    [],
  );
  t.log(
    `searched ${texts.length} outputs (${texts.reduce((n, [, x]) => n + x.length, 0)} bytes) for 4 tokens: none found`,
  );
});
