/** What the consumer group tests share: a `tributary consume` process whose JSON lines are collected. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import test from 'ava';
import { CollectorClient } from '../../shared/client/collector-client.ts';
import { CLI, CollectorProcess, REPO_ROOT } from '../helpers/collector-process.ts';

/** One collector process for the whole test file (started before its tests, removed after), and a client of it. */
export function collectorForFile(
  ready: (collector: CollectorProcess, client: CollectorClient) => void | Promise<void>,
): void {
  let started: CollectorProcess | undefined;
  test.before(async () => {
    started = await CollectorProcess.start();
    await ready(started, new CollectorClient({ urls: started.url }));
  });
  test.after.always(async () => {
    await started?.dispose();
  });
}

export interface ConsumedLine {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
}

/** A `tributary consume … -o json` child process; `records` grows as it prints. */
export class ConsumeProcess {
  readonly records: ConsumedLine[] = [];
  private stderr = '';
  private readonly exited: Promise<number | null>;

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.trim() !== '') this.records.push(JSON.parse(line) as ConsumedLine);
    });
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static start(url: string, args: readonly string[]): ConsumeProcess {
    const child = spawn(process.execPath, [CLI, 'consume', ...args, '-o', 'json', '--url', url], {
      cwd: REPO_ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ConsumeProcess(child);
  }

  get errors(): string {
    return this.stderr;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Resolves with the exit code once the process ends (null when killed by a signal). */
  wait(): Promise<number | null> {
    return this.exited;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return await this.exited;
  }
}
