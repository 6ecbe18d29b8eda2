/**
 * The agent: wires the stages of the one-way pipeline and owns their lifecycle.
 *
 *   discovery (discover/) -> file server + readers (read/) -> the file's stream (stream/: framing and parsing
 *     with frame/) -> batcher (batch/) -> shipper + transport (ship/) -> acknowledgement -> the file's stream (its
 *     ack tracker) -> checkpoint store (checkpoint/)
 *
 * Each stage knows only the next one's narrow interface; this file is where they meet: it opens a FileStream per
 * file the file server serves, hands it the file's lines, and writes the positions its streams report as settled. The unacked-bytes bound
 * (backpressure.ts) closes the loop: the batcher adds line bytes, settled batches release them, and the file server
 * pauses reading while the bound is reached.
 *
 * Shutdown (`stop()`): stop discovery and reading, hand out held multiline events, seal open batches, wait up to
 * `shutdown_timeout` for in-flight batches to be acknowledged, then write the checkpoints. What was not acknowledged
 * by then is read again on the next start (at-least-once).
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from '../shared/errors.ts';
import type { BytePosition } from '../shared/record.ts';
import { UnackedBytes } from './backpressure.ts';
import { Batcher, type SealedBatch } from './batch/batcher.ts';
import { type Checkpoint, CheckpointStore } from './checkpoint/checkpoint-store.ts';
import type { AgentOptions } from './config.ts';
import { FileDiscovery } from './discover/file-discovery.ts';
import { type DirectoryFile, filesIn, isRotatedName, prefixOf, startsWith } from './discover/rotated-files.ts';
import { AgentMetrics, type Readiness, serveMetrics } from './metrics.ts';
import { FINGERPRINT_BYTES, type FileKey, type Fingerprint } from './read/fingerprint.ts';
import { DeliveryState } from './ship/delivery-state.ts';
import type { StartAt } from './read/file-reader.ts';
import { FileServer, type ServedFile } from './read/file-server.ts';
import { HttpTransport } from './ship/http-transport.ts';
import { isNatsUrl, natsTransportFor } from './ship/nats-transport.ts';
import { Shipper } from './ship/shipper.ts';
import { FileStream, type Handoff, type StreamContext } from './stream/file-stream.ts';
import { JournaldSource } from './sources/journald.ts';
import type { Transport } from './ship/transport.ts';

export type AgentLogger = Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;

export interface AgentDependencies {
  readonly log: AgentLogger;
  /** Defaults to HTTP to `collector.urls`; the NATS transport plugs in here. */
  readonly transport?: Transport;
  /** Defaults to a new registry with the process metrics. */
  readonly metrics?: AgentMetrics;
}

export class Agent {
  readonly options: AgentOptions;
  readonly metrics: AgentMetrics;
  private readonly log: AgentLogger;
  private readonly store: CheckpointStore;
  private readonly budget: UnackedBytes;
  private readonly batcher: Batcher;
  private readonly shipper: Shipper;
  private readonly delivery = new DeliveryState();
  private readonly server: FileServer;
  private readonly discovery: FileDiscovery;
  /** The current stream of each file identity. */
  private readonly streams = new Map<FileKey, FileStream>();
  /** What each file's stream hands its lines to. */
  private readonly streamContext: StreamContext;
  /** Truncated files whose copy is being opened (file-server.ts reads it right after `truncated`). */
  private readonly handoffs = new Map<FileKey, Handoff>();
  private firstStart = false;
  /** Lines emitted since the last chunk was counted in the metrics. */
  private linesSinceRead = 0;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private metricsServer: { url: string; close(): Promise<void> } | undefined;
  private stopping: Promise<void> | undefined;
  private readonly transport: Transport;
  /** journald sources (agent/sources/journald.ts): their own read → ship → cursor loop, same transport. */
  private readonly journald: JournaldSource[] = [];

  /** A directory search for leftovers in progress, and whether another was asked for meanwhile. */
  private searching: Promise<void> | undefined;
  private searchAgain = false;

