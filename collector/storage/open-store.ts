/**
 * Choosing and opening the storage backend from the collector's options (`storage.backend`): the file store in
 * `data_dir`, or the JetStream store on `nats.servers`. An error says which backend failed and where: a data
 * directory problem names the directory, a NATS problem names NATS and its servers (the JetStream backend has no
 * data directory and never creates one).
 */
import { ConfigError, TributaryError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import type { CollectorOptions } from '../config.ts';
import type { LogStore, StorageEvents } from './log-store.ts';

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
