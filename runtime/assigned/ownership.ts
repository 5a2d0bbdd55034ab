/**
 * Which keys of an assignment topic this replica owns, and what to do when the group or the topic changes.
 * Pure bookkeeping (no Kafka), so the rules have table tests: the worker (assigned-worker.ts) feeds it the
 * group's assignments and the topic's records and carries out the actions.
 *
 * Rules:
 * - A key is owned while its partition is assigned to this replica and its latest record is not a tombstone.
 * - A record whose bytes equal the running one's (the topic is re-read from its start after every rebalance)
 *   changes nothing; a changed one restarts the key's owner, so a new declaration takes effect.
 * - A key whose owner ended by itself (a permanent failure, dead-lettered) is not restarted for the same
 *   bytes, or every rebalance would dead-letter it again; a changed record starts it again.
 */
import { createHash } from 'node:crypto';

export interface AssignedRecord {
  readonly partition: number;
  readonly offset: string;
  readonly key: string;
  readonly value: Buffer;
}

export type OwnershipAction =
  | { readonly kind: 'start'; readonly record: AssignedRecord }
  | { readonly kind: 'stop'; readonly key: string; readonly reason: string };

const digestOf = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export class KeyOwnership {
  private assigned = new Set<number>();
  private readonly running = new Map<string, { partition: number; digest: string }>();
  /** Keys whose owner ended by itself, with the bytes it ended on. */
  private readonly ended = new Map<string, { partition: number; digest: string }>();

  /** The group gave this replica `partitions` (all it now has): keys of the others stop. */
  assign(partitions: readonly number[]): OwnershipAction[] {
    this.assigned = new Set(partitions);
    const out: OwnershipAction[] = [];
    for (const [key, r] of this.running) {
      if (!this.assigned.has(r.partition)) {
        this.running.delete(key);
        out.push({ kind: 'stop', key, reason: `partition ${r.partition} moved to another replica` });
      }
    }
    // A key that ended here and moved away is tried afresh by whoever has it next (here again, too).
    for (const [key, e] of [...this.ended]) if (!this.assigned.has(e.partition)) this.ended.delete(key);
    return out;
  }

  /** The latest record of `key` (null: a tombstone), read from an assigned partition. */
  record(partition: number, offset: string, key: string, value: Buffer | null): OwnershipAction[] {
    if (!this.assigned.has(partition)) return [];
    const current = this.running.get(key);
    if (value === null) {
      this.ended.delete(key);
      if (!current) return [];
      this.running.delete(key);
      return [{ kind: 'stop', key, reason: 'retired (tombstone)' }];
    }
    const digest = digestOf(value);
    if (current?.digest === digest) return [];
    if (!current && this.ended.get(key)?.digest === digest) return [];
    this.ended.delete(key);
    this.running.set(key, { partition, digest });
    const start: OwnershipAction = { kind: 'start', record: { partition, offset, key, value } };
    return current ? [{ kind: 'stop', key, reason: 'declaration changed' }, start] : [start];
  }

  /** The owner of `key` ended by itself (it returned or failed for good) on the bytes it was started with. */
  endedBy(key: string, value: Buffer): void {
    const current = this.running.get(key);
    if (current?.digest !== digestOf(value)) return; // restarted since: the newer owner is the one running
    this.running.delete(key);
    this.ended.set(key, current);
  }

  /** Everything stops (shutdown). */
  stopAll(reason: string): OwnershipAction[] {
    const out: OwnershipAction[] = [...this.running.keys()].map((key) => ({ kind: 'stop' as const, key, reason }));
    this.running.clear();
    return out;
  }

  get owned(): readonly string[] {
    return [...this.running.keys()];
  }
}
