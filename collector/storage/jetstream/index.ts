export { JetStreamLogStore, type JetStreamLogStoreOptions, logSubject, streamName } from './jetstream-log-store.ts';
export { JetStreamOffsetStore } from './jetstream-offset-store.ts';
