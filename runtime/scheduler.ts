/**
 * Bounded, key-ordered concurrency inside one partition.
 *
 * Up to `concurrency` jobs run at once (p-limit). Jobs with the same key never overlap and run in the order
 * they were scheduled (offset order), because each waits for its key's previous job before it even takes a
 * p-limit slot. Jobs without a key are unordered. `pending` counts jobs scheduled and not yet settled, so
 * a caller can keep only a few jobs queued ahead (`whenPendingBelow`) instead of a whole fetch batch.
 */
import pLimit, { type LimitFunction } from 'p-limit';

export class KeyedScheduler {
  private readonly limit: LimitFunction;
  private readonly tails = new Map<string, Promise<unknown>>();
  private pendingJobs = 0;
  private waiter: { below: number; resolve: () => void } | null = null;

  constructor(concurrency: number) {
    this.limit = pLimit(concurrency);
  }

  schedule<T>(key: string | null, job: () => Promise<T>): Promise<T> {
    this.pendingJobs++;
    const previous = key === null ? undefined : this.tails.get(key);
    const run = (previous ? previous.then(() => this.limit(job)) : this.limit(job)).finally(() => this.settled());
    if (key !== null) {
      const tail = run.then(
        () => undefined,
        () => undefined,
      );
      this.tails.set(key, tail);
      void tail.then(() => {
        if (this.tails.get(key) === tail) this.tails.delete(key);
      });
    }
    return run;
  }

  /** Jobs scheduled and not yet settled (running, waiting for a slot, or waiting for their key). */
  get pending(): number {
    return this.pendingJobs;
  }

  /** Resolves once fewer than `n` jobs are pending. One waiter at a time (the batch loop). */
  whenPendingBelow(n: number): Promise<void> {
    if (this.pendingJobs < n) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiter = { below: n, resolve };
    });
  }

  private settled(): void {
    this.pendingJobs--;
    const w = this.waiter;
    if (w && this.pendingJobs < w.below) {
      this.waiter = null;
      w.resolve();
    }
  }
}
