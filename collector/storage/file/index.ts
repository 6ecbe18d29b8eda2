/** The embedded file backend of the LogStore contract (collector/storage/log-store.ts). */
export { DEFAULT_TOPIC_CONFIG, FileLogStore, type FileLogStoreOptions, resolveTopicConfig } from './file-log-store.ts';
