/**
 * The typed client for Node programs: `import { Consumer, Producer } from 'tributary/client'` (docs/consumers.md).
 * This is the package's public surface for programs; everything not exported here may change.
 */
export {
  CollectorClient,
  type CollectorClientOptions,
  type ProduceResponse,
  type WireCommittedOffset,
  type WireTopicPartition,
} from './collector-client.ts';
export { type ConsumedRecord, Consumer, type ConsumerOptions, type StartPosition } from './consumer.ts';
export { Producer, type ProducerOptions, type ProducerRecord } from './producer.ts';
export * from '../errors.ts';
