/**
 * When to try a failed request again, for every retrying caller (the agent's shipper, the client's Consumer and
 * Producer): exponential backoff with equal jitter (AWS architecture blog, "Exponential Backoff And Jitter": half
 * of each delay fixed, half random), so that a fleet of agents does not hammer a collector that comes back in lock
 * step, no delay is near zero in a tight failure loop, and never sooner than the collector's Retry-After.
 */

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 30_000 };

/** Delay before retry number `attempt` (0-based): uniform in [cap/2, cap], cap = min(max, initial * 2^attempt). */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const cap = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  const jittered = cap / 2 + random() * (cap / 2);
  return Math.round(Math.max(jittered, Math.min(retryAfterMs ?? 0, options.maxMs * 10)));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Retry-After: delta-seconds or an HTTP-date; undefined if absent or unreadable. */
export function parseRetryAfter(header: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
