/**
 * The journald source: follows the systemd journal through `journalctl -o json --follow` (the journal's own reader:
 * its file format, rotation and vacuuming stay systemd's business) and ships its entries to the collector.
 *
 * Delivery: at-least-once, no gap. Entries are read in journal order into a chunk; a chunk goes as one produce
 * request (batches grouped by unit and labels), retried until the collector acknowledges it; only then is the cursor
 * of the chunk's last entry written to `<state_dir>/journald-<name>.cursor` (tmp, fsync, rename). After a restart
 * or a SIGKILL, journalctl resumes `--after-cursor` it: what was acknowledged after the last cursor write is sent
 * again (at most one chunk), nothing is skipped. One chunk is in flight at a time; while it is, reading goes on
 * until the next chunk is full, then journalctl's output is paused (the journal on disk is the buffer).
 *
 * Which entries: `units` (journalctl --unit, any of them), `matches` (journalctl FIELD=value arguments, combined as
 * journalctl combines them), `exclude_units` (dropped here, by _SYSTEMD_UNIT), `directory` (journalctl --directory:
 * a folder of journal files instead of the system journal). A first start with no cursor begins at the start of
 * the journal (start_position: beginning) or at its end (end).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { writeFileAtomic } from '../../shared/atomic-file.ts';
import { encodeBatch } from '../../shared/batch-codec.ts';
import type { Labels, RecordInput } from '../../shared/record.ts';
import type { AgentMetrics } from '../metrics.ts';
import { backoffDelay } from '../../shared/backoff.ts';
import { ProducerSequence } from '../ship/producer-sequence.ts';
import type { Transport } from '../ship/transport.ts';
import { type JournalEntry, parseJournalLine } from './journal-entry.ts';

export interface JournaldOptions {
  /** Names the cursor file and the `source` of the metrics; unique per agent. */
  readonly name: string;
  readonly topic: string;
  readonly units: readonly string[];
  readonly excludeUnits: readonly string[];
  readonly matches: readonly string[];
  readonly directory: string | undefined;
  /** Agent host and user labels; an entry's own labels (host, unit, …) are added over them. */
  readonly labels: Labels;
  readonly maxLineBytes: number;
  /** The journalctl program (default: journalctl on PATH). */
  readonly journalctl: string;
}

export interface JournaldContext {
  readonly transport: Transport;
  readonly stateDir: string;
  readonly startPosition: 'beginning' | 'end';
  readonly batch: {
    readonly maxBytes: number;
    readonly maxRecords: number;
    readonly maxWaitMs: number;
    readonly compression: 'gzip' | 'none';
  };
  readonly retry: { readonly initialMs: number; readonly maxMs: number };
  readonly metrics: AgentMetrics;
  readonly log: {
    info(o: object, m: string): void;
    warn(o: object, m: string): void;
    error(o: object, m: string): void;
  };
}

const CURSOR_VERSION = 1;
const RESTART_DELAY_MS = 1000;
const FIELDS = ['MESSAGE', 'PRIORITY', '_SYSTEMD_UNIT', 'SYSLOG_IDENTIFIER', '_HOSTNAME', '_PID'];

export function cursorFile(stateDir: string, name: string): string {
  return path.join(stateDir, `journald-${name}.cursor`);
}

export class JournaldSource {
  private child: ChildProcess | undefined;
  private lines: Interface | undefined;
  private pending: JournalEntry[] = [];
  private pendingBytes = 0;
  /** Cursor of the last entry read (sent or excluded): where journalctl resumes after it exits on its own. */
  private readCursor: string | undefined;
  /** Cursor of the last entry the collector acknowledged (or that was excluded before it): what is checkpointed. */
  private ackedCursor: string | undefined;
  private savedCursor: string | undefined;
  private sending: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private paused = false;
  private stopping = false;
  private giveUpAt = Number.POSITIVE_INFINITY;
  private readonly excluded: ReadonlySet<string>;
  private readonly file: string;
  /** Stamps the batches, so that a body sent again after a lost answer is stored once. */
  private readonly producer = new ProducerSequence();

