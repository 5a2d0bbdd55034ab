/**
 * Does a published replica equal a source's truth? The check behind the replication demo (`npm run local`)
 * and the sources integration tests: every live listing of the server is published with its latest price,
 * status and photo count, and nothing else is (no deleted listing, no stranger).
 */
import type { ListingTruth } from './dataset';

/** What the check needs of a published row (the publishedListings tool's ListingSummary fits). */
export interface PublishedRow {
  readonly id: string;
  readonly status: string;
  readonly priceMinor: number;
  readonly photoCount: number;
}

export interface ReplicaDifference {
  readonly key: string;
  readonly what: 'missing' | 'not deleted' | 'price' | 'status' | 'photos';
  readonly expected: unknown;
  readonly received: unknown;
}

/** RESO StandardStatus (`Active Under Contract`, `ActiveUnderContract`) and Listflow's enum compare equal. */
const statusKey = (s: unknown): string =>
  String(s)
    .replace(/[^A-Za-z]/g, '')
    .toUpperCase();

/**
 * The differences between `truth` (ListingKey -> truth) and `published` (rows of the source, ids
 * `<source>:<ListingKey>`); empty when the replica is exact.
 */
export function replicaDifferences(
  source: string,
  truth: ReadonlyMap<string, ListingTruth>,
  published: readonly PublishedRow[],
): ReplicaDifference[] {
  const out: ReplicaDifference[] = [];
  const rows = new Map(published.map((r) => [r.id.slice(source.length + 1), r]));
  for (const [key, t] of truth) {
    const row = rows.get(key);
    if (!row) {
      out.push({ key, what: 'missing', expected: 'a published row', received: 'none' });
      continue;
    }
    const price = Math.round(Number(t.ListPrice) * 100);
    if (row.priceMinor !== price) out.push({ key, what: 'price', expected: price, received: row.priceMinor });
    if (statusKey(row.status) !== statusKey(t.StandardStatus))
      out.push({ key, what: 'status', expected: t.StandardStatus, received: row.status });
    if (row.photoCount !== t.photos.length)
      out.push({ key, what: 'photos', expected: t.photos.length, received: row.photoCount });
  }
  for (const key of rows.keys())
    if (!truth.has(key)) out.push({ key, what: 'not deleted', expected: 'no row', received: rows.get(key)!.status });
  return out;
}
