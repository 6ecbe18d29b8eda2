/**
 * The agent: wires the stages of the one-way pipeline and owns their lifecycle.
 *
 *   discovery (discover/) -> file server + readers (read/) -> framing (frame/) -> batcher (batch/)
 *     -> shipper + transport (ship/) -> acknowledgement -> ack tracker -> checkpoint store (checkpoint/)
 *
 * Each stage knows only the next one's narrow interface; this file is where they meet. The unacked-bytes bound
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
import type { BytePosition, Fields } from '../shared/record.ts';
import { UnackedBytes } from './backpressure.ts';
import { Batcher, type BatchStream, type SealedBatch } from './batch/batcher.ts';
import { AckTracker, type TrackedRange } from './checkpoint/ack-tracker.ts';
import { type Checkpoint, CheckpointStore } from './checkpoint/checkpoint-store.ts';
import type { AgentOptions, SourceOptions } from './config.ts';
import { FileDiscovery } from './discover/file-discovery.ts';
import { type DirectoryFile, filesIn, isRotatedName, prefixOf, startsWith } from './discover/rotated-files.ts';
import { ContainerLogDecoder, type LineMeta, LineMetaQueue, kubeletPathLabels } from './frame/container-log.ts';
import { TimedMultiline } from './frame/multiline.ts';
import { type LineParser, makeParser } from './frame/parse.ts';
import { AgentMetrics, type Readiness, serveMetrics } from './metrics.ts';
import { FINGERPRINT_BYTES, type FileKey, type Fingerprint } from './read/fingerprint.ts';
import { DeliveryState } from './ship/delivery-state.ts';
import type { StartAt } from './read/file-reader.ts';
import type { FileReader } from './read/file-reader.ts';
import { FileServer, type ServedFile } from './read/file-server.ts';
import { HttpTransport } from './ship/http-transport.ts';
import { isNatsUrl, natsTransportFor } from './ship/nats-transport.ts';
import { Shipper } from './ship/shipper.ts';
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

/** One file being read, as the later stages see it. */
interface FileStream extends BatchStream {
  readonly reader: FileReader;
  readonly source: SourceOptions;
  tracker: AckTracker;
  readonly multiline: TimedMultiline | undefined;
  readonly parse: LineParser;
  /** Container runtime framing (source `format`), and the runtime's time/stream of lines held by multiline. */
  readonly container: ContainerLogDecoder | undefined;
  readonly containerMeta: LineMetaQueue;
  closed: boolean;
  /**
   * Ranges of an older generation (before a copytruncate) passed on to the copy that now holds their bytes: their
   * settlements move the copy's checkpoint. By generation, then by the range's seq.
   */
  readonly heirs: Map<number, { readonly stream: FileStream; readonly ranges: Map<number, TrackedRange> }>;
}

/** What a truncated file leaves to its copy: its acknowledged position and its ranges still in flight. */
interface Handoff {
  readonly stream: FileStream;
  readonly generation: number;
  readonly acked: BytePosition;
  readonly ranges: ReturnType<AckTracker['outstandingRanges']>;
}

