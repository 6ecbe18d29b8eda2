/**
 * The bound on bytes read but not yet acknowledged. Lines enter when the batcher takes them and leave when the
 * collector acknowledges (or rejects for good) the batch that carries them. Readers check `full` before every chunk
 * and pause while it is set: the log file on disk is the buffer, so memory stays bounded however long the collector
 * is down. The bound can be exceeded by at most one read chunk per file, plus one line held per file.
 */
export class UnackedBytes {
  readonly limit: number;
  private used = 0;
  private waiters: (() => void)[] = [];

  // No change callback: `add` runs once per line, so the metric reads `bytes` when scraped instead.
  constructor(options: { limit: number }) {
    this.limit = options.limit;
  }

  get bytes(): number {
    return this.used;
  }

  get full(): boolean {
    return this.used >= this.limit;
  }

  add(bytes: number): void {
    this.used += bytes;
  }

  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
    if (!this.full && this.waiters.length > 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Resolves when there is room again (at once if there is). */
  whenRoom(): Promise<void> {
    if (!this.full) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
