/**
 * A real Prometheus server (the Debian `prometheus` binary) on a free loopback port, scraping given targets every
 * second, with its TSDB in a temporary directory; `query` runs PromQL through its HTTP API. Under CI=true a missing
 * binary is an error (a test must fail, not skip); elsewhere `prometheusBinary()` returns undefined so the test
 * can skip with a reason.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { sleep } from './collector-process.ts';
import { freePort } from './ports.ts';

export function prometheusBinary(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' });
  const bin = found.status === 0 ? found.stdout.trim() : '';
  if (bin) return bin;
  if (process.env.CI === 'true')
    throw new Error('the prometheus binary is required under CI=true (apt install prometheus)');
  return undefined;
}

export interface PromSample {
  readonly metric: Record<string, string>;
  readonly value: number;
}

export class PrometheusServer {
  private output = '';
  private constructor(
    readonly url: string,
    private readonly dir: string,
    private readonly child: ChildProcess,
    private readonly exited: Promise<number | null>,
  ) {
    child.stdout?.on('data', (d: Buffer) => {
      this.output += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      this.output += d.toString();
    });
  }

  static async start(options: { targets: readonly string[]; binary?: string }): Promise<PrometheusServer> {
    const bin = options.binary ?? prometheusBinary();
    if (!bin) throw new Error('prometheus is not installed');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-prometheus-'));
    const port = await freePort();
    const config = {
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      scrape_configs: [{ job_name: 'tributary', static_configs: [{ targets: [...options.targets] }] }],
    };
    const configFile = path.join(dir, 'prometheus.yml');
    await writeFile(configFile, stringify(config));
    const child = spawn(
      bin,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${path.join(dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const server = new PrometheusServer(`http://127.0.0.1:${port}`, dir, child, exited);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${server.output}`);
      try {
        if ((await fetch(`${server.url}/-/ready`, { signal: AbortSignal.timeout(2000) })).status === 200) return server;
      } catch {
        // not yet listening
      }
      await sleep(200);
    }
    await server.stop();
    throw new Error(`prometheus was not ready within 60 s:\n${server.output}`);
  }

  get logs(): string {
    return this.output;
  }

  /** Runs an instant PromQL query and returns the vector's samples. */
  async query(promql: string): Promise<PromSample[]> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    if (body.status !== 'success' || !body.data) throw new Error(`PromQL ${promql} failed: ${body.error}`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** Polls `query` until `accept` returns true for its samples, or throws with the last answer after `timeoutMs`. */
  async waitFor(promql: string, accept: (s: PromSample[]) => boolean, timeoutMs = 60_000): Promise<PromSample[]> {
    const deadline = Date.now() + timeoutMs;
    let last: PromSample[] = [];
    while (Date.now() < deadline) {
      last = await this.query(promql);
      if (accept(last)) return last;
      await sleep(500);
    }
    throw new Error(`PromQL ${promql} never matched within ${timeoutMs} ms; last answer ${JSON.stringify(last)}`);
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
