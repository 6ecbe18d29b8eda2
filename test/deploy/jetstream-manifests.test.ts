/**
 * deploy - the JetStream-backed deployment files agree with deploy/nats/ and with the loaders: compose mounts the
 * three node configs as they are, its collector and agent configs pass the real loaders (JetStream, three replicas,
 * a body limit within max_payload, NATS URLs), and the Kubernetes NATS config carries the same settings as the node
 * configs (only names and routes differ). That the node configs form a working cluster is test/cluster's job.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { parse, parseAllDocuments } from 'yaml';
import { parseAgentConfig } from '../../agent/config.ts';
import { parseCollectorConfig } from '../../collector/config.ts';
import { interpolateEnv } from '../../shared/config-file.ts';
import { DEPLOY } from './support.ts';

/** nats-server's size units (1024-based): what `max_payload: 8MB` means to the server. */
function natsSize(value: string): number {
  const m = /^(\d+)(KB|MB|GB)?$/i.exec(value.trim());
  if (!m) throw new Error(`not a nats size: ${value}`);
  const unit = { KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[(m[2] ?? '').toUpperCase() as 'KB' | 'MB' | 'GB'] ?? 1;
  return Number(m[1]) * unit;
}

/** The `key: value` settings of a nats config, comments and blank lines dropped, without names and routes. */
function settings(conf: string): string[] {
  return conf
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('server_name') && !l.startsWith('nats-route://'));
}

test('deploy - compose.jetstream: three servers from deploy/nats/, collectors and agent configs valid', async (t) => {
  const dir = path.join(DEPLOY, 'docker');
  const compose = parse(await readFile(path.join(dir, 'compose.jetstream.yaml'), 'utf8'), { merge: true }) as {
    services: Record<string, { image?: string; volumes?: string[]; command?: string[] }>;
    volumes: Record<string, unknown>;
  };
  t.deepEqual(Object.keys(compose.services).sort(), [
    'agent',
    'collector-a',
    'collector-b',
    'loggen',
    'nats-1',
    'nats-2',
    'nats-3',
  ]);
  for (const [name, service] of Object.entries(compose.services)) {
    t.truthy(service.image, `${name}: image`);
    for (const volume of service.volumes ?? []) {
      const source = volume.split(':')[0]!;
      if (source.startsWith('.')) t.true(existsSync(path.resolve(dir, source)), `${name}: ${source} exists`);
      else t.true(source in compose.volumes, `${name}: named volume ${source} is declared`);
    }
  }
  for (const i of [1, 2, 3]) {
    t.true(compose.services[`nats-${i}`]!.volumes!.includes(`../nats/nats-${i}.conf:/etc/nats/nats.conf:ro`));
    const conf = await readFile(path.join(DEPLOY, 'nats', `nats-${i}.conf`), 'utf8');
    t.regex(conf, new RegExp(`^server_name: nats-${i}$`, 'm'));
  }

  const maxPayload = natsSize(
    /^max_payload: (\S+)$/m.exec(await readFile(path.join(DEPLOY, 'nats/nats-1.conf'), 'utf8'))![1]!,
  );
  const collectorFile = path.join(dir, 'collector-jetstream.yaml');
  const collector = parseCollectorConfig(parse(await readFile(collectorFile, 'utf8')), dir, collectorFile).options;
  t.is(collector.storage?.backend, 'jetstream');
  t.is(collector.storage?.replicas, 3);
  t.deepEqual(collector.nats?.servers, ['nats://nats-1:4222', 'nats://nats-2:4222', 'nats://nats-3:4222']);
  t.true(collector.limits.maxBodyBytes <= maxPayload, 'limits.max_body_bytes within max_payload');
  const agentFile = path.join(dir, 'agent-nats.yaml');
  const agent = parseAgentConfig(parse(await readFile(agentFile, 'utf8')), dir, agentFile);
  t.deepEqual(agent.collector.urls, collector.nats?.servers);
  t.true(agent.collector.maxRequestBytes < maxPayload, 'agent requests below max_payload');
});

test('deploy - Kubernetes JetStream: the NATS StatefulSet carries the settings of deploy/nats/', async (t) => {
  const dir = path.join(DEPLOY, 'kubernetes/jetstream');
  const kustomization = parse(await readFile(path.join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  const objects: { kind: string; metadata: { name: string }; data?: Record<string, string>; spec?: unknown }[] = [];
  for (const file of kustomization.resources) {
    for (const doc of parseAllDocuments(await readFile(path.join(dir, file), 'utf8'))) objects.push(doc.toJS());
  }
  const nats = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'tributary-nats');
  const set = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'nats') as
    | { spec: { replicas: number; serviceName: string } }
    | undefined;
  t.is(set?.spec.replicas, 3);
  const conf = nats?.data?.['nats.conf'] ?? '';
  const node = await readFile(path.join(DEPLOY, 'nats/nats-1.conf'), 'utf8');
  t.deepEqual(settings(conf), settings(node), 'same settings as deploy/nats/ (names and routes aside)');
  t.is([...conf.matchAll(/nats-route:\/\/nats-(\d)\.nats-headless/g)].length, 3);
  t.is(set?.spec.serviceName, 'nats-headless');

  const collectorMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'tributary-collector');
  const env = {
    TRIBUTARY_AGENT_TOKEN: 'a'.repeat(24),
    TRIBUTARY_READER_TOKEN: 'r'.repeat(24),
    TRIBUTARY_ADMIN_TOKEN: 'x'.repeat(24),
  };
  const source = 'kubernetes/jetstream collector.yaml';
  const collector = parseCollectorConfig(
    interpolateEnv(parse(collectorMap?.data?.['collector.yaml'] ?? ''), env, source),
    '/',
    source,
  ).options;
  t.like(collector.storage, { backend: 'jetstream', replicas: 3 });
  t.true(collector.limits.maxBodyBytes <= natsSize(/max_payload: (\S+)/.exec(conf)![1]!));
  const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'tributary-collector') as
    | { spec: { replicas: number } }
    | undefined;
  t.is(deployment?.spec.replicas, 2, 'stateless collectors, more than one');
});
