/**
 * Real nats-server processes for tests: one node with JetStream on a free loopback port and a temporary store
 * directory, or a three-node JetStream cluster on loopback (client and cluster ports chosen by the OS, full-mesh
 * routes, server names n1..n3). Every process is killed and every directory removed by `stop()`.
 *
 * Under CI=true a missing binary is a failure (the test must not silently skip); elsewhere callers may use
 * `natsServerAvailable()` to skip.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.ts';

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

async function startNodes(count: number): Promise<NatsCluster> {
  natsServerAvailable();
  const root = await mkdtemp(path.join(os.tmpdir(), 'tributary-nats-'));
  const ports = [];
  for (let i = 0; i < count; i++) ports.push({ client: await freePort(), cluster: await freePort() });
  const nodes: NatsNode[] = [];
  for (let i = 0; i < count; i++) {
    const name = `n${i + 1}`;
    const storeDir = path.join(root, name);
    const lines = [
      `server_name: ${name}`,
      'listen: "127.0.0.1:' + ports[i]?.client + '"',
      `jetstream { store_dir: "${storeDir}", max_memory_store: 256MB, max_file_store: 2GB }`,
    ];
    if (count > 1) {
      const routes = ports.map((p) => `"nats-route://127.0.0.1:${p.cluster}"`).join(', ');
      lines.push(`cluster { name: tributary-test, listen: "127.0.0.1:${ports[i]?.cluster}", routes: [${routes}] }`);
    }
    const conf = path.join(root, `${name}.conf`);
    await writeFile(conf, `${lines.join('\n')}\n`);
    const port = ports[i]?.client ?? 0;
    const node: NatsNode = {
      name,
      port,
      url: `nats://127.0.0.1:${port}`,
      clusterPort: ports[i]?.cluster ?? 0,
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
