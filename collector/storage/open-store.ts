/**
 * Choosing and opening the storage backend from the collector's options (`storage.backend`): the file store in
 * `data_dir`, or the JetStream store on `nats.servers`. An error says which backend failed and where: a data
 * directory problem names the directory, a NATS problem names NATS and its servers (the JetStream backend has no
 * data directory and never creates one).
 */
import { ConfigError, TributaryError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import type { CollectorLimits, CollectorOptions } from '../config.ts';
import type { BackendSummary, LogStore, StorageEvents } from './log-store.ts';

export async function openLogStore(
  options: CollectorOptions,
  events: StorageEvents,
  logger: Logger,
): Promise<LogStore> {
  if (options.storage?.backend === 'jetstream') {
    const nats = options.nats;
    if (nats === undefined) throw new ConfigError('storage.backend jetstream needs nats.servers');
    const { JetStreamLogStore } = await import('./jetstream/index.ts');
    return await JetStreamLogStore.open({
      connection: nats.connection,
      replicas: options.storage.replicas,
      defaults: options.topicDefaults,
      events,
      logger,
      retentionCheckIntervalMs: options.retentionCheckIntervalMs,
    });
  }
  const { FileLogStore } = await import('./file/index.ts');
  try {
    return await FileLogStore.open({
      dataDir: options.dataDir,
      defaults: options.topicDefaults,
      events,
      retentionCheckIntervalMs: options.retentionCheckIntervalMs,
    });
  } catch (error) {
    if (error instanceof TributaryError) throw error;
    // EACCES, ENOTDIR, EROFS…: say which directory and what to do.
    throw new ConfigError(
      `cannot open the data directory ${options.dataDir}: ${(error as Error).message} ` +
        '(check that it exists or can be created, and that this user may write to it)',
      { cause: error },
    );
  }
}

/**
 * The one rule between NATS's message size and the collector's body limit: on the JetStream backend a produce to a
 * partition is stored as one NATS message, so the servers' `max_payload` caps what a request may carry. The
 * effective `limits.max_body_bytes` is therefore the smaller of the two. Left unset, the default is lowered to
 * `max_payload` (and the startup log says so); set above it, the collector refuses to start, naming both. (A
 * compressed request that inflates beyond `max_payload` is refused with 413 by the append, naming both as well.)
 * Returns the limits to serve with.
 */
export function reconcileBodyLimit(limits: CollectorLimits, backend: BackendSummary, logger: Logger): CollectorLimits {
  if (backend.kind !== 'jetstream' || limits.maxBodyBytes <= backend.maxPayload) return limits;
  if (limits.maxBodyBytesSet) {
    throw new ConfigError(
      `limits.max_body_bytes (${limits.maxBodyBytes} bytes) is above the NATS servers' max_payload ` +
        `(${backend.maxPayload} bytes): on storage.backend jetstream one produce is one NATS message, so such a ` +
        'request could be accepted and then not stored. Lower limits.max_body_bytes to at most max_payload, or raise ' +
        "max_payload in the servers' config (deploy/nats/ uses 8MB)",
    );
  }
  logger.info(
    { maxBodyBytes: backend.maxPayload, default: limits.maxBodyBytes, maxPayload: backend.maxPayload },
    "limits.max_body_bytes is unset: using the NATS servers' max_payload as the body limit (one produce is one message)",
  );
  return Object.freeze({ ...limits, maxBodyBytes: backend.maxPayload });
}
