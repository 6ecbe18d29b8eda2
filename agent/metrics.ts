/**
 * The agent's Prometheus metrics: the only agent module that imports prom-client (through shared/metric-table.ts).
 * Components call the narrow methods of `AgentMetrics`; the names below, defined in one table (agentMetricTable),
 * are a contract with the Grafana dashboards and alert rules in deploy/.
 *
 *   tributary_agent_files_watched                     gauge      files open for reading
 *   tributary_agent_lines_read_total                  counter    lines (events, after multiline) read from files
 *   tributary_agent_bytes_read_total                  counter    bytes read from files
 *   tributary_agent_lines_acknowledged_total          counter    lines the collector acknowledged
 *   tributary_agent_bytes_acknowledged_total          counter    line bytes the collector acknowledged
 *   tributary_agent_source_lines_acknowledged_total{source,service,topic}  counter  the same, per configured source
 *   tributary_agent_source_bytes_acknowledged_total{source,service,topic}  counter  the same, per configured source
 *   tributary_agent_lines_dropped_total               counter    lines in requests rejected for good (4xx)
 *   tributary_agent_batches_sent_total{result}        counter    requests by result: ok, retried, rejected
 *   tributary_agent_send_duration_seconds             histogram  one HTTP/NATS request, send to response
 *   tributary_agent_retries_total                     counter    requests retried
 *   tributary_agent_bytes_behind{path}                gauge      file size minus acknowledged position
 *   tributary_agent_lines_truncated_total             counter    lines cut at max_line_bytes
 *   tributary_agent_rotations_total{kind}             counter    rename, copytruncate, deleted, inode_reused
 *   tributary_agent_file_errors_total{kind}           counter    files that could not be read (permission, other)
 *   tributary_agent_parse_failures_total              counter    lines the configured parser could not parse
 *   tributary_agent_unacked_bytes                     gauge      bytes read but not yet acknowledged
 *   tributary_agent_memory_limit_bytes                gauge      the bound on unacked bytes (readers pause at it)
 *   tributary_agent_checkpoint_writes_total           counter    checkpoint file writes
 *   process_* / nodejs_*                                         default process metrics
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { counter, gauge, histogram, registerMetrics } from '../shared/metric-table.ts';

export type RotationKind = 'rename' | 'copytruncate' | 'deleted' | 'inode_reused';
export type SendResult = 'ok' | 'retried' | 'rejected';
export interface SourceLabels {
  readonly source: string;
  readonly service: string;
  readonly topic: string;
}
export type FileErrorKind = 'permission' | 'not_found' | 'other';

const SOURCE = ['source', 'service', 'topic'] as const;
const SEND_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Every agent metric; `unacked` is read at scrape time (it changes once per line: too often to push). */
function agentMetricTable(unacked: () => { bytes: number; limit: number }) {
  return {
    filesWatched: gauge('tributary_agent_files_watched', 'Files open for reading.'),
    linesRead: counter('tributary_agent_lines_read_total', 'Lines (events, after multiline grouping) read from files.'),
    bytesRead: counter('tributary_agent_bytes_read_total', 'Bytes read from files.'),
    linesAcked: counter('tributary_agent_lines_acknowledged_total', 'Lines acknowledged by the collector.'),
    bytesAcked: counter('tributary_agent_bytes_acknowledged_total', 'Line bytes acknowledged by the collector.'),
    // Per source, so dashboards can show ingest by service; the unlabelled totals above stay for simple checks.
    sourceLinesAcked: counter(
      'tributary_agent_source_lines_acknowledged_total',
      'Lines acknowledged by the collector, per configured source.',
      SOURCE,
    ),
    sourceBytesAcked: counter(
      'tributary_agent_source_bytes_acknowledged_total',
      'Line bytes acknowledged by the collector, per configured source.',
      SOURCE,
    ),
    linesDropped: counter(
      'tributary_agent_lines_dropped_total',
      'Lines in requests the collector rejected for good (a 4xx that retrying cannot fix).',
    ),
    batchesSent: counter(
      'tributary_agent_batches_sent_total',
      'Produce requests by result: ok, retried (will be sent again), rejected (dropped).',
      ['result'],
    ),
    sendDuration: histogram(
      'tributary_agent_send_duration_seconds',
      'Time from sending a produce request to its response.',
      SEND_BUCKETS,
    ),
    retries: counter('tributary_agent_retries_total', 'Produce requests retried after a failure.'),
    bytesBehind: gauge('tributary_agent_bytes_behind', 'File size minus acknowledged position, per file.', ['path']),
    linesTruncated: counter('tributary_agent_lines_truncated_total', 'Lines longer than max_line_bytes, cut to it.'),
    rotations: counter('tributary_agent_rotations_total', 'File rotations detected, by kind.', ['kind']),
    fileErrors: counter(
      'tributary_agent_file_errors_total',
      'Files that matched but could not be opened or read, by kind.',
      ['kind'],
    ),
    parseFailures: counter(
      'tributary_agent_parse_failures_total',
      'Lines the configured parser could not parse (kept without fields).',
    ),
    unackedBytes: gauge(
      'tributary_agent_unacked_bytes',
      'Bytes read but not yet acknowledged by the collector.',
      [],
      (set) => set(unacked().bytes),
    ),
    memoryLimit: gauge(
      'tributary_agent_memory_limit_bytes',
      'Bound on unacknowledged bytes; readers pause when it is reached.',
      [],
      (set) => set(unacked().limit),
    ),
    checkpointWrites: counter('tributary_agent_checkpoint_writes_total', 'Checkpoint file writes.'),
  };
}

