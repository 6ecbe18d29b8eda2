/**
 * The JSON bodies of the collector's HTTP API v1 as the client sends and receives them (docs/api.md), snake_case as
 * on the wire. The client (collector-client.ts) speaks them; the CLI and programs read them.
 */
import type { Fields, Labels, Offset, PartitionId, TimestampMs, WireRecord } from '../record.ts';

/** A topic's config; the segment and flush keys are the file backend's (absent on JetStream). */
export interface WireTopicConfig {
  partitions: number;
  retention_ms: number | null;
  retention_bytes: number | null;
  segment_bytes?: number;
  segment_ms?: number;
  flush?: 'always' | 'interval';
  flush_interval_ms?: number;
  flush_interval_bytes?: number;
}

/** A partition's JetStream stream (JetStream backend only). */
export interface WireStreamPlacement {
  name: string;
  replicas: number;
  /** null while the stream elects a leader. */
  leader: string | null;
  followers: { server: string; current: boolean; lag: number }[];
  storage: 'file' | 'memory';
}

export interface WirePartitionInfo {
  partition: PartitionId;
  start_offset: Offset;
  end_offset: Offset;
  size_bytes: number;
  /** File backend only. */
  segment_count?: number;
  /** JetStream backend only. */
  stream?: WireStreamPlacement;
}

export interface WireTopic {
  name: string;
  /** Absent from collectors older than this field: the file backend. */
  backend?: 'file' | 'jetstream';
  config: WireTopicConfig;
  partitions: WirePartitionInfo[];
}

export type CreateTopicRequest = { name: string } & Partial<WireTopicConfig>;

export interface ProduceRecord {
  key?: string;
  value?: string;
  value_base64?: string;
  timestamp?: TimestampMs | string;
  labels?: Labels;
  fields?: Fields;
}

export interface ProduceResponse {
  record_count: number;
  partitions: {
    partition: PartitionId;
    base_offset: Offset;
    last_offset: Offset;
    record_count: number;
    /** Batches of this request the partition held already (an idempotent producer's resend). */
    duplicate_batches?: number;
  }[];
}

export type { WireRecord } from '../record.ts';

export interface FetchResponse {
  records: WireRecord[];
  next_offset: Offset;
  start_offset: Offset;
  end_offset: Offset;
}

export interface FetchBatchesResponse {
  batches: Buffer;
  nextOffset: Offset;
  startOffset: Offset;
  endOffset: Offset;
}

export interface WireCommittedOffset {
  topic: string;
  partition: PartitionId;
  offset: Offset;
  metadata: string;
  commit_timestamp: TimestampMs;
  end_offset: Offset | null;
  lag: number | null;
}

export interface CommitOffsetsRequest {
  offsets: { topic: string; partition: PartitionId; offset: Offset; metadata?: string }[];
  member_id?: string;
  generation_id?: number;
}

export interface WireTopicPartition {
  topic: string;
  partition: PartitionId;
}

export interface JoinGroupRequest {
  topics: string[];
  member_id?: string;
  client_id?: string;
  session_timeout_ms?: number;
}

export interface JoinGroupResponse {
  member_id: string;
  generation_id: number;
  assignment: WireTopicPartition[];
  session_timeout_ms: number;
  heartbeat_interval_ms: number;
  members: number;
}

export interface WireGroupMembers {
  /** null when the group has no live members. */
  generation_id: number | null;
  members: {
    member_id: string;
    client_id: string;
    topics: string[];
    assignment: WireTopicPartition[];
    session_timeout_ms: number;
    heartbeat_interval_ms: number;
    last_heartbeat: TimestampMs;
  }[];
}
