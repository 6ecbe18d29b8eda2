/**
 * The real collector as a child process (`node dist/shared/cli/tributary.js collector --config …`) on a free loopback
 * port with a temporary data directory, for tests that must see what a user sees: real sockets, real signals,
 * real restarts. `stop()` sends a signal and waits for the exit; `kill()` is SIGKILL; `restart()` starts again on
 * the same data directory and port. `dispose()` removes the temporary directory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { freePort } from './ports.ts';
import { makeTempDir } from './temp-dirs.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * The `tributary` command as users run it: the compiled JavaScript in dist/ (package.json `bin`). `npm test` builds
 * it first; the one place tests name it (test/agent/support.ts re-exports it).
 */
export const CLI = path.join(REPO_ROOT, 'dist/shared/cli/tributary.js');
if (!existsSync(CLI)) {
  throw new Error(`${CLI} does not exist: run \`npm run build\` first (\`npm test\` does)`);
}

export interface CollectorProcessOptions {
  /** Keys merged (deeply) over the test defaults: loopback, free port, temp data_dir, log_level warn. */
  readonly config?: Record<string, unknown>;
  /** Listen on this port instead of a free one (a client configured before the collector starts). */
  readonly port?: number;
  /** Reuse a data directory (e.g. one left by another collector). */
  readonly dataDir?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** How long to wait for /readyz (default 60 s: a loaded 2-core machine is slow to start). */
  readonly readyTimeoutMs?: number;
  /** With TLS configured: the CA (or self-signed certificate) to trust; the URL becomes https. */
  readonly ca?: Buffer;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? deepMerge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

export class CollectorProcess {
  readonly dir: string;
  readonly dataDir: string;
  readonly configFile: string;
  readonly port: number;
  readonly url: string;
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;
  private output = '';
  private readonly env: NodeJS.ProcessEnv;
  private readonly readyTimeoutMs: number;
  private readonly ca: Buffer | undefined;

  private constructor(dir: string, dataDir: string, port: number, options: CollectorProcessOptions) {
    this.dir = dir;
    this.dataDir = dataDir;
    this.configFile = path.join(dir, 'collector.yaml');
    this.port = port;
    this.url = `${options.ca ? 'https' : 'http'}://127.0.0.1:${port}`;
    this.ca = options.ca;
    this.env = options.env ?? {};
    this.readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  }

  /** Writes the config and starts the collector; resolves once /readyz answers 200. */
  static async start(options: CollectorProcessOptions = {}): Promise<CollectorProcess> {
    // Removed by dispose(), and in any case when the test process exits.
    const dir = await makeTempDir('tributary-collector-');
    const dataDir = options.dataDir ?? path.join(dir, 'data');
    const port = options.port ?? (await freePort());
    const proc = new CollectorProcess(dir, dataDir, port, options);
    const config = deepMerge(
      { listen: { host: '127.0.0.1', port }, data_dir: dataDir, log_level: 'warn' },
      options.config ?? {},
    );
    await writeFile(proc.configFile, stringify(config));
    await proc.launch();
    return proc;
  }

  /** Everything the process wrote to stdout and stderr so far. */
  get logs(): string {
    return this.output;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private async launch(): Promise<void> {
    const child = spawn(process.execPath, [CLI, 'collector', '--config', this.configFile], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout?.on('data', (d: Buffer) => {
      this.output += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      this.output += d.toString();
    });
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + this.readyTimeoutMs;
    let exitCode: number | null | undefined;
    void this.exited.then((c) => {
      exitCode = c;
    });
    while (Date.now() < deadline) {
      if (exitCode !== undefined) {
        throw new Error(`the collector exited with status ${exitCode} before it was ready:\n${this.output}`);
      }
      try {
        if ((await this.readyStatus()) === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    child.kill('SIGKILL');
    throw new Error(`the collector was not ready within ${this.readyTimeoutMs} ms:\n${this.output}`);
  }

  private async readyStatus(): Promise<number> {
    if (!this.ca) return (await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(2000) })).status;
    const ca = this.ca;
    return await new Promise<number>((resolve, reject) => {
      const req = https.get(`${this.url}/readyz`, { ca, timeout: 2000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
    });
  }

  /** Sends `signal` and waits for the exit; returns the exit code (null when killed by a signal). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 60_000): Promise<number | null> {
    const child = this.child;
    if (!child || !this.exited) return null;
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
      this.child = undefined;
    }
  }

  /** SIGKILL: no shutdown at all, as in a crash or power cut of the process. */
  async kill(): Promise<void> {
    await this.stop('SIGKILL');
  }

  /** Starts a new process on the same data directory, port and config. */
  async restart(): Promise<void> {
    await this.stop();
    this.output = '';
    await this.launch();
  }

  /** Stops the process if running and removes the temporary directory. */
  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
    await rm(this.dir, { recursive: true, force: true });
  }
}
