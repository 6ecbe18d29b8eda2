/**
 * Reused memory for fetch answers: the stored bytes a read fills (LogStore.read's `readInto`), and the batches the
 * Kafka listener translates from them. One pool per collector, shared by HTTP fetch and Kafka Fetch.
 *
 * Why: a consumer reading at full speed makes each answer several MB of fresh buffers. Allocated anew, that churn
 * of external memory made V8 run a major GC every few answers (108 per read of a 1.1 GB topic with kcat, 39-48 with
 * the parallel HTTP fetch); the marking and sweeping, mostly on V8's helper threads, took more CPU than Kafka's
 * translation itself, and on 2 cores kcat read at 225 MB/s instead of 320. With the memory reused, no major GC ran
 * while the topic was read.
 *
 * The rule that keeps this safe: a block goes back to the pool only after every answer carved from it is written
 * (the Kafka connection calls `release` from the socket write's callback, HTTP fetch when its response closes; both
 * also run when the connection is gone first). A block that never comes back is simply collected.
 */

/** Blocks of one size, kept for reuse up to a cap. */
export class FetchMemoryPool {
  private readonly free: Buffer[] = [];
  private prepared = 0;

  constructor(
    /** A translated batch larger than this gets a block of its own, not pooled. */
    readonly blockSize = 4 * 1024 * 1024,
    /** Blocks kept while unused: enough for a few consumers' answers in flight at once. */
    private readonly maxFreeBlocks = 16,
    /** Stored bytes all connections together may hold read ahead (fetch-ahead.ts). */
    private readonly maxPreparedBytes = 64 * 1024 * 1024,
  ) {}

  /** Counts `bytes` more as read ahead; false (and nothing counted) when that would pass the cap. */
  reservePrepared(bytes: number): boolean {
    if (this.prepared + bytes > this.maxPreparedBytes) return false;
    this.prepared += bytes;
    return true;
  }

  releasePrepared(bytes: number): void {
    this.prepared -= bytes;
  }

  /** A block of at least `size` bytes. */
  take(size: number): Buffer {
    if (size > this.blockSize) return Buffer.allocUnsafeSlow(size);
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.blockSize);
  }

  give(block: Buffer): void {
    if (block.length === this.blockSize && this.free.length < this.maxFreeBlocks) this.free.push(block);
  }

  /** Memory for one answer. */
  forAnswer(): AnswerMemory {
    return new AnswerMemory(this);
  }
}

/**
 * The regions one answer reads and translates into, carved one after the other from pooled blocks. `region` and
 * `keep` make it a TranslationMemory (kafka/codec/record-batch.ts).
 */
export class AnswerMemory {
  private readonly blocks: Buffer[] = [];
  private block: Buffer | undefined;
  private used = 0;

  constructor(private readonly pool: FetchMemoryPool) {}

  region(size: number): Buffer {
    if (this.block === undefined || this.block.length - this.used < size) {
      this.block = this.pool.take(size);
      this.blocks.push(this.block);
      this.used = 0;
    }
    return this.block.subarray(this.used);
  }

  keep(bytes: number): void {
    this.used += bytes;
  }

  /** A buffer of exactly `size` bytes, kept (a file read fills it). */
  bufferOf(size: number): Buffer {
    const buffer = this.region(size).subarray(0, size);
    this.keep(size);
    return buffer;
  }

  /** Gives the blocks back: call only once nothing carved from them will be read again (the answer is written). */
  release(): void {
    for (const block of this.blocks) this.pool.give(block);
    this.blocks.length = 0;
    this.block = undefined;
  }
}
