/** The embedded file backend of the LogStore contract (collector/storage/log-store.ts). */
export { FileLogStore, type FileLogStoreOptions } from './file-log-store.ts';
