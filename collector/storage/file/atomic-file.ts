/**
 * The file store replaces its small state files (topic metadata, group offsets) with shared/atomic-file.ts; its
 * `.tmp` suffix is the store's TMP_SUFFIX, so recovery removes a leftover one (log-loader.ts).
 */
export { syncDirectory, writeFileAtomic } from '../../../shared/atomic-file.ts';
