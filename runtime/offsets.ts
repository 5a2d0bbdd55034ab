/**
 * Per-partition offset bookkeeping for at-least-once commits with out-of-order completion.
 *
 * Jobs of one partition start in offset order but finish in any order. Kafka stores "the next offset to
 * read", so the committable offset is (highest offset below which everything finished) + 1. It never moves
 * backwards, and only one commit per partition is in flight.
 * See ../shared/design/kafkajs-pitfalls.md items 2, 3 and 8.
 */

export class PartitionOffsets {
  /** Started offsets, ascending. Entries below `committedIndex` are dropped from time to time. */
  private started: bigint[] = [];
  /** started[0..prefixIndex) are all finished: the contiguous prefix. */
  private prefixIndex = 0;
  /** started[0..committedIndex) are covered by the last successful commit. */
  private committedIndex = 0;
  private readonly finished = new Set<bigint>();
  private committed: bigint | null = null;
  private commitInFlight: Promise<void> | null = null;

  constructor(
    /** The consumer-group generation this bookkeeping belongs to; completions of other generations are dropped. */
    readonly generation: number,
    private readonly commit: (offset: string) => Promise<void>,
  ) {}

  begin(offset: string): void {
    const o = BigInt(offset);
    const last = this.started[this.started.length - 1];
    if (last !== undefined && o <= last) throw new Error(`offset ${offset} started out of order after ${last}`);
    this.started.push(o);
  }

  finish(offset: string): void {
    this.finished.add(BigInt(offset));
    while (this.prefixIndex < this.started.length && this.finished.has(this.started[this.prefixIndex]!)) {
      this.finished.delete(this.started[this.prefixIndex]!);
      this.prefixIndex++;
    }
  }

  /** Offset to commit now (next to read), or null when nothing new finished. */
  committable(): string | null {
    if (this.prefixIndex === 0) return null;
    const next = this.started[this.prefixIndex - 1]! + 1n;
    if (this.committed !== null && next <= this.committed) return null;
    return next.toString();
  }

  /** Started but not yet covered by a successful commit: what a crash now would process again. */
  get uncommitted(): number {
    return this.started.length - this.committedIndex;
  }

  /** Finished in the contiguous prefix but not yet committed. */
  get committableCount(): number {
    return this.prefixIndex - this.committedIndex;
  }

  /** The last offset this member committed for the partition ("next to read"), if any. */
  get lastCommitted(): string | null {
    return this.committed === null ? null : this.committed.toString();
  }

  /**
   * Commits the contiguous finished prefix. One commit per partition is in flight at a time: a caller that
   * finds one running waits for it, then commits whatever finished since (if anything). Resolves when
   * every finish seen before the call is committed; rejects with the error of the commit it started.
   */
  async flush(): Promise<void> {
    for (;;) {
      if (this.commitInFlight) {
        await this.commitInFlight;
        continue;
      }
      const target = this.committable();
      if (target === null) return;
      const index = this.prefixIndex;
      const attempt = this.commit(target).then(() => {
        const t = BigInt(target);
        if (this.committed === null || t > this.committed) this.committed = t;
        if (index > this.committedIndex) this.committedIndex = index;
        this.compact();
      });
      // Settles either way (never an unhandled rejection); the caller below sees the error itself.
      this.commitInFlight = attempt.then(
        () => {
          this.commitInFlight = null;
        },
        () => {
          this.commitInFlight = null;
        },
      );
      await attempt;
      return;
    }
  }

  /** Drops committed entries once they are the larger part of the array, keeping memory bounded. */
  private compact(): void {
    if (this.committedIndex < 1024 || this.committedIndex * 2 < this.started.length) return;
    this.started = this.started.slice(this.committedIndex);
    this.prefixIndex -= this.committedIndex;
    this.committedIndex = 0;
  }
}