  private constructor(options: AgentOptions, deps: AgentDependencies) {
    this.options = options;
    this.log = deps.log;
    this.metrics = deps.metrics ?? new AgentMetrics();
    this.store = new CheckpointStore({ stateDir: options.stateDir, retentionMs: options.checkpoint.retentionMs });
    this.budget = new UnackedBytes({ limit: options.memoryLimitBytes });
    this.metrics.observeUnackedBytes(() => ({ bytes: this.budget.bytes, limit: this.budget.limit }));
    const transport =
      deps.transport ??
      (isNatsUrl(options.collector.urls[0] ?? '')
        ? natsTransportFor(options.collector)
        : new HttpTransport({
            urls: options.collector.urls,
            token: options.collector.token,
            timeoutMs: options.collector.timeoutMs,
          }));
    this.transport = transport;
    this.shipper = new Shipper({
      transport,
      maxRequestBytes: options.collector.maxRequestBytes,
      maxRequestLines: options.collector.maxRequestLines,
      backoff: options.collector.retry,
      events: {
        settled: (batch, how) => {
          if (how === 'acked') this.deliveredAgain(batch.stream.topic);
          this.onSettled(batch, how);
        },
        sent: (result, seconds) => this.metrics.sent(result, seconds),
        retrying: (topic, reason, attempt, delayMs) => {
          this.metrics.retried();
          this.cannotDeliver(topic, reason, attempt, delayMs);
        },
        rejected: (topic, reason, lines) => {
          this.metrics.dropped(lines);
          this.log.error({ topic, lines }, `collector rejected a request; its lines are dropped: ${reason}`);
        },
      },
    });
    this.batcher = new Batcher({
      maxBytes: options.batch.maxBytes,
      maxRecords: options.batch.maxRecords,
      maxWaitMs: options.batch.maxWaitMs,
      compression: options.batch.compression,
      onSealed: (batch) => {
        (batch.stream as FileStream).sealed(batch);
        this.shipper.enqueue(batch);
      },
    });
    this.streamContext = {
      host: options.host,
      batcher: this.batcher,
      budget: this.budget,
      metrics: this.metrics,
      lineEmitted: () => this.linesSinceRead++,
    };
    this.server = new FileServer({
      pollIntervalMs: options.read.pollIntervalMs,
      rotateWaitMs: options.read.rotateWaitMs,
      retryOpenMs: options.read.retryOpenMs,
      chunkBytes: options.read.chunkBytes,
      maxBytesPerTurn: Math.max(options.read.chunkBytes, 4 * 1024 * 1024),
      maxLineBytesOf: (i) => options.sources[i]!.maxLineBytes,
      copiesOutsideGlobs: options.read.rotatedOutsideGlobs,
      paused: () => this.budget.full,
      whenUnpaused: () => this.budget.whenRoom(),
      sink: {
        startAt: (key, path, sourceIndex, initial) => this.startAt(key, path, sourceIndex, initial),
        opened: (file) => this.onOpened(file),
        lines: (file) => this.lineHandler(file),
        read: (_file, bytes) => {
          // Counted per chunk, not per line: a prom-client call per line costs more than splitting the line.
          this.metrics.read(this.linesSinceRead, bytes);
          this.linesSinceRead = 0;
        },
        truncated: (file) => this.onTruncated(file),
        restarted: (file) => this.onRestarted(file),
        rotation: (kind, file) => {
          this.metrics.rotation(kind);
          // A rotation: files rotated away before the agent got to open them are found by their names.
          // Also after a copytruncate: two truncations between two looks leave a copy the truncation did not find.
          if ((kind === 'rename' || kind === 'copytruncate') && options.read.rotatedOutsideGlobs) {
            this.scheduleLeftovers();
          }
          this.log.info({ path: file.reader.path, file: file.reader.key, kind }, 'rotation detected');
        },
        drained: (file) => {
          const stream = this.streams.get(file.reader.key);
          if (stream) this.batcher.seal(stream.id);
        },
        closed: (file) => this.onClosed(file),
        fileError: (path, kind, error, firstTime) => {
          this.metrics.fileError(kind);
          if (firstTime) {
            this.log.warn(
              { path, kind },
              `cannot read ${path}: ${error.message}; other files continue, retrying every ${options.read.retryOpenMs}ms`,
            );
          }
        },
      },
    });
    this.discovery = new FileDiscovery({
      sources: options.sources,
      poll: options.discovery.poll,
      pollIntervalMs: options.discovery.pollIntervalMs,
      onEvent: (event, path, sourceIndex) => {
        if (event === 'appeared') this.server.appeared(path, sourceIndex);
        else if (event === 'changed') this.server.changed(path, sourceIndex);
        else this.server.removed(path);
      },
      onError: (error) => this.log.warn({ err: error }, `file discovery: ${error.message}`),
    });
  }

