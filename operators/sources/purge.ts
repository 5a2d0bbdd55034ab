/**
 * The purge pass of a source that signals no deletions (Spark, CREA DDF: a listing simply stops being listed):
 * every key the server lists now (`$select=ListingKey`, one pass over the resource) against the keys the
 * source holds (listings.source-keys, written with every page), and a key-only DELETE RawListing for each key
 * that disappeared. normalize turns it into a DELETE listing (operators/normalize/key-only-delete.ts), stamped
 * with the purge's time, so publish removes the row (an older version than the published one would be ignored).
 *
 * A key missing from the pass is only a candidate. The pass pages by `$skip` on most servers, and a listing
 * that leaves the feed behind the offset shifts the rest, so one live key is never listed: deleting it would
 * take a live listing off the sites until it next changes. So the candidates are asked for again by key
 * (`ListingKey in (...)`, in batches), and only the keys that query does not return are deleted.
 */
import type { RawListing } from '../../schemas/generated/types';
import type { SourceClient } from './client';
import { purgedKeys } from './deletes';
import type { RawListingRecord } from './raw-listings';
import { inList, KEYS_PER_IN_LIST } from './odata-filter';
import { buildQuery } from './query';
import { keysListed, listAllKeys, type ReplicationSpec } from './replicate';
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
  const candidates = purgedKeys(o.held, listed);
  const still = await listedAmong(o.spec, o.client, candidates, o.signal);
  return candidates.filter((k) => !still.has(k)).map((k, i) => purgeDelete(o.source, k, o.at, i));
}

/**
 * Which of `keys` the server lists now: `<key> in (...)` with the source's own filter. A batch is one page
 * (no larger than the source's page size), so no offset can shift inside it; links are still followed.
 */
async function listedAmong(
  spec: ReplicationSpec,
  client: SourceClient,
  keys: readonly string[],
  signal: AbortSignal,
): Promise<Set<string>> {
  const found = new Set<string>();
  const perQuery = Math.min(KEYS_PER_IN_LIST, spec.pageSize);
  for (let i = 0; i < keys.length; i += perQuery) {
    const batch = keys.slice(i, i + perQuery);
    const url = buildQuery(spec, undefined, {
      initial: false,
      cursorTerm: inList(spec.keyField, batch),
      select: [spec.keyField],
      top: batch.length,
    });
    await keysListed(spec, client, url, signal, found);
  }
  return found;
}
