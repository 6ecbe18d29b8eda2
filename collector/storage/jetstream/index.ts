export { JetStreamLogStore, type JetStreamLogStoreOptions } from './jetstream-log-store.ts';
export { JetStreamOffsetStore } from './jetstream-offset-store.ts';
export { logSubject, streamName } from './names.ts';