  /** Loads the checkpoints, starts discovery, reading, shipping and the metrics endpoint. */
  static async start(options: AgentOptions, deps: AgentDependencies): Promise<Agent> {
    const agent = new Agent(options, deps);
    await agent.begin();
    return agent;
  }

  /** The metrics endpoint's URL, when one is configured. */
  get metricsUrl(): string | undefined {
    return this.metricsServer?.url;
  }

  /** Bytes read but not yet acknowledged. */
  get unackedBytes(): number {
    return this.budget.bytes;
  }

  private async begin(): Promise<void> {
    let loaded: Awaited<ReturnType<CheckpointStore['load']>>;
    try {
      loaded = await this.store.load();
      await access(this.options.stateDir, constants.W_OK);
    } catch (error) {
      throw new ConfigError(
        `state_dir ${this.options.stateDir} cannot be used for checkpoints: ${(error as Error).message}; ` +
          'create it and make it writable by the user the agent runs as',
        { cause: error },
      );
    }
    this.firstStart = !loaded.existed;
    if (loaded.corrupt) {
      this.log.error(
        { checkpoint_file: this.store.filePath, moved_to: loaded.corrupt.movedTo },
        `checkpoint file is corrupt (${loaded.corrupt.reason}); moved aside, starting as on a first start ` +
          `(start_position: ${this.options.startPosition})`,
      );
    }
    if (this.options.metricsListen) {
      this.metricsServer = await serveMetrics(this.metrics, this.options.metricsListen, () => this.readiness());
    }
    this.batcher.start();
    // Before discovery: rotated files and copies found now are read before the files now at their old names.
    if (loaded.existed && this.options.read.rotatedOutsideGlobs) await this.findLeftovers();
    this.server.start();
    await this.discovery.start();
    this.server.endInitialScan();
    await this.server.nextTurn();
    for (const journald of this.options.journald ?? []) {
      const source = new JournaldSource(journald, {
        transport: this.transport,
        stateDir: this.options.stateDir,
        startPosition: this.options.startPosition,
        batch: this.options.batch,
        retry: this.options.collector.retry,
        metrics: this.metrics,
        log: this.log,
      });
      await source.start();
      this.journald.push(source);
    }
    this.checkpointTimer = setInterval(() => void this.tick(), this.options.checkpoint.intervalMs);
    this.checkpointTimer.unref();
    this.log.info(
      {
        sources: this.options.sources.map((s) => ({ include: s.include, topic: s.topic })),
        collector: this.options.collector.urls,
        state_dir: this.options.stateDir,
        metrics: this.metricsServer?.url,
        first_start: this.firstStart,
      },
      'agent started',
    );
  }

