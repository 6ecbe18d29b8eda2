/**
 * Whether the agent can deliver, for its log and its `/readyz`. A topic is in an outage from its first failed
 * attempt until a request succeeds. During an outage the agent warns on the first attempts and then at most once
 * per `warnEveryMs` with the running totals (attempts, how long, bytes waiting), so a long outage never goes quiet
 * and never floods the log either. Pure bookkeeping: the clock is passed in, the caller logs.
 */

export interface Outage {
  readonly topic: string;
  /** When the first failed attempt of this outage happened (ms since the epoch). */
  readonly since: number;
  readonly attempts: number;
  readonly lastReason: string;
}

export interface DeliveryStateOptions {
  /** Attempts warned about one by one at the start of an outage. */
  readonly warnFirst?: number;
  /** After those, at most one warning per this many ms. */
  readonly warnEveryMs?: number;
}

export class DeliveryState {
  private readonly outages = new Map<string, Outage & { lastWarned: number }>();
  private readonly warnFirst: number;
  private readonly warnEveryMs: number;

  constructor(options: DeliveryStateOptions = {}) {
    this.warnFirst = options.warnFirst ?? 3;
    this.warnEveryMs = options.warnEveryMs ?? 60_000;
  }

  /** Records a failed attempt; returns the outage when this attempt should be logged as a warning. */
  failed(topic: string, reason: string, now: number): Outage | undefined {
    const previous = this.outages.get(topic);
    const outage = {
      topic,
      since: previous?.since ?? now,
      attempts: (previous?.attempts ?? 0) + 1,
      lastReason: reason,
      lastWarned: previous?.lastWarned ?? 0,
    };
    const warn = outage.attempts <= this.warnFirst || now - outage.lastWarned >= this.warnEveryMs;
    if (warn) outage.lastWarned = now;
    this.outages.set(topic, outage);
    return warn ? outage : undefined;
  }

  /** Records a delivered request; returns the outage it ended, if any. */
  delivered(topic: string): Outage | undefined {
    const outage = this.outages.get(topic);
    this.outages.delete(topic);
    return outage;
  }

  /** The topics that cannot be delivered now, oldest outage first. */
  current(): Outage[] {
    return [...this.outages.values()]
      .map(({ topic, since, attempts, lastReason }) => ({ topic, since, attempts, lastReason }))
      .sort((a, b) => a.since - b.since);
  }
}
