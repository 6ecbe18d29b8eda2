// `import … from 'tributary/client'`: the package ships TypeScript sources and runs them through tsx's loader, as
// the `tributary` command does (docs/decisions.md: "Running TypeScript without a build"). A static `export … from`
// would be linked before the loader is registered, hence the dynamic import; the names are those of index.ts.
import { register } from 'tsx/esm/api';

register();
const client = await import('./index.ts');
export const { CollectorClient, Consumer, Producer, TributaryError } = client;
export const {
  ClosedError,
  ConfigError,
  CorruptBatchError,
  CorruptDataError,
  ForbiddenError,
  GroupNotEmptyError,
  GroupNotFoundError,
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
} = client;
