/**
 * When to send a failed request again: exponential backoff with full jitter (AWS architecture blog, "Exponential
 * Backoff And Jitter"), so that a fleet of agents does not hammer a collector that comes back in lock step, and
 * never sooner than the collector's Retry-After.
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
  // Half fixed, half random ("equal jitter"): never a near-zero delay in a tight failure loop.
  const jittered = cap / 2 + random() * (cap / 2);
  return Math.round(Math.max(jittered, Math.min(retryAfterMs ?? 0, options.maxMs * 10)));
}

/** Retry-After: delta-seconds or an HTTP-date; undefined if absent or unreadable. */
export function parseRetryAfter(header: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
