/**
 * The mass-delete guard of snapshot sources (kind file|http). A snapshot is the source's whole truth, so the
 * listings it no longer lists are deleted; an empty, truncated or half-exported feed would therefore delete the
 * site. Before anything of a new snapshot is written, its deletions are counted against the listings the source
 * holds (listings.source-keys), and the snapshot is refused whole when
 *
 * - it lists no listing while the source holds some (an empty feed: refused whatever the fraction allows), or
 * - it would delete more than the source's `maxDeleteFraction` of what it holds (default 0.5).
 *
 * A refusal writes nothing of the snapshot: the state records it (`refused`, shown by `sources list`) and the
 * poll fails with SOURCE_SNAPSHOT_REFUSED (retriable: the poller keeps polling, and a later snapshot within the
 * bounds proceeds and clears it). An operator who means it runs `listflow sources sync NAME --once
 * --allow-mass-delete`, or raises `maxDeleteFraction`.
 */
import { RetriableError } from '../../runtime/errors';
import type { SourceSnapshotRefusal } from '../../schemas/generated/types';

export interface DeleteCounts {
  /** Listings the source holds now. */
  readonly known: number;
  /** Listings the new snapshot lists. */
  readonly listed: number;
  /** Held listings the snapshot does not list: what it would delete. */
  readonly deletes: number;
}

export type GuardVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'empty' | 'fraction'; readonly fraction: number };

/** Whether a snapshot with these counts may be applied under `maxDeleteFraction` (0..1). */
export function guardSnapshot(c: DeleteCounts, maxDeleteFraction: number): GuardVerdict {
  if (c.known === 0 || c.deletes === 0) return { ok: true };
  const fraction = c.deletes / c.known;
  if (c.listed === 0) return { ok: false, reason: 'empty', fraction };
  return fraction > maxDeleteFraction ? { ok: false, reason: 'fraction', fraction } : { ok: true };
}

const pct = (f: number): string => `${Math.round(f * 1000) / 10}%`;

/** The refused snapshot's error: the source, the counts, the bound and both fixes. */
export class SnapshotRefusedError extends RetriableError {
  readonly refusal: SourceSnapshotRefusal;
  constructor(
    source: string,
    snapshot: string,
    c: DeleteCounts,
    verdict: Extract<GuardVerdict, { ok: false }>,
    maxDeleteFraction: number,
    at: Date,
  ) {
    const why =
      verdict.reason === 'empty'
        ? `lists no listing while the source holds ${c.known}: applying it would delete all of them`
        : `would delete ${c.deletes} of the ${c.known} listings the source holds (${pct(verdict.fraction)}), more than its maxDeleteFraction ${maxDeleteFraction} (${pct(maxDeleteFraction)}); it lists ${c.listed}`;
    const message = [
      `Source ${source}: snapshot ${snapshot.slice(0, 12)} ${why}. Nothing of it was written; the next poll reads the feed again.`,
      `Fix: if the feed is empty or truncated, fix the feed. If the deletions are real, run \`listflow sources sync ${source} --once --allow-mass-delete\` (with the sources workers stopped), or raise maxDeleteFraction of ${source} in the sources file and run \`listflow sources apply --yes\`.`,
    ].join(' ');
    super('SOURCE_SNAPSHOT_REFUSED', message, {
      detail: {
        source,
        snapshot,
        known: String(c.known),
        listed: String(c.listed),
        deletes: String(c.deletes),
        maxDeleteFraction: String(maxDeleteFraction),
      },
    });
    this.refusal = {
      snapshot,
      at: at.toISOString(),
      code: 'SOURCE_SNAPSHOT_REFUSED',
      message,
      known: c.known,
      listed: c.listed,
      deletes: c.deletes,
    };
  }
}
