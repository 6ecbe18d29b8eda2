/**
 * The agent's Prometheus metrics: the only agent module that imports prom-client. Components call the narrow
 * methods of `AgentMetrics`; the names below are a contract with the Grafana dashboards and alert rules in deploy/.
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
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export type RotationKind = 'rename' | 'copytruncate' | 'deleted' | 'inode_reused';
export type SendResult = 'ok' | 'retried' | 'rejected';
export interface SourceLabels {
  readonly source: string;
  readonly service: string;
  readonly topic: string;
}
export type FileErrorKind = 'permission' | 'not_found' | 'other';

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly filesWatched = new Gauge({
    name: 'tributary_agent_files_watched',
    help: 'Files open for reading.',
    registers: [this.registry],
  });
  private readonly linesRead = new Counter({
    name: 'tributary_agent_lines_read_total',
    help: 'Lines (events, after multiline grouping) read from files.',
    registers: [this.registry],
  });
  private readonly bytesRead = new Counter({
    name: 'tributary_agent_bytes_read_total',
    help: 'Bytes read from files.',
    registers: [this.registry],
  });
  private readonly linesAcked = new Counter({
    name: 'tributary_agent_lines_acknowledged_total',
    help: 'Lines acknowledged by the collector.',
    registers: [this.registry],
  });
  private readonly bytesAcked = new Counter({
    name: 'tributary_agent_bytes_acknowledged_total',
    help: 'Line bytes acknowledged by the collector.',
    registers: [this.registry],
  });
  // Per source, so dashboards can show ingest by service; the unlabelled totals above stay for simple checks.
  private readonly sourceLinesAcked = new Counter({
    name: 'tributary_agent_source_lines_acknowledged_total',
    help: 'Lines acknowledged by the collector, per configured source.',
    labelNames: ['source', 'service', 'topic'],
    registers: [this.registry],
  });
  private readonly sourceBytesAcked = new Counter({
    name: 'tributary_agent_source_bytes_acknowledged_total',
    help: 'Line bytes acknowledged by the collector, per configured source.',
    labelNames: ['source', 'service', 'topic'],
    registers: [this.registry],
  });
  private readonly linesDropped = new Counter({
    name: 'tributary_agent_lines_dropped_total',
    help: 'Lines in requests the collector rejected for good (a 4xx that retrying cannot fix).',
    registers: [this.registry],
  });
  private readonly batchesSent = new Counter({
    name: 'tributary_agent_batches_sent_total',
    help: 'Produce requests by result: ok, retried (will be sent again), rejected (dropped).',
    labelNames: ['result'],
    registers: [this.registry],
  });
  private readonly sendDuration = new Histogram({
    name: 'tributary_agent_send_duration_seconds',
    help: 'Time from sending a produce request to its response.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly retries = new Counter({
    name: 'tributary_agent_retries_total',
    help: 'Produce requests retried after a failure.',
    registers: [this.registry],
  });
  private readonly bytesBehind = new Gauge({
    name: 'tributary_agent_bytes_behind',
    help: 'File size minus acknowledged position, per file.',
    labelNames: ['path'],
    registers: [this.registry],
  });
  private readonly linesTruncated = new Counter({
    name: 'tributary_agent_lines_truncated_total',
    help: 'Lines longer than max_line_bytes, cut to it.',
    registers: [this.registry],
  });
  private readonly rotations = new Counter({
    name: 'tributary_agent_rotations_total',
    help: 'File rotations detected, by kind.',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  private readonly fileErrors = new Counter({
    name: 'tributary_agent_file_errors_total',
    help: 'Files that matched but could not be opened or read, by kind.',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  private readonly parseFailures = new Counter({
    name: 'tributary_agent_parse_failures_total',
    help: 'Lines the configured parser could not parse (kept without fields).',
    registers: [this.registry],
  });
  private unackedSource: () => { bytes: number; limit: number } = () => ({ bytes: 0, limit: 0 });
  private readonly checkpointWrites = new Counter({
    name: 'tributary_agent_checkpoint_writes_total',
    help: 'Checkpoint file writes.',
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics: boolean } = { defaultMetrics: true }) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    // Read at scrape time from the bound itself (it changes once per line: too often to push).
    const read = () => this.unackedSource();
    new Gauge({
      name: 'tributary_agent_unacked_bytes',
      help: 'Bytes read but not yet acknowledged by the collector.',
      registers: [this.registry],
      collect() {
        this.set(read().bytes);
      },
    });
    new Gauge({
      name: 'tributary_agent_memory_limit_bytes',
      help: 'Bound on unacknowledged bytes; readers pause when it is reached.',
      registers: [this.registry],
      collect() {
        this.set(read().limit);
      },
    });
    for (const result of ['ok', 'retried', 'rejected'] as const) this.batchesSent.inc({ result }, 0);
  }

  setFilesWatched(count: number): void {
    this.filesWatched.set(count);
  }
  read(lines: number, bytes: number): void {
    this.linesRead.inc(lines);
    this.bytesRead.inc(bytes);
  }
  acknowledged(lines: number, bytes: number, source?: SourceLabels): void {
    this.linesAcked.inc(lines);
    this.bytesAcked.inc(bytes);
    if (source) {
      this.sourceLinesAcked.inc(source, lines);
      this.sourceBytesAcked.inc(source, bytes);
    }
  }
  dropped(lines: number): void {
    this.linesDropped.inc(lines);
  }
  sent(result: SendResult, seconds: number): void {
    this.batchesSent.inc({ result });
    this.sendDuration.observe(seconds);
  }
  retried(): void {
    this.retries.inc();
  }
  setBytesBehind(filePath: string, bytes: number): void {
    this.bytesBehind.set({ path: filePath }, bytes);
  }
  forgetFile(filePath: string): void {
    this.bytesBehind.remove({ path: filePath });
  }
  truncatedLine(): void {
    this.linesTruncated.inc();
  }
  rotation(kind: RotationKind): void {
    this.rotations.inc({ kind });
  }
  fileError(kind: FileErrorKind): void {
    this.fileErrors.inc({ kind });
  }
  parseFailure(): void {
    this.parseFailures.inc();
  }
  /** The unacked-bytes gauges read `read()` at scrape time (it changes once per line: too often to push). */
  observeUnackedBytes(read: () => { bytes: number; limit: number }): void {
    this.unackedSource = read;
  }
  checkpointWritten(): void {
    this.checkpointWrites.inc();
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
