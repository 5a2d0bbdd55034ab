/**
 * Does a published replica equal a source's truth? The check behind the replication demo (`npm run local`)
 * and the sources tests: every live listing of the server is published with its latest price, status and
 * photo count, and nothing else is (no deleted listing, no stranger). "Latest price and status" are the
 * server's record as normalize reads it with the source's profile (a vendor's `Cancelled` is CANCELED, its
 * price may sit under another name), so the check compares like with like.
 */
import { normalizeListing } from '../../../operators/normalize/process';
import type { ResoDataset } from './dataset';

/** What the check needs of a published row (the publishedListings tool's ListingSummary fits). */
export interface PublishedRow {
  readonly id: string;
  readonly status: string;
  readonly priceMinor: number;
  readonly photoCount: number;
}

export interface ExpectedRow {
  readonly status: string;
  readonly priceMinor: number;
  readonly photoCount: number;
}

/** How a source's records are read (its sources-file entry's profile, country and currency). */
export interface SourceReading {
  readonly name: string;
  readonly profile?: string;
  readonly country?: string;
  readonly currency?: string;
}

export interface ReplicaDifference {
  readonly key: string;
  readonly what: 'missing' | 'not deleted' | 'price' | 'status' | 'photos';
  readonly expected: unknown;
  readonly received: unknown;
}

/**
 * The rows a perfect replica of `dataset` holds, by ListingKey: each live record as normalize reads it (a record
 * normalize rejects is expected nowhere), with as many photos as the server lists.
 */
export function expectedRows(source: SourceReading, dataset: ResoDataset): Map<string, ExpectedRow> {
  const out = new Map<string, ExpectedRow>();
  for (const r of dataset.records.values()) {
    if (dataset.isDeleted(r)) continue;
    try {
      const l = normalizeListing(
        {
          jobId: 'replica-check',
          source: source.name,
          listingKey: r.ListingKey,
          position: 0,
          receivedAt: new Date(0),
          defaultCountry: source.country ?? null,
          defaultCurrency: source.currency ?? null,
          profile: source.profile ?? null,
          payload: JSON.stringify({ ...r, Media: [] }),
        },
        { allowFilePhotoUrls: false },
      );
      out.set(r.ListingKey, { status: l.status, priceMinor: l.price.amountMinor, photoCount: r.Media.length });
    } catch {
      // normalize dead-letters it: not published.
    }
  }
  return out;
}

/** The differences between `expected` (by ListingKey) and `published` (ids `<source>:<ListingKey>`); empty when exact. */
export function replicaDifferences(
  source: string,
  expected: ReadonlyMap<string, ExpectedRow>,
  published: readonly PublishedRow[],
): ReplicaDifference[] {
  const out: ReplicaDifference[] = [];
  const rows = new Map(published.map((r) => [r.id.slice(source.length + 1), r]));
  for (const [key, e] of expected) {
    const row = rows.get(key);
    if (!row) {
      out.push({ key, what: 'missing', expected: 'a published row', received: 'none' });
      continue;
    }
    if (row.priceMinor !== e.priceMinor)
      out.push({ key, what: 'price', expected: e.priceMinor, received: row.priceMinor });
    if (row.status !== e.status) out.push({ key, what: 'status', expected: e.status, received: row.status });
    if (row.photoCount !== e.photoCount)
      out.push({ key, what: 'photos', expected: e.photoCount, received: row.photoCount });
  }
  for (const key of rows.keys())
    if (!expected.has(key)) out.push({ key, what: 'not deleted', expected: 'no row', received: rows.get(key)!.status });
  return out;
}
