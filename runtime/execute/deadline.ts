/**
 * A job attempt's deadline: aborts after `ms`, or when `parent` aborts (shutdown, rebalance). Created lazily:
 * a job that returns its outputs synchronously and never looks at `ctx.signal` (a pure transform, the pass-through)
 * costs no timer, controller or listener, which matters at tens of thousands of records/s.
 */
export class JobDeadline {
  private controller: AbortController | null = null;
  private timer: NodeJS.Timeout | undefined;
  private onParent: (() => void) | undefined;
  private abortedPromise: Promise<never> | null = null;

  constructor(
    private readonly ms: number,
    private readonly parent?: AbortSignal,
  ) {}

  get signal(): AbortSignal {
    if (!this.controller) {
      const controller = new AbortController();
      this.controller = controller;
      this.timer = setTimeout(
        () => controller.abort(new DOMException(`job exceeded its ${this.ms} ms deadline`, 'TimeoutError')),
        this.ms,
      );
      const parent = this.parent;
      if (parent) {
        this.onParent = () => controller.abort(parent.reason);
        if (parent.aborted) this.onParent();
        else parent.addEventListener('abort', this.onParent, { once: true });
      }
    }
    return this.controller.signal;
  }

  /** Rejects when the deadline passes. */
  get aborted(): Promise<never> {
    this.abortedPromise ??= abortPromise(this.signal);
    return this.abortedPromise;
  }

  clear(): void {
    if (!this.controller) return;
    clearTimeout(this.timer);
    if (this.onParent) this.parent?.removeEventListener('abort', this.onParent);
  }
}

/** Rejects when `signal` aborts. Marked handled up front: a deadline firing after the job finished must not crash the process. */
export function abortPromise(signal: AbortSignal): Promise<never> {
  const p = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  p.catch(() => undefined);
  return p;
}

/** What a deadline checked elsewhere (an operator thread's) throws, so it classifies as JOB_TIMEOUT like JobDeadline's. */
export function deadlineError(deadlineAt: number, where: string): Error {
  const e = new Error(`job exceeded its deadline (${new Date(deadlineAt).toISOString()}) ${where}`);
  e.name = 'TimeoutError';
  return e;
}