  constructor(
    private readonly options: JournaldOptions,
    private readonly context: JournaldContext,
  ) {
    this.excluded = new Set(options.excludeUnits);
    this.file = cursorFile(context.stateDir, options.name);
  }

  async start(): Promise<void> {
    this.savedCursor = await this.loadCursor();
    this.ackedCursor = this.savedCursor;
    this.readCursor = this.savedCursor;
    this.spawnReader();
  }

  private async loadCursor(): Promise<string | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      const parsed = JSON.parse(text) as { version?: unknown; cursor?: unknown };
      if (parsed.version === CURSOR_VERSION && typeof parsed.cursor === 'string' && parsed.cursor.length > 0) {
        return parsed.cursor;
      }
    } catch {
      // fall through
    }
    this.context.log.error(
      { file: this.file, source: this.options.name },
      'journald cursor file is unreadable; starting as on a first start',
    );
    return undefined;
  }

  /** journalctl's arguments: what to read and from where. */
  args(): string[] {
    const o = this.options;
    const args = ['--output=json', '--follow', '--no-pager', '--all', `--output-fields=${FIELDS.join(',')}`];
    if (o.directory) args.push(`--directory=${o.directory}`);
    // --follow implies --lines=10, also after a cursor: say "all" explicitly.
    if (this.readCursor) args.push(`--after-cursor=${this.readCursor}`, '--lines=all');
    else args.push(this.context.startPosition === 'end' ? '--lines=0' : '--lines=all');
    for (const unit of o.units) args.push(`--unit=${unit}`);
    args.push(...o.matches);
    return args;
  }

  private spawnReader(): void {
    const child = spawn(this.options.journalctl, this.args(), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString();
    });
    child.on('error', (error) => {
      this.context.log.error({ err: error, source: this.options.name }, `cannot run ${this.options.journalctl}`);
    });
    const lines = createInterface({ input: child.stdout!, crlfDelay: Number.POSITIVE_INFINITY });
    this.lines = lines;
    lines.on('line', (line) => this.onLine(line));
    child.on('close', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.lines = undefined;
      if (this.stopping) return;
      this.context.log.warn(
        { source: this.options.name, code, signal, stderr: stderr.trim().slice(0, 1000) },
        `journalctl exited; restarting in ${RESTART_DELAY_MS}ms from the last entry read`,
      );
      this.restartTimer = setTimeout(() => {
        if (!this.stopping) this.spawnReader();
      }, RESTART_DELAY_MS);
    });
  }

  private onLine(line: string): void {
    const entry = parseJournalLine(line, Date.now());
    if (!entry) {
      this.context.metrics.parseFailure();
      return;
    }
    this.readCursor = entry.cursor;
    if (entry.unit !== undefined && this.excluded.has(entry.unit)) {
      // Nothing to send: the entry is done once everything before it is.
      if (this.pending.length === 0 && !this.sending) this.ackedCursor = entry.cursor;
      return;
    }
    const message =
      entry.message.length > this.options.maxLineBytes
        ? entry.message.subarray(0, this.options.maxLineBytes)
        : entry.message;
    if (message !== entry.message) this.context.metrics.truncatedLine();
    this.pending.push(message === entry.message ? entry : { ...entry, message });
    this.pendingBytes += message.length;
    this.context.metrics.read(1, message.length);
    const { maxBytes, maxRecords, maxWaitMs } = this.context.batch;
    if (this.pending.length >= maxRecords || this.pendingBytes >= maxBytes) {
      this.kick();
      if (this.sending) this.pause();
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, maxWaitMs);
    }
  }

  private pause(): void {
    if (this.paused || !this.lines) return;
    this.paused = true;
    this.lines.pause();
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.lines?.resume();
  }

  private kick(): void {
    if (this.sending || this.pending.length === 0) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.sending = this.sendPending().finally(() => {
      this.sending = undefined;
      this.resume();
      const { maxBytes, maxRecords } = this.context.batch;
      if (this.stopping && Date.now() >= this.giveUpAt) return;
      if (this.pending.length >= maxRecords || this.pendingBytes >= maxBytes || this.stopping) this.kick();
      else if (this.pending.length > 0) {
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          this.kick();
        }, this.context.batch.maxWaitMs);
      }
    });
  }

  private async sendPending(): Promise<void> {
    const chunk = this.pending;
    const bytes = this.pendingBytes;
    const cursor = chunk[chunk.length - 1]!.cursor;
    this.pending = [];
    this.pendingBytes = 0;
    const body = this.encode(chunk);
    const { metrics, log, transport } = this.context;
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      const outcome = await transport.send(this.options.topic, body);
      const seconds = (performance.now() - started) / 1000;
      if (outcome.kind === 'ok') {
        metrics.sent('ok', seconds);
        metrics.acknowledged(chunk.length, bytes, {
          source: this.options.name,
          service: this.options.labels.service ?? this.options.name,
          topic: this.options.topic,
        });
        break;
      }
      if (outcome.kind === 'reject') {
        metrics.sent('rejected', seconds);
        metrics.dropped(chunk.length);
        log.error(
          { source: this.options.name, topic: this.options.topic, lines: chunk.length },
          `collector rejected journal entries; they are dropped: ${outcome.reason}`,
        );
        break;
      }
      metrics.sent('retried', seconds);
      metrics.retried();
      const delay = backoffDelay(attempt, this.context.retry, outcome.retryAfterMs);
      if (this.stopping && Date.now() + delay > this.giveUpAt) {
        // Shutdown deadline: these entries stay after the checkpointed cursor and are read again next start.
        this.pending = [...chunk, ...this.pending];
        this.pendingBytes += bytes;
        this.giveUpAt = 0;
        return;
      }
      if (attempt < 3)
        log.warn({ source: this.options.name, attempt, delay_ms: delay }, `produce failed: ${outcome.reason}`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    this.ackedCursor = cursor;
    await this.saveCursor();
  }

  /** One produce body: a batch per run of entries of one key and label set. */
  private encode(chunk: readonly JournalEntry[]): Buffer {
    const groups = new Map<string, { key: string; labels: Labels; records: RecordInput[] }>();
    for (const entry of chunk) {
      const labels = { ...this.options.labels, ...entry.labels };
      const key = `${labels.host ?? ''}:journal/${entry.labels.unit ?? entry.labels.syslog_identifier ?? '-'}`;
      const id = `${key}\u0000${JSON.stringify(labels)}`;
      let group = groups.get(id);
      if (!group) {
        group = { key, labels, records: [] };
        groups.set(id, group);
      }
      group.records.push({ timestamp: entry.timestamp, value: entry.message });
    }
    return Buffer.concat(
      [...groups.values()].map((g) => encodeBatch(g, this.context.batch.compression, this.producer.take())),
    );
  }

  private async saveCursor(): Promise<void> {
    const cursor = this.ackedCursor;
    if (!cursor || cursor === this.savedCursor) return;
    try {
      await writeFileAtomic(this.file, JSON.stringify({ version: CURSOR_VERSION, cursor }));
      this.savedCursor = cursor;
      this.context.metrics.checkpointWritten();
    } catch (error) {
      this.context.log.error(
        { err: error, file: this.file },
        `cannot write the journald cursor: ${(error as Error).message}`,
      );
    }
  }

  /** Stops reading, sends what was read (until `deadlineMs`), and writes the cursor of what was acknowledged. */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    this.giveUpAt = Date.now() + deadlineMs;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (child && child.exitCode === null) {
      const closed = new Promise((resolve) => child.once('close', resolve));
      child.kill('SIGTERM');
      await closed;
    }
    this.lines?.close();
    if (this.timer) clearTimeout(this.timer);
    this.kick();
    while (this.sending) await this.sending;
    await this.saveCursor();
  }
}
