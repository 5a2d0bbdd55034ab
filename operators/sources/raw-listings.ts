/**
 * A replicated page as the RawListing records the sources step produces to `listings.raw`, keyed as ingest
 * keys them (`<source>:<ListingKey>`), so that normalize, images and publish treat a replicated listing
 * exactly like an ingested one. Deleted records travel too, as sent: the source's profile reads them as
 * DELETE (MlgCanView false, StandardStatus Delete), and publish removes the row and writes the tombstone.
 */
import type { RawListing } from '../../schemas/generated/types';
import { listingId } from '../ingest/process';
import type { ReplicatedPage } from './replicate';
import type { SourceCommon } from './source-spec';

export interface RawListingRecord {
  readonly key: string;
  readonly value: RawListing;
  /** The record says the listing is gone (a flag, a status, or a purge): its key leaves the source's keys. */
  readonly deleted?: boolean;
  /** sha256 of the payload, kept in the source's keys by snapshot sources: an unchanged listing is not sent again. */
  readonly digest?: string;
}

export interface PageContext {
  /** Identifies the pass (e.g. `<source>@<cursor timestamp at its start>`), in RawListing.jobId. */
  readonly passId: string;
  /** Records of the pass before this page: positions run across pages, as ingest's do. */
  readonly position: number;
  readonly receivedAt: Date;
}

/** The page's records (live, then deleted) as RawListings; page order is kept. */
export function rawListingsOf(source: SourceCommon, page: ReplicatedPage, c: PageContext): RawListingRecord[] {
  const live = page.records.length;
  return [...page.records, ...page.deletedRecords].map((record, i) => {
    const listingKey = String(record.ListingKey).trim();
    return {
      key: listingId(source.name, listingKey),
      deleted: i >= live,
      value: {
        jobId: c.passId,
        source: source.name,
        listingKey,
        position: c.position + i,
        receivedAt: c.receivedAt,
        defaultCountry: source.country ?? null,
        defaultCurrency: source.currency ?? null,
        profile: source.profile ?? null,
        payload: JSON.stringify(record),
      },
    };
  });
}
