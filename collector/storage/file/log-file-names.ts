/**
 * Every file name of the file store, in one place (Kafka's LogFileUtils). A segment is named by its base offset,
 * zero-padded to 20 digits so that `ls` sorts segments numerically:
 *
 *   <dataDir>/topics/<topic>/topic.json                      topic metadata (versioned, tmp -> fsync -> rename)
 *   <dataDir>/topics/<topic>/<partition>/<base>.log          record batches
 *   <dataDir>/topics/<topic>/<partition>/<base>.index        sparse offset index (closed segments)
 *   <dataDir>/topics/<topic>/<partition>/<base>.timeindex    sparse time index (closed segments)
 *   <dataDir>/groups/<group>.json                            committed consumer offsets of one group
 *
 * A file ending in `.tmp` is a write that never completed; a name ending in `.deleted` is on its way out. Recovery
 * removes both. Topic and group names are validated by shared/names.ts before they reach here, so a name can never
 * climb out of its directory.
 */
import { join } from 'node:path';
import type { Offset, PartitionId } from '../../../shared/record.ts';

export const LOG_SUFFIX = '.log';
export const INDEX_SUFFIX = '.index';
export const TIME_INDEX_SUFFIX = '.timeindex';
export const TMP_SUFFIX = '.tmp';
export const DELETED_SUFFIX = '.deleted';
export const TOPIC_METADATA = 'topic.json';

export function topicsDir(dataDir: string): string {
  return join(dataDir, 'topics');
}

export function topicDir(dataDir: string, topic: string): string {
  return join(topicsDir(dataDir), topic);
}

export function partitionDir(dataDir: string, topic: string, partition: PartitionId): string {
  return join(topicDir(dataDir, topic), String(partition));
}

export function groupsDir(dataDir: string): string {
  return join(dataDir, 'groups');
}

export function segmentFileStem(baseOffset: Offset): string {
  return String(baseOffset).padStart(20, '0');
}

/** The base offset of a `<20 digits>.log` file name, or undefined for any other name. */
export function parseSegmentFileName(name: string): Offset | undefined {
  const match = /^(\d{20})\.log$/.exec(name);
  return match ? Number(match[1]) : undefined;
}