  /** Graceful shutdown; safe to call more than once. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    const started = Date.now();
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    await this.searching;
    await this.discovery.close();
    await this.server.stop();
    await Promise.all(this.journald.map((j) => j.stop(this.options.shutdownTimeoutMs)));
    for (const stream of this.streams.values()) stream.flushHeld();
    this.batcher.sealAll();
    this.batcher.stop();
    const drained = await this.shipper.drain(this.options.shutdownTimeoutMs);
    if (!drained) {
      this.log.warn(
        { pending_batches: this.shipper.pending, timeout_ms: this.options.shutdownTimeoutMs },
        'shutdown deadline reached with batches unacknowledged: they will be read again on the next start',
      );
    }
    await this.shipper.close();
    for (const stream of this.streams.values()) stream.stopTimers();
    await this.saveCheckpoints();
    await this.server.close();
    await this.metricsServer?.close();
    this.log.info({ duration_ms: Date.now() - started, drained }, 'agent stopped');
  }

  private async tick(): Promise<void> {
    // Lines emitted outside a read (multiline timeouts) are counted here.
    this.metrics.read(this.linesSinceRead, 0);
    this.linesSinceRead = 0;
    let files = 0;
    for (const stream of this.streams.values()) {
      if (stream.closed) continue;
      files++;
      this.metrics.setBytesBehind(stream.reader.path, Math.max(0, stream.reader.size - stream.tracker.position));
    }
    this.metrics.setFilesWatched(files);
    await this.saveCheckpoints();
  }

  private async saveCheckpoints(): Promise<void> {
    try {
      if (await this.store.save()) this.metrics.checkpointWritten();
    } catch (error) {
      this.log.error(
        { err: error },
        `cannot write checkpoints in ${this.options.stateDir}: ${(error as Error).message}`,
      );
    }
  }

  private async startAt(key: FileKey, filePath: string, _sourceIndex: number, initial: boolean): Promise<StartAt> {
    const cp = this.store.get(key);
    if (cp) return { kind: 'checkpoint', position: cp.position, fingerprint: cp.fingerprint };
    const original = await this.copiedFrom(filePath, key);
    if (original) return { kind: 'copy', position: original.position };
    if (initial && this.firstStart && this.options.startPosition === 'end') return { kind: 'end' };
    return { kind: 'beginning' };
  }

  /**
   * The checkpoint of the file `filePath` is a copytruncate copy of: one of another identity, not being read, with
   * the same first FINGERPRINT_BYTES bytes, whose own file no longer holds them up to its position (truncated,
   * rewritten or gone). A file whose original is intact is not a copy of it (a shared header, an operator's `cp`).
   */
  private async copiedFrom(filePath: string, key: FileKey, knownPrint?: Fingerprint): Promise<Checkpoint | undefined> {
    let print = knownPrint;
    for (const cp of this.store.all()) {
      if (cp.file === key || cp.fingerprint.length !== FINGERPRINT_BYTES) continue;
      const live = this.streams.get(cp.file);
      if (live && !live.closed) continue;
      print ??= await prefixOf(filePath, FINGERPRINT_BYTES);
      if (!print || print.length !== FINGERPRINT_BYTES || print.crc !== cp.fingerprint.crc) continue;
      const own = (await filesIn(path.dirname(cp.path))).find((f) => f.key === cp.file);
      const intact = own && own.stats.size >= cp.position && (await startsWith(own.path, cp.fingerprint));
      if (!intact) return cp;
    }
    return undefined;
  }

  /**
   * After a restart: the checkpointed files with lines not acknowledged that no glob matches any more (renamed by
   * a rotation while the agent was away or before it had acknowledged their end), found by identity in their
   * directory; the copies of truncated ones; and, under the rotated names of a checkpointed file, files the agent
   * never read that were written after it began to read that path (created and rotated while it was down, or
   * before it got to open them). Each is read to its end from where its lines stop being acknowledged, then let go.
   */
  private async findLeftovers(): Promise<void> {
    const byDir = new Map<string, Checkpoint[]>();
    for (const cp of this.store.all()) {
      if (this.discovery.sourceOf(cp.path) === undefined) continue;
      const dir = path.dirname(cp.path);
      byDir.set(dir, [...(byDir.get(dir) ?? []), cp]);
    }
    for (const [dir, checkpoints] of byDir) {
      const files = (await filesIn(dir)).filter((f) => this.discovery.sourceOf(f.path) === undefined);
      // Oldest first: an older rotated file holds older lines.
      files.sort((a, b) => a.stats.mtimeMs - b.stats.mtimeMs);
      for (const f of files) await this.adoptLeftover(f, checkpoints);
    }
  }

  /** One search at a time; a request during a search runs one more after it. */
  private scheduleLeftovers(): void {
    if (this.searching) {
      this.searchAgain = true;
      return;
    }
    this.searching = (async () => {
      do {
        this.searchAgain = false;
        try {
          await this.findLeftovers();
        } catch (error) {
          this.log.warn({ err: error }, `looking for rotated files: ${(error as Error).message}`);
        }
      } while (this.searchAgain && !this.stopping);
      this.searching = undefined;
    })();
  }

