/**
 * One sender of batches as the collector sees it (BatchProducer, shared/batch-codec.ts): a random id taken when the
 * agent starts and the numbers of its batches in the order they are sent. The collector stores a batch it already
 * holds from this producer only once, so a request sent again because its answer was lost (a collector killed
 * between its fsync and its reply, a dropped connection) duplicates nothing.
 *
 * The numbers must follow the sending order of each topic: the batcher numbers a batch when it seals it and the
 * shipper sends each topic's batches in sealing order, resending a request whole. A new run takes a new id, so the
 * lines an agent reads again after a crash (those past its checkpoint) are stored again — at least once.
 */
import { randomBytes } from 'node:crypto';
import type { BatchProducer } from '../../shared/batch-codec.ts';

export class ProducerSequence {
  /** 53 random bits: exact as a JS number, and no two agents' runs will meet. */
  readonly id = Number(randomBytes(8).readBigUInt64BE() >> 11n);
  private next = 0;

  /** The stamp of the next batch. */
  take(): BatchProducer {
    return { id: this.id, sequence: this.next++ };
  }
}
