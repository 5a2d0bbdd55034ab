/**
 * The purge pass of a source that signals no deletions (Spark, CREA DDF: a listing simply stops being listed):
 * every key the server lists now (`$select=ListingKey`, one pass over the resource) against the keys the
 * source holds (listings.source-keys, written with every page), and a key-only DELETE RawListing for each key
 * that disappeared. normalize turns it into a DELETE listing (operators/normalize/key-only-delete.ts), stamped
 * with the purge's time, so publish removes the row (an older version than the published one would be ignored).
 */
import type { RawListing } from '../../schemas/generated/types';
import type { SourceClient } from './client';
import { purgedKeys } from './deletes';
import type { RawListingRecord } from './raw-listings';
import { listAllKeys, type ReplicationSpec } from './replicate';
import type { SourceCommon } from './source-spec';
import { listingId } from '../ingest/process';

/** The key-only DELETE of `listingKey`, seen gone at `at`. */
export function purgeDelete(source: SourceCommon, listingKey: string, at: Date, position: number): RawListingRecord {
  const iso = at.toISOString();
  const value: RawListing = {
    jobId: `${source.name}@purge-${iso}`,
    source: source.name,
    listingKey,
    position,
    receivedAt: at,
    defaultCountry: source.country ?? null,
    defaultCurrency: source.currency ?? null,
    profile: source.profile ?? null,
    payload: JSON.stringify({ ListingKey: listingKey, StandardStatus: 'Delete', ModificationTimestamp: iso }),
  };
  return { key: listingId(source.name, listingKey), value, deleted: true };
}

/** The deletions a purge pass finds: the held keys the server no longer lists, in key order. */
export async function purgePass(o: {
  readonly source: SourceCommon;
  readonly spec: ReplicationSpec;
  readonly client: SourceClient;
  /** ListingKeys the source holds now (not `<source>:` ids). */
  readonly held: Iterable<string>;
  readonly at: Date;
  readonly signal: AbortSignal;
}): Promise<RawListingRecord[]> {
  const listed = await listAllKeys(o.spec, o.client, o.signal);
  return purgedKeys(o.held, listed).map((k, i) => purgeDelete(o.source, k, o.at, i));
}