  private async adoptLeftover(f: DirectoryFile, checkpoints: readonly Checkpoint[]): Promise<void> {
    // Being read, or let go with lines still in flight: its reader (or the acknowledgements) are not done with it.
    if (this.streams.has(f.key)) return;
    const own = this.store.get(f.key);
    if (own) {
      if (f.stats.size <= own.position || !(await startsWith(f.path, own.fingerprint))) return;
      const sourceIndex = this.discovery.sourceOf(own.path);
      if (sourceIndex === undefined || this.streams.has(f.key)) return;
      this.metrics.rotation('rename'); // renamed before its reader saw it go (or while the agent was down)
      this.server.adopt(f.path, sourceIndex, {
        key: f.key,
        start: { kind: 'checkpoint', position: own.position, fingerprint: own.fingerprint },
        keyPath: own.path,
        drain: true,
      });
      return;
    }
    const name = path.basename(f.path);
    const owner = checkpoints.find((cp) => isRotatedName(path.basename(cp.path), name));
    if (!owner) return;
    const sourceIndex = this.discovery.sourceOf(owner.path)!;
    const print = await prefixOf(f.path, FINGERPRINT_BYTES);
    const original = await this.copiedFrom(f.path, f.key, print);
    // The file server went on during the awaits: a copy it opened on seeing a truncation meanwhile is read (or done)
    // from where its original stopped. Decided on what holds now, with no await until the adopt.
    if (this.streams.has(f.key) || this.store.get(f.key)) return;
    if (original) {
      if (f.stats.size <= original.position) return;
      this.server.adopt(f.path, sourceIndex, {
        key: f.key,
        start: { kind: 'copy', position: original.position },
        keyPath: original.path,
        drain: true,
      });
    } else if (
      f.stats.size > 0 &&
      f.stats.mtimeMs > this.watchedSince(owner.path, checkpoints) &&
      // A copytruncate copy whose original's truncation the reader has not seen yet (another file's rotation
      // started this search): that reader opens it from where it stopped; read from 0 here, every line twice.
      !(print && this.server.isCopyOfFileBeingRead(print))
    ) {
      this.metrics.rotation('rename'); // created and renamed away before the agent opened it
      this.server.adopt(f.path, sourceIndex, {
        key: f.key,
        start: { kind: 'beginning' },
        keyPath: owner.path,
        drain: true,
      });
    }
  }

  /**
   * Since when the agent has read `filePath` without a gap longer than the checkpoint retention: the first time it
   * saw any file there. Files at its rotated names written before that are older than the agent's watch.
   */
  private watchedSince(filePath: string, checkpoints: readonly Checkpoint[]): number {
    let since = Number.POSITIVE_INFINITY;
    for (const cp of checkpoints) if (cp.path === filePath) since = Math.min(since, cp.firstSeen);
    return Math.max(since, Date.now() - this.options.checkpoint.retentionMs);
  }

  private onOpened(file: ServedFile): void {
    const { reader } = file;
    const handoff = file.copyOf === undefined ? undefined : this.handoffs.get(file.copyOf);
    if (file.copyOf !== undefined) this.handoffs.delete(file.copyOf);
    const source = this.options.sources[file.sourceIndex]!;
    const stream = new FileStream(reader, source, this.streamContext);
    this.streams.set(reader.key, stream);
    stream.start(handoff);
    const pathMovedOn = [...this.store.all()].some((cp) => cp.path === reader.openedPath && cp.file !== reader.key);
    this.store.set(reader.key, reader.openedPath, stream.tracker.position, reader.fingerprint);
    // A new file at a path the agent knew another file under: the files rotated away in between may never have
    // been opened (renamed after the last search, before discovery got to the path), so look for them by name.
    if (pathMovedOn && this.options.read.rotatedOutsideGlobs) this.scheduleLeftovers();
    if (reader.startDecision === 'inode_reused') this.metrics.rotation('inode_reused');
    if (reader.startDecision === 'truncated_while_away') this.metrics.rotation('copytruncate');
    this.log.info(
      {
        path: reader.path,
        file: reader.key,
        position: reader.position,
        start: reader.startDecision,
        topic: source.topic,
      },
      'reading file',
    );
  }

