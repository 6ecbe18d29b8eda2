/**
 * The Kafka protocol's numbers: API keys, error codes, and the mapping from our errors (shared/errors.ts) to the
 * error code a Kafka client understands. Kafka clients act on codes (retry, refresh metadata, rejoin), so the
 * mapping picks the code whose client behaviour fits: a missing topic is UNKNOWN_TOPIC_OR_PARTITION (the client
 * refreshes metadata), a full disk is KAFKA_STORAGE_ERROR (retriable), a refused role is the *_AUTHORIZATION_FAILED
 * code of the resource.
 */
import {
  CorruptBatchError,
  ForbiddenError,
  InvalidArgumentError,
  LimitExceededError,
  OffsetOutOfRangeError,
  PartitionNotFoundError,
  RebalanceInProgressError,
  StaleGenerationError,
  StorageFullError,
  TopicExistsError,
  TopicNotFoundError,
  UnauthenticatedError,
  UnavailableError,
  UnknownMemberError,
} from '../../shared/errors.ts';

export const ApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  DescribeGroups: 15,
  ListGroups: 16,
  SaslHandshake: 17,
  ApiVersions: 18,
  CreateTopics: 19,
  DeleteTopics: 20,
  InitProducerId: 22,
  DescribeConfigs: 32,
  SaslAuthenticate: 36,
} as const;

/** Kafka error codes (org.apache.kafka.common.protocol.Errors), the ones Tributary answers with. */
export const ErrorCode = {
  UNKNOWN_SERVER_ERROR: -1,
  NONE: 0,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  LEADER_NOT_AVAILABLE: 5,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  MESSAGE_TOO_LARGE: 10,
  COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR: 16,
  INVALID_TOPIC_EXCEPTION: 17,
  RECORD_LIST_TOO_LARGE: 18,
  INVALID_REQUIRED_ACKS: 21,
  ILLEGAL_GENERATION: 22,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  INVALID_GROUP_ID: 24,
  UNKNOWN_MEMBER_ID: 25,
  INVALID_SESSION_TIMEOUT: 26,
  REBALANCE_IN_PROGRESS: 27,
  TOPIC_AUTHORIZATION_FAILED: 29,
  GROUP_AUTHORIZATION_FAILED: 30,
  CLUSTER_AUTHORIZATION_FAILED: 31,
  UNSUPPORTED_SASL_MECHANISM: 33,
  ILLEGAL_SASL_STATE: 34,
  UNSUPPORTED_VERSION: 35,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_CONFIG: 40,
  INVALID_REQUEST: 42,
  POLICY_VIOLATION: 44,
  OUT_OF_ORDER_SEQUENCE_NUMBER: 45,
  DUPLICATE_SEQUENCE_NUMBER: 46,
  INVALID_PRODUCER_EPOCH: 47,
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 53,
  KAFKA_STORAGE_ERROR: 56,
  SASL_AUTHENTICATION_FAILED: 58,
  UNKNOWN_PRODUCER_ID: 59,
  NON_EMPTY_GROUP: 68,
  GROUP_ID_NOT_FOUND: 69,
  UNSUPPORTED_COMPRESSION_TYPE: 76,
  FETCH_SESSION_ID_NOT_FOUND: 70,
  MEMBER_ID_REQUIRED: 79,
  INVALID_RECORD: 87,
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Names by code, for metrics labels and logs. */
export const ERROR_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(ErrorCode).map(([name, code]) => [code, name]),
);

/** The Kafka error code for an error thrown by our store, coordinator or produce path. */
export function kafkaErrorFor(error: unknown): ErrorCodeValue {
  if (error instanceof TopicNotFoundError || error instanceof PartitionNotFoundError) {
    return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
  }
  if (error instanceof OffsetOutOfRangeError) return ErrorCode.OFFSET_OUT_OF_RANGE;
  if (error instanceof CorruptBatchError) return ErrorCode.CORRUPT_MESSAGE;
  if (error instanceof LimitExceededError) {
    return error.limit === 'body' || error.limit === 'line' ? ErrorCode.MESSAGE_TOO_LARGE : ErrorCode.POLICY_VIOLATION;
  }
  if (error instanceof InvalidArgumentError) return ErrorCode.INVALID_REQUEST;
  if (error instanceof TopicExistsError) return ErrorCode.TOPIC_ALREADY_EXISTS;
  if (error instanceof StorageFullError) return ErrorCode.KAFKA_STORAGE_ERROR;
  if (error instanceof UnavailableError) return ErrorCode.REQUEST_TIMED_OUT;
  if (error instanceof StaleGenerationError) return ErrorCode.ILLEGAL_GENERATION;
  if (error instanceof UnknownMemberError) return ErrorCode.UNKNOWN_MEMBER_ID;
  if (error instanceof RebalanceInProgressError) return ErrorCode.REBALANCE_IN_PROGRESS;
  if (error instanceof ForbiddenError) return ErrorCode.TOPIC_AUTHORIZATION_FAILED;
  if (error instanceof UnauthenticatedError) return ErrorCode.SASL_AUTHENTICATION_FAILED;
  return ErrorCode.UNKNOWN_SERVER_ERROR;
}
