/**
 * Real nats-server processes for tests, started from the cluster example's own files (deploy/nats/nats-N.conf),
 * so that what the docs tell operators to run is what the tests run. Rewritten, and only that: the client, cluster
 * and monitoring addresses become 127.0.0.1 with ports chosen by the OS, the routes point at those cluster ports,
 * and store_dir becomes a temporary directory; one node alone drops the cluster block. Server names stay
 * nats-1..nats-3. Every process is killed and every directory removed by `stop()`.
 *
 * Under CI=true a missing binary is a failure (the test must not silently skip); elsewhere callers may use
 * `natsServerAvailable()` to skip.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './collector-process.ts';
import { freePort } from './ports.ts';

/** The cluster example the tests run (docs/scaling.md). */
export const DEPLOY_NATS = path.join(REPO_ROOT, 'deploy/nats');

export const NATS_SERVER_BIN =
  process.env.NATS_SERVER_BIN ??
  ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((p) => existsSync(p)) ??
  '/usr/sbin/nats-server';

export function natsServerAvailable(): boolean {
  if (existsSync(NATS_SERVER_BIN)) return true;
  if (process.env.CI === 'true') throw new Error(`nats-server not found at ${NATS_SERVER_BIN} (required under CI)`);
  return false;
}

export interface NatsNode {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly clusterPort: number;
  /** The monitoring endpoint (`/jsz`, `/healthz`). */
  readonly monitorUrl: string;
  readonly storeDir: string;
  process: ChildProcess | undefined;
  /** SIGKILL: no clean shutdown, as a crashed machine. */
  kill(): Promise<void>;
  /** Starts the node again on the same ports and store. */
  restart(): Promise<void>;
}

export interface NatsCluster {
  readonly nodes: readonly NatsNode[];
  /** Every node's client URL, for a client that should fail over. */
  readonly servers: string[];
  stop(): Promise<void>;
}

async function waitForPort(port: number, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nats-server did not listen on 127.0.0.1:${port} in ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function killProcess(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

/**
 * The node config of deploy/nats/ for node `i` (1-based), rewritten for loopback: only addresses, ports and
 * store_dir change (the rules below, each of which must match, so a changed file fails here instead of drifting).
 * One node alone keeps no cluster block.
 */
export async function nodeConfig(
  i: number,
  ports: readonly { client: number; cluster: number; monitor: number }[],
  storeDir: string,
): Promise<string> {
  const source = path.join(DEPLOY_NATS, `nats-${i}.conf`);
  let text = await readFile(source, 'utf8');
  const own = ports[i - 1];
  if (own === undefined) throw new Error(`no ports for node ${i}`);
  const rewrite = (pattern: RegExp, replacement: string) => {
    if (!pattern.test(text))
      throw new Error(`${source}: expected ${pattern} (test/helpers/nats-server.ts rewrites it)`);
    text = text.replace(pattern, replacement);
  };
  rewrite(/^listen: 0\.0\.0\.0:4222$/m, `listen: 127.0.0.1:${own.client}`);
  rewrite(/^http: 0\.0\.0\.0:8222$/m, `http: 127.0.0.1:${own.monitor}`);
  rewrite(/^(\s*)store_dir: \/data\/jetstream$/m, `$1store_dir: "${storeDir}"`);
  if (ports.length === 1) {
    rewrite(/^cluster \{[\s\S]*?^\}$/m, '');
  } else {
    rewrite(/^(\s*)listen: 0\.0\.0\.0:6222$/m, `$1listen: 127.0.0.1:${own.cluster}`);
    for (let k = 1; k <= 3; k++) {
      const port = ports[k - 1]?.cluster;
      if (port === undefined) throw new Error(`the deploy/nats cluster has 3 nodes; ${ports.length} were asked for`);
      rewrite(new RegExp(`nats-route://nats-${k}:6222`), `nats-route://127.0.0.1:${port}`);
    }
  }
  return text;
}

/**
 * Until every node routes to every other (monitoring's /routez): a client that connects before that is told of a
 * smaller cluster (INFO's connect_urls), and a collector then warns about the wrong size.
 */
async function waitForRoutes(nodes: readonly NatsNode[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const routes = await Promise.all(
      nodes.map(async (n) => {
        try {
          const answer = (await (await fetch(`${n.monitorUrl}/routez`)).json()) as { num_routes?: number };
          return answer.num_routes ?? 0;
        } catch {
          return 0;
        }
      }),
    );
    if (routes.every((r) => r >= nodes.length - 1)) return;
    if (Date.now() > deadline)
      throw new Error(`the NATS cluster did not form within 30 s (routes per node: ${routes})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function startNodes(count: number): Promise<NatsCluster> {
  natsServerAvailable();
  if (count !== 1 && count !== 3) throw new Error('deploy/nats/ describes one node or a cluster of three');
  const root = await mkdtemp(path.join(os.tmpdir(), 'tributary-nats-'));
  const ports: { client: number; cluster: number; monitor: number }[] = [];
  for (let i = 0; i < count; i++) {
    ports.push({ client: await freePort(), cluster: await freePort(), monitor: await freePort() });
  }
  const nodes: NatsNode[] = [];
  for (let i = 0; i < count; i++) {
    const name = `nats-${i + 1}`;
    const storeDir = path.join(root, name);
    const conf = path.join(root, `${name}.conf`);
    await writeFile(conf, await nodeConfig(i + 1, ports, storeDir));
    const port = ports[i]?.client ?? 0;
    const node: NatsNode = {
      name,
      port,
      url: `nats://127.0.0.1:${port}`,
      clusterPort: ports[i]?.cluster ?? 0,
      monitorUrl: `http://127.0.0.1:${ports[i]?.monitor ?? 0}`,
      storeDir,
      process: undefined,
      async kill() {
        await killProcess(node.process);
      },
      async restart() {
        await killProcess(node.process);
        node.process = spawn(NATS_SERVER_BIN, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
        node.process.stderr?.resume();
        await waitForPort(port, 20_000);
      },
    };
    nodes.push(node);
  }
  try {
    await Promise.all(nodes.map((n) => n.restart()));
    if (count > 1) await waitForRoutes(nodes);
  } catch (err) {
    await Promise.all(nodes.map((n) => n.kill()));
    await rm(root, { recursive: true, force: true });
    throw err;
  }
  return {
    nodes,
    servers: nodes.map((n) => n.url),
    async stop() {
      await Promise.all(nodes.map((n) => n.kill()));
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** One nats-server with JetStream. */
export async function startNatsServer(): Promise<NatsCluster> {
  return await startNodes(1);
}

/**
 * A three-node JetStream cluster. JetStream needs a meta leader before streams can be created: callers should
 * retry their first stream creation (JetStreamLogStore.open does) rather than assume the cluster is ready.
 */
export async function startNatsCluster(count = 3): Promise<NatsCluster> {
  return await startNodes(count);
}