  private lineHandler(file: ServedFile): (value: Buffer, end: BytePosition, truncated: boolean) => void {
    let stream: FileStream | undefined;
    return (value, end, truncated) => {
      stream ??= this.streams.get(file.reader.key)!;
      stream.line(value, end, truncated);
    };
  }

  /** A failed produce: warned on the first attempts of an outage, then once a minute with the totals (delivery-state.ts). */
  private cannotDeliver(topic: string, reason: string, attempt: number, delayMs: number): void {
    const outage = this.delivery.failed(topic, reason, Date.now());
    const bytesBehind = this.shipper.pendingBytes;
    const fields = { topic, attempt, delay_ms: delayMs, bytes_behind: bytesBehind };
    if (!outage) {
      this.log.debug(fields, `produce failed, retrying: ${reason}`);
      return;
    }
    const seconds = Math.round((Date.now() - outage.since) / 1000);
    this.log.warn(
      { ...fields, attempts: outage.attempts, outage_s: seconds },
      `produce failed, retrying: ${reason} (cannot deliver for ${seconds}s: ${outage.attempts} attempts, ${bytesBehind} bytes waiting)`,
    );
  }

  private deliveredAgain(topic: string): void {
    const ended = this.delivery.delivered(topic);
    if (!ended) return;
    const seconds = Math.round((Date.now() - ended.since) / 1000);
    this.log.warn({ topic, attempts: ended.attempts, outage_s: seconds }, `delivering again after ${seconds}s`);
  }

  /** `/readyz`: ready while every topic delivers; otherwise what cannot be delivered, since when, how far behind. */
  readiness(): Readiness {
    const outages = this.delivery.current();
    if (outages.length === 0) return { ready: true, body: { status: 'ready' } };
    return {
      ready: false,
      body: {
        status: 'cannot_deliver',
        bytes_behind: this.shipper.pendingBytes,
        topics: outages.map((o) => ({
          topic: o.topic,
          since: new Date(o.since).toISOString(),
          attempts: o.attempts,
          last_error: o.lastReason,
        })),
      },
    };
  }

  private onTruncated(file: ServedFile): void {
    const stream = this.streams.get(file.reader.key);
    if (stream) this.handoffs.set(file.reader.key, stream.truncated());
  }

  private onRestarted(file: ServedFile): void {
    const { reader } = file;
    this.store.set(reader.key, reader.openedPath, 0, reader.fingerprint);
  }

  private onClosed(file: ServedFile): void {
    const stream = this.streams.get(file.reader.key);
    if (!stream) return;
    stream.letGo();
    this.metrics.forgetFile(stream.reader.path);
    this.log.info({ path: stream.reader.path, file: stream.reader.key }, 'file let go');
    if (stream.done) this.forget(stream);
  }

  private onSettled(batch: SealedBatch, how: 'acked' | 'dropped'): void {
    this.budget.release(batch.rawBytes);
    const stream = batch.stream as FileStream;
    if (how === 'acked') {
      const { source } = stream;
      this.metrics.acknowledged(batch.lines, batch.rawBytes, {
        source: source.name,
        service: source.labels.service ?? source.name,
        topic: source.topic,
      });
    }
    const owner = stream.settle(batch);
    // Nothing moved, or a newer reader of the same identity owns its checkpoint now.
    if (!owner || this.streams.get(owner.reader.key) !== owner) return;
    const { reader } = owner;
    this.store.set(reader.key, reader.openedPath, owner.tracker.position, reader.fingerprint);
    if (owner.done) this.forget(owner);
  }

  /** A let-go file whose every batch is settled: keep only its checkpoint (for the retention time). */
  private forget(stream: FileStream): void {
    this.store.release(stream.reader.key);
    if (this.streams.get(stream.reader.key) === stream) this.streams.delete(stream.reader.key);
  }
}
