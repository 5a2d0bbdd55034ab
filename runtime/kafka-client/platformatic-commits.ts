/**
 * The platformatic adapter's commits that the library has not answered yet.
 *
 * The library answers a commit its generation lost by rejoining and sending the same offsets again under the
 * new generation, whether or not the partition is still this member's: that can move a partition's committed
 * offset back under the member that owns it now (seen in scaling out and in: 1384 -> 889). The library reads
 * the offsets again for that retry, after its join event, so emptying them on the join turns the retry into a
 * commit of nothing. Dropping a commit only lets records be processed again; the commit is reported failed, as
 * a commit during a rebalance is on kafkajs.
 */
import type { LibraryConsumer } from './platformatic-library';
import type { TopicPartitionOffsets } from './types';

type Offsets = Parameters<LibraryConsumer['commit']>[0]['offsets'];

export class PendingCommits {
  private readonly pending = new Map<Offsets, { withdrawn: boolean }>();

  constructor(
    private readonly send: (offsets: Offsets) => Promise<void>,
    private readonly lost: () => Error,
  ) {}

  /** On every join: what is still unanswered commits nothing, and fails. */
  withdrawAll(): void {
    for (const [offsets, state] of this.pending) {
      offsets.length = 0;
      state.withdrawn = true;
    }
  }

  /** Commits the seam's offsets, each with its partition's leader epoch (-1 when unknown). */
  async commit(
    topics: readonly TopicPartitionOffsets[],
    leaderEpochOf: (topic: string, partition: number) => number,
  ): Promise<void> {
    const offsets: Offsets = topics.flatMap((t) =>
      t.partitions.map((p) => ({
        topic: t.topic,
        partition: p.partition,
        offset: BigInt(p.offset),
        leaderEpoch: leaderEpochOf(t.topic, p.partition),
      })),
    );
    if (offsets.length === 0) return;
    const state = { withdrawn: false };
    this.pending.set(offsets, state);
    try {
      await this.send(offsets);
    } finally {
      this.pending.delete(offsets);
    }
    if (state.withdrawn) throw this.lost();
  }
}