let streamCounter = 0;

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
  private readonly ranges = new WeakMap<SealedBatch, TrackedRange>();
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
        const stream = batch.stream as FileStream;
        this.ranges.set(batch, stream.tracker.register(batch.start, batch.end));
        this.shipper.enqueue(batch);
      },
    });
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
    for (const stream of this.streams.values()) stream.multiline?.flush();
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
    for (const stream of this.streams.values()) stream.multiline?.close();
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
    const id = `${reader.key}#${++streamCounter}`;
    const stream: FileStream = {
      id,
      topic: source.topic,
      key: `${this.options.host}:${reader.openedPath}`,
      labels: Object.freeze({
        ...source.labels,
        ...(source.format === 'none' ? {} : kubeletPathLabels(reader.openedPath)),
        path: reader.openedPath,
      }),
      reader,
      source,
      tracker: new AckTracker(reader.position),
      heirs: new Map(),
      multiline: source.multiline
        ? new TimedMultiline({
            startPattern: source.multiline.startPattern,
            maxEventBytes: source.multiline.maxBytes,
            timeoutMs: source.multiline.timeoutMs,
            emit: (event) => this.emit(stream, event.value, event.end, stream.containerMeta.take(event.end)),
          })
        : undefined,
      parse: makeParser({ kind: source.parser, timestampField: source.timestampField }),
      container: source.format === 'none' ? undefined : new ContainerLogDecoder(source.format, source.maxLineBytes),
      containerMeta: new LineMetaQueue(),
      closed: false,
    };
    this.streams.set(reader.key, stream);
    this.batcher.open(stream, reader.position);
    if (handoff && (handoff.ranges.at(-1)?.end ?? handoff.acked) === reader.position) {
      // The copy holds the bytes of the original's ranges still in flight: it takes them over, so that a crash
      // before they are acknowledged reads them again from the copy.
      stream.tracker = new AckTracker(handoff.acked);
      const ranges = stream.tracker.inherit(handoff.ranges);
      handoff.stream.heirs.set(handoff.generation, { stream, ranges });
    }
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
      if (truncated) this.metrics.truncatedLine();
      if (!stream.container) {
        if (stream.multiline) stream.multiline.line(value, end, truncated);
        else this.emit(stream, value, end);
        return;
      }
      for (const line of stream.container.line(value, end, truncated)) {
        if (line.malformed) this.metrics.parseFailure();
        const meta = { timestamp: line.timestamp, stream: line.stream };
        if (stream.multiline) {
          stream.containerMeta.push(line.end, meta);
          stream.multiline.line(line.value, line.end, line.truncated);
        } else {
          this.emit(stream, line.value, line.end, meta);
        }
      }
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

  private emit(stream: FileStream, value: Buffer, end: BytePosition, meta?: LineMeta): void {
    let timestamp = meta?.timestamp ?? Date.now();
    let fields: Fields | undefined = meta?.stream ? { stream: meta.stream } : undefined;
    if (stream.source.parser !== 'none') {
      const parsed = stream.parse(value);
      if (!parsed.ok) this.metrics.parseFailure();
      if (parsed.fields) fields = fields ? { ...parsed.fields, ...fields } : parsed.fields;
      if (parsed.timestamp !== undefined) timestamp = parsed.timestamp;
    }
    this.budget.add(value.length);
    this.linesSinceRead++;
    this.batcher.add(stream.id, timestamp, value, end, fields);
  }

  private onTruncated(file: ServedFile): void {
    const stream = this.streams.get(file.reader.key);
    if (!stream) return;
    stream.multiline?.flush();
    stream.container?.reset();
    stream.containerMeta.clear();
    this.batcher.restart(stream.id, 0);
    this.handoffs.set(file.reader.key, {
      stream,
      generation: stream.tracker.generation,
      acked: stream.tracker.position,
      ranges: stream.tracker.outstandingRanges(),
    });
    stream.tracker.restart(0);
  }

  private onRestarted(file: ServedFile): void {
    const { reader } = file;
    this.store.set(reader.key, reader.openedPath, 0, reader.fingerprint);
  }

  private onClosed(file: ServedFile): void {
    const stream = this.streams.get(file.reader.key);
    if (!stream) return;
    stream.multiline?.flush();
    stream.multiline?.close();
    this.batcher.close(stream.id);
    stream.closed = true;
    this.metrics.forgetFile(stream.reader.path);
    this.log.info({ path: stream.reader.path, file: stream.reader.key }, 'file let go');
    if (stream.tracker.outstanding === 0) this.forget(stream);
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
    const range = this.ranges.get(batch);
    if (!range) return;
    let owner = stream;
    let owned: TrackedRange | undefined = range;
    if (range.generation !== stream.tracker.generation) {
      // Truncated since: the copy that took the range over (if any) moves its checkpoint.
      const heir = stream.heirs.get(range.generation);
      owned = heir?.ranges.get(range.seq);
      if (!heir || !owned) return;
      heir.ranges.delete(range.seq);
      if (heir.ranges.size === 0) stream.heirs.delete(range.generation);
      owner = heir.stream;
    }
    if (!owner.tracker.settle(owned)) return;
    // A newer reader of the same identity owns its checkpoint now.
    if (this.streams.get(owner.reader.key) !== owner) return;
    const { reader } = owner;
    this.store.set(reader.key, reader.openedPath, owner.tracker.position, reader.fingerprint);
    if (owner.closed && owner.tracker.outstanding === 0) this.forget(owner);
  }

  /** A let-go file whose every batch is settled: keep only its checkpoint (for the retention time). */
  private forget(stream: FileStream): void {
    this.store.release(stream.reader.key);
    if (this.streams.get(stream.reader.key) === stream) this.streams.delete(stream.reader.key);
  }
}
