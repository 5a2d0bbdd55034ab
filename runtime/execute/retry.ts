/**
 * The runtime's one retry loop, `withRetry(policy, attempt => …)`, and its backoff.
 *
 * Backoff is capped exponential with full jitter: attempt n (1-based) waits a random time in
 * [0, min(maxBackoffMs, initialBackoffMs * 2^(n-1))]. Full jitter spreads retries of many workers hitting the
 * same failing dependency; a caller that wants the ceiling itself (a deterministic schedule) passes
 * `random: () => 1`, one that wants no wait at all (the dry run) `random: () => 0`.
 *
 * Every loop that asks again goes through here: a job's attempts (runtime/execute/executor.ts), Kafka's "ask
 * again" answers (runtime/kafka.ts), schema registration racing other workers (runtime/serde.ts) and an
 * operator's own requests to a flaky dependency (a download, say). Each says what is worth another attempt;
 * the loop, its bound and its backoff are the same.
 */
import type { RetryPolicy } from '../pipeline';

export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryOptions {
  /** Whether `error`, thrown by attempt `attempt`, is worth another attempt (attempts left are checked apart). */
  readonly retriable: (error: unknown, attempt: number) => boolean;
  /** Called for every failed attempt, with the wait before the next one, or null when there is none. */
  readonly onFailure?: (error: unknown, attempt: number, waitMs: number | null) => void;
  /** Aborts the wait between attempts (the loop then rejects with the signal's reason). */
  readonly signal?: AbortSignal;
  /** Jitter source for the backoff; default Math.random. */
  readonly random?: () => number;
  /** Gives up once the time since the first attempt plus the next wait would pass this. */
  readonly budgetMs?: number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * Runs `attempt(n)` (n from 1) until it resolves, throws something `retriable` says is not worth another
 * attempt, or `policy.maxAttempts` (or `budgetMs`) is spent; then rejects with the last error, as thrown.
 * Waits `backoffMs(policy, n)` between attempts. `opts` may be a function, called at the first failure: a
 * job's options close over that job, and building them for every job that succeeds at once is wasted work.
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  attempt: (n: number) => Promise<T>,
  options: RetryOptions | (() => RetryOptions),
): Promise<T> {
  let opts = typeof options === 'function' ? undefined : options;
  const started = opts !== undefined && opts.budgetMs === undefined ? 0 : Date.now();
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (e) {
      opts ??= (options as () => RetryOptions)();
      let wait: number | null = null;
      if (n < policy.maxAttempts && opts.retriable(e, n)) {
        wait = backoffMs(policy, n, opts.random);
        if (opts.budgetMs !== undefined && Date.now() - started + wait > opts.budgetMs) wait = null;
      }
      opts.onFailure?.(e, n, wait);
      if (wait === null) throw e;
      await (opts.sleep ?? sleep)(wait, opts.signal);
    }
  }
}
