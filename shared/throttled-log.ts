/**
 * Rate-limited warnings for failures that repeat on a timer (a background sweep while NATS elects a leader fails
 * every second): the first failure of a kind is logged at once, later ones of the same kind are counted and logged
 * at most once per interval with how many were held back, so a log shows that it happened, how often and for how
 * long, without a line per attempt. A kind is a key the caller chooses (e.g. the task and its bucket).
 */
import type { Logger } from './logger.ts';

export interface ThrottledLogOptions {
  readonly logger: Logger;
  /** At most one line per key per interval. Default 60 s. */
  readonly intervalMs?: number;
  readonly now?: () => number;
}

export class ThrottledLog {
  private readonly logger: Logger;
  private readonly intervalMs: number;
  private readonly now: () => number;
  /** Per key: when it was last logged, and how many occurrences were held back since. */
  private readonly state = new Map<string, { loggedAt: number; suppressed: number }>();

  constructor(options: ThrottledLogOptions) {
    this.logger = options.logger;
    this.intervalMs = options.intervalMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** Logs a warning for `key` unless one was logged less than an interval ago (then counts it). */
  warn(key: string, fields: Record<string, unknown>, message: string): void {
    const at = this.now();
    const s = this.state.get(key);
    if (s !== undefined && at - s.loggedAt < this.intervalMs) {
      s.suppressed++;
      return;
    }
    const suppressed = s?.suppressed ?? 0;
    this.state.set(key, { loggedAt: at, suppressed: 0 });
    this.logger.warn(
      suppressed > 0 ? { ...fields, repeatedSinceLastLog: suppressed, intervalMs: this.intervalMs } : fields,
      message,
    );
  }

  /** The failure of `key` is over: the next one is logged at once (and a recovery line says how many were held). */
  recovered(key: string, fields: Record<string, unknown>, message: string): void {
    const s = this.state.get(key);
    if (s === undefined) return;
    this.state.delete(key);
    this.logger.info(s.suppressed > 0 ? { ...fields, repeatedSinceLastLog: s.suppressed } : fields, message);
  }
}
