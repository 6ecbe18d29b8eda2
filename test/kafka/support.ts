/**
 * Helpers for the Kafka listener's tests: a collector process with kafka.listen on a free loopback port, and the
 * real clients (kcat, Confluent's Python client) run as child processes with a deadline. A missing client is a
 * failure under CI=true and a skip (with the reason) elsewhere.
 */
import { execFile, spawnSync } from 'node:child_process';
import { CollectorProcess, type CollectorProcessOptions } from '../helpers/collector-process.ts';
import { freePort } from '../helpers/ports.ts';
import { needs } from '../helpers/requirement.ts';

export const PYTHON = '/usr/bin/python3';

export interface KafkaCollector {
  readonly collector: CollectorProcess;
  /** host:port of the Kafka listener. */
  readonly bootstrap: string;
  readonly kafkaPort: number;
}

export async function startKafkaCollector(options: CollectorProcessOptions = {}): Promise<KafkaCollector> {
  const kafkaPort = await freePort();
  const config = options.config ?? {};
  const kafka = (config.kafka as Record<string, unknown> | undefined) ?? {};
  const collector = await CollectorProcess.start({
    ...options,
    config: { ...config, kafka: { listen: `127.0.0.1:${kafkaPort}`, ...kafka } },
  });
  return { collector, bootstrap: `127.0.0.1:${kafkaPort}`, kafkaPort };
}

function runs(command: string, args: string[]): true | undefined {
  return spawnSync(command, args, { stdio: 'ignore', timeout: 30_000 }).status === 0 ? true : undefined;
}

/** Tests that need kcat / Confluent's Python client: they fail under CI=true without it, and skip elsewhere. */
export const withKcat = needs(runs('kcat', ['-V']), 'kcat is not installed (apt-get install -y kcat)');
export const withPythonKafka = needs(
  runs(PYTHON, ['-c', 'import confluent_kafka']),
  'python3-confluent-kafka is not installed (apt-get install -y python3-confluent-kafka)',
);

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command with stdin, to completion or `timeoutMs` (then SIGKILL); never rejects. */
export function run(command: string, args: readonly string[], input = '', timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      command,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: unknown }).code as number | null) : 0;
        resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
      },
    );
    child.stdin?.end(input);
  });
}

/** One message as `kcat -J` prints it. */
export interface KcatMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly tstype: string;
  readonly ts: number;
  readonly key: string | null;
  readonly payload: string | null;
  readonly headers?: readonly string[];
}

/** Consumes a topic from the beginning to its end with kcat and returns the messages (JSON envelope). */
export async function kcatConsume(
  bootstrap: string,
  topic: string,
  extra: readonly string[] = [],
): Promise<KcatMessage[]> {
  const result = await run('kcat', ['-b', bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-J', '-q', ...extra]);
  if (result.code !== 0) throw new Error(`kcat exited with ${result.code}: ${result.stderr}`);
  return result.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as KcatMessage);
}

/** kcat's headers array ([k1, v1, k2, v2, …]) as an object. */
export function headersOf(message: KcatMessage): Record<string, string> {
  const out: Record<string, string> = {};
  const h = message.headers ?? [];
  for (let i = 0; i + 1 < h.length; i += 2) out[h[i]!] = h[i + 1]!;
  return out;
}

/** One request frame: size, header (`correlationId`, a null client id), body. */
export function requestFrame(apiKey: number, version: number, body: Buffer, correlationId = 7): Buffer {
  const header = Buffer.alloc(10);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(version, 2);
  header.writeInt32BE(correlationId, 4);
  header.writeInt16BE(-1, 8); // null client id
  const size = Buffer.alloc(4);
  size.writeInt32BE(header.length + body.length, 0);
  return Buffer.concat([size, header, body]);
}
