/**
 * The errors a user of Tributary can see, shared by the agent, the collector and the client.
 *
 * Every error has a stable `code` (it is what the HTTP API returns in `{"error": {"code", "message"}}`) and a
 * message that says what was wrong and what to do. Callers test with `instanceof`; the HTTP layer maps codes to
 * statuses in one table (collector/http/error-status.ts), so storage code never thinks in HTTP.
 */

export type ErrorCode =
  | 'invalid_argument'
  | 'corrupt_batch'
  | 'corrupt_data'
  | 'offset_out_of_range'
  | 'topic_not_found'
  | 'topic_exists'
  | 'group_not_found'
  | 'partition_not_found'
  | 'limit_exceeded'
  | 'storage_full'
  | 'unauthenticated'
  | 'forbidden'
  | 'unavailable'
  | 'stale_generation'
  | 'unknown_member'
  | 'rebalance_in_progress'
  | 'group_not_empty'
  | 'config_invalid'
  | 'closed';

export class TributaryError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'TributaryError';
  }
}

/** A request or an argument that is wrong as given; retrying the same thing cannot succeed. */
export class InvalidArgumentError extends TributaryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_argument', message, options);
    this.name = 'InvalidArgumentError';
  }
}

/** Bytes that do not form a valid record batch (bad length, CRC mismatch, unknown version, bad varint). */
export class CorruptBatchError extends TributaryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('corrupt_batch', message, options);
    this.name = 'CorruptBatchError';
  }
}

/** Stored data that failed validation on read: it is reported, never returned as records. */
export class CorruptDataError extends TributaryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('corrupt_data', message, options);
    this.name = 'CorruptDataError';
  }
}

export class OffsetOutOfRangeError extends TributaryError {
  readonly startOffset: number;
  readonly endOffset: number;
  constructor(requested: number, startOffset: number, endOffset: number) {
    super(
      'offset_out_of_range',
      `offset ${requested} is out of range: this partition holds offsets [${startOffset}, ${endOffset}) ` +
        `(earliest ${startOffset}, next ${endOffset})`,
    );
    this.startOffset = startOffset;
    this.endOffset = endOffset;
    this.name = 'OffsetOutOfRangeError';
  }
}

export class TopicNotFoundError extends TributaryError {
  constructor(topic: string) {
    super('topic_not_found', `topic '${topic}' does not exist; create it first or enable auto-creation`);
    this.name = 'TopicNotFoundError';
  }
}

export class TopicExistsError extends TributaryError {
  constructor(topic: string) {
    super('topic_exists', `topic '${topic}' already exists`);
    this.name = 'TopicExistsError';
  }
}

export class PartitionNotFoundError extends TributaryError {
  constructor(topic: string, partition: number, partitionCount: number) {
    super(
      'partition_not_found',
      `topic '${topic}' has no partition ${partition}: it has partitions 0..${partitionCount - 1}`,
    );
    this.name = 'PartitionNotFoundError';
  }
}

export class GroupNotFoundError extends TributaryError {
  constructor(group: string) {
    super('group_not_found', `consumer group '${group}' does not exist`);
    this.name = 'GroupNotFoundError';
  }
}

/**
 * A consumer group member used a generation that is no longer current (the group rebalanced since it joined): its
 * commit is refused so it cannot overwrite the progress of the partition's new owner. The member must join again.
 */
export class StaleGenerationError extends TributaryError {
  constructor(message: string) {
    super('stale_generation', message);
    this.name = 'StaleGenerationError';
  }
}

/** The member id is not in the group (it left, or missed its session timeout): the member must join again. */
export class UnknownMemberError extends TributaryError {
  constructor(message: string) {
    super('unknown_member', message);
    this.name = 'UnknownMemberError';
  }
}

/**
 * Answered to a heartbeat when the group has moved to a new generation: the member must join again to learn its
 * new assignment.
 */
export class RebalanceInProgressError extends TributaryError {
  constructor(message: string) {
    super('rebalance_in_progress', message);
    this.name = 'RebalanceInProgressError';
  }
}

/** An operation that needs a group without active members (resetting its offsets) while members are active. */
export class GroupNotEmptyError extends TributaryError {
  constructor(message: string) {
    super('group_not_empty', message);
    this.name = 'GroupNotEmptyError';
  }
}

/** Which limit was hit: the HTTP layer answers 413 for `body`, 429 for `rate`, 400 for the others. */
export type LimitKind = 'body' | 'line' | 'count' | 'rate';

/** A size or count above a configured limit (body, line, records per request, topics, partitions). */
export class LimitExceededError extends TributaryError {
  readonly limit: LimitKind;
  constructor(message: string, limit: LimitKind = 'count') {
    super('limit_exceeded', message);
    this.limit = limit;
    this.name = 'LimitExceededError';
  }
}

/** The disk holding the data directory is full (ENOSPC / EDQUOT): nothing was made visible. */
export class StorageFullError extends TributaryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('storage_full', message, options);
    this.name = 'StorageFullError';
  }
}

/** A backend (disk, NATS) is temporarily unable to serve; retrying later can succeed. */
export class UnavailableError extends TributaryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('unavailable', message, options);
    this.name = 'UnavailableError';
  }
}

/** The store or client was closed while the operation was pending or before it started. */
export class ClosedError extends TributaryError {
  constructor(what: string) {
    super('closed', `${what} is closed`);
    this.name = 'ClosedError';
  }
}

export class ConfigError extends TributaryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('config_invalid', message, options);
    this.name = 'ConfigError';
  }
}

/** No credentials, or credentials the server does not know. */
export class UnauthenticatedError extends TributaryError {
  constructor(message: string) {
    super('unauthenticated', message);
    this.name = 'UnauthenticatedError';
  }
}

/** Valid credentials whose role does not allow the operation. */
export class ForbiddenError extends TributaryError {
  constructor(message: string) {
    super('forbidden', message);
    this.name = 'ForbiddenError';
  }
}
