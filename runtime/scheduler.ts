/**
 * Bounded, key-ordered concurrency inside one partition.
 *
 * Up to `concurrency` jobs run at once. Jobs with the same key never overlap and run in the order they were
 * scheduled (offset order): a job whose key is busy waits in that key's queue, without taking a slot, until
 * the key's previous job settled; only then does it join the queue of jobs waiting for a slot. Jobs without
 * a key are unordered. `pending` counts jobs scheduled and not yet settled, so a caller can keep only a few
 * jobs queued ahead (`whenPendingBelow`) instead of a whole fetch batch.
 *
 * Written out instead of p-limit plus a promise chain per key: at tens of thousands of jobs per second the
 * five promises per job that combination made (limit, run, finally, key tail, tail clean-up) were a
 * measurable share of the worker's CPU. Here a job costs one promise (the one `schedule` returns).
 */

interface Entry {
  readonly key: string | null;
  readonly job: () => Promise<unknown>;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
}

export class KeyedScheduler {
  private running = 0;
  /** Jobs waiting for a slot, FIFO (`head` is the next one). */
  private ready: Entry[] = [];
  private head = 0;
  /** Keys with a job waiting for a slot or running, and the jobs queued behind it in schedule order. */
  private readonly busyKeys = new Map<string, Entry[]>();
  private pendingJobs = 0;
  private waiter: { below: number; resolve: () => void } | null = null;

  constructor(private readonly concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new Error(`concurrency must be >= 1, got ${concurrency}`);
  }

  schedule<T>(key: string | null, job: () => Promise<T>): Promise<T> {
    this.pendingJobs++;
    return new Promise<T>((resolve, reject) => {
      const entry: Entry = { key, job, resolve: resolve as (v: unknown) => void, reject };
      if (key !== null) {
        const behind = this.busyKeys.get(key);
        if (behind) {
          behind.push(entry);
          return;
        }
        this.busyKeys.set(key, []);
      }
      this.ready.push(entry);
      this.drain();
    });
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

  /** Starts waiting jobs while slots are free. */
  private drain(): void {
    while (this.running < this.concurrency && this.head < this.ready.length) {
      const entry = this.ready[this.head]!;
      this.ready[this.head++] = undefined as unknown as Entry;
      if (this.head >= 1024 && this.head * 2 >= this.ready.length) {
        this.ready = this.ready.slice(this.head);
        this.head = 0;
      }
      this.start(entry);
    }
  }

  private start(entry: Entry): void {
    this.running++;
    let p: Promise<unknown>;
    try {
      p = entry.job();
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (v) => {
        this.settled(entry);
        entry.resolve(v);
      },
      (e: unknown) => {
        this.settled(entry);
        entry.reject(e);
      },
    );
  }

  private settled(entry: Entry): void {
    this.running--;
    this.pendingJobs--;
    if (entry.key !== null) {
      const behind = this.busyKeys.get(entry.key)!;
      const next = behind.shift();
      if (next) this.ready.push(next);
      else this.busyKeys.delete(entry.key);
    }
    this.drain();
    const w = this.waiter;
    if (w && this.pendingJobs < w.below) {
      this.waiter = null;
      w.resolve();
    }
  }
}
