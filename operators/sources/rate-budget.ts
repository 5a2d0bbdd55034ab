/**
 * A source's request budget: at most N requests per second, hour and day (MLS Grid: about 2/s, 7,200/h and
 * 40,000/day, and it suspends tokens that exceed them), and a pause after a 429's Retry-After. Pure state
 * over a clock: `waitMs()` says how long to wait before the next request, `spent()` records one.
 */

export interface RateLimits {
  readonly perSecond?: number;
  readonly perHour?: number;
  readonly perDay?: number;
}

const WINDOWS = [
  ['perSecond', 1_000],
  ['perHour', 3_600_000],
  ['perDay', 86_400_000],
] as const;

export class RateBudget {
  /** Send times within the longest window, oldest first. */
  private readonly sent: number[] = [];
  private head = 0;
  private pausedUntil = 0;

  constructor(
    private readonly limits: RateLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds to wait before the next request may be sent (0: now). */
  waitMs(): number {
    const t = this.now();
    this.forget(t);
    let wait = Math.max(0, this.pausedUntil - t);
    const live = this.sent.length - this.head;
    for (const [name, windowMs] of WINDOWS) {
      const limit = this.limits[name];
      if (limit === undefined || live < limit) continue;
      // The request `limit` back must leave the window first.
      const oldest = this.sent[this.sent.length - limit]!;
      wait = Math.max(wait, oldest + windowMs - t);
    }
    return wait;
  }

  spent(): void {
    this.sent.push(this.now());
  }

  /** A 429 (or 503) said to come back after `ms`. */
  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms);
  }

  /** Requests counted in the last `windowMs`. */
  count(windowMs: number): number {
    const t = this.now();
    let n = 0;
    for (let i = this.sent.length - 1; i >= this.head && this.sent[i]! > t - windowMs; i--) n++;
    return n;
  }

  private forget(t: number): void {
    const longest =
      this.limits.perDay !== undefined ? 86_400_000 : this.limits.perHour !== undefined ? 3_600_000 : 1_000;
    while (this.head < this.sent.length && this.sent[this.head]! <= t - longest) this.head++;
    if (this.head > 1024 && this.head * 2 > this.sent.length) {
      this.sent.splice(0, this.head);
      this.head = 0;
    }
  }
}

/**
 * Retry-After as milliseconds: delta-seconds or an HTTP-date; undefined when absent or unreadable.
 * Capped at `maxMs` so a hostile or broken header cannot park a source for days.
 */
export function retryAfterMs(value: string | undefined, nowMs: number, maxMs: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else {
    // An HTTP-date (IMF-fixdate) ends in GMT; Date.parse alone would read "-5" as a year.
    const at = /GMT$/.test(v) ? Date.parse(v) : Number.NaN;
    if (Number.isNaN(at)) return undefined;
    ms = at - nowMs;
  }
  return Math.min(Math.max(0, ms), maxMs);
}