export class AgentMetrics {
  readonly registry = new Registry();
  private unackedSource: () => { bytes: number; limit: number } = () => ({ bytes: 0, limit: 0 });
  private readonly m = registerMetrics(
    agentMetricTable(() => this.unackedSource()),
    this.registry,
  );

  constructor(options: { defaultMetrics: boolean } = { defaultMetrics: true }) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    for (const result of ['ok', 'retried', 'rejected'] as const) this.m.batchesSent.inc({ result }, 0);
  }

  setFilesWatched(count: number): void {
    this.m.filesWatched.set(count);
  }
  read(lines: number, bytes: number): void {
    this.m.linesRead.inc(lines);
    this.m.bytesRead.inc(bytes);
  }
  acknowledged(lines: number, bytes: number, source?: SourceLabels): void {
    this.m.linesAcked.inc(lines);
    this.m.bytesAcked.inc(bytes);
    if (source) {
      this.m.sourceLinesAcked.inc(source, lines);
      this.m.sourceBytesAcked.inc(source, bytes);
    }
  }
  dropped(lines: number): void {
    this.m.linesDropped.inc(lines);
  }
  sent(result: SendResult, seconds: number): void {
    this.m.batchesSent.inc({ result });
    this.m.sendDuration.observe(seconds);
  }
  retried(): void {
    this.m.retries.inc();
  }
  setBytesBehind(filePath: string, bytes: number): void {
    this.m.bytesBehind.set({ path: filePath }, bytes);
  }
  forgetFile(filePath: string): void {
    this.m.bytesBehind.remove({ path: filePath });
  }
  truncatedLine(): void {
    this.m.linesTruncated.inc();
  }
  rotation(kind: RotationKind): void {
    this.m.rotations.inc({ kind });
  }
  fileError(kind: FileErrorKind): void {
    this.m.fileErrors.inc({ kind });
  }
  parseFailure(): void {
    this.m.parseFailures.inc();
  }
  /** The unacked-bytes gauges read `read()` at scrape time (it changes once per line: too often to push). */
  observeUnackedBytes(read: () => { bytes: number; limit: number }): void {
    this.unackedSource = read;
  }
  checkpointWritten(): void {
    this.m.checkpointWrites.inc();
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** What `/readyz` answers: 200 with `body` when ready, else 503 with it. */
export interface Readiness {
  readonly ready: boolean;
  readonly body: Readonly<Record<string, unknown>>;
}

/**
 * Serves GET /metrics, /healthz (the process runs) and /readyz (the agent can deliver: 503 with the topics it
 * cannot deliver, since when and how many bytes wait) on `listen` (host:port; port 0 picks a free one). Resolves
 * with the bound address.
 */
export async function serveMetrics(
  metrics: AgentMetrics,
  listen: { host: string; port: number },
  readiness: () => Readiness = () => ({ ready: true, body: { status: 'ready' } }),
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
      metrics.text().then(
        (body) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(body);
        },
        (error: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`metrics failed: ${error.message}\n`);
        },
      );
      return;
    }
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
      return;
    }
    if (req.method === 'GET' && req.url === '/readyz') {
      const { ready, body } = readiness();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found: try GET /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
