/**
 * The statements publish runs, built as text plus parameters. Each is one statement for the whole batch
 * (arrays through unnest), so a batch of any size is a fixed number of round trips, and every write carries
 * its own version guard as a second line of defence behind the plan.
 */
import type { PublishedListing } from '../../schemas/generated/types';

export interface Statement {
  readonly text: string;
  readonly values: readonly unknown[];
}

export interface ListingRow {
  readonly id: string;
  readonly modified_at: Date;
  readonly document: unknown;
}
export interface TombstoneRow {
  readonly id: string;
  readonly modified_at: Date;
}

export const selectListings = (ids: readonly string[]): Statement => ({
  text: 'SELECT id, modified_at, document FROM listings WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE',
  values: [ids],
});

export const selectTombstones = (ids: readonly string[]): Statement => ({
  text: 'SELECT id, modified_at FROM listing_tombstones WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE',
  values: [ids],
});

/** Column name, SQL array type, and how a published document fills it. */
const COLUMNS: ReadonlyArray<readonly [string, string, (d: PublishedListing) => unknown]> = [
  ['id', 'text', (d) => d.listing.id],
  ['source', 'text', (d) => d.listing.source],
  ['status', 'text', (d) => d.listing.status],
  ['property_type', 'text', (d) => d.listing.propertyType],
  ['price_minor', 'bigint', (d) => d.listing.price.amountMinor],
  ['currency', 'text', (d) => d.listing.price.currency],
  ['city', 'text', (d) => d.listing.address.city],
  ['region', 'text', (d) => d.listing.address.region],
  ['postal_code', 'text', (d) => d.listing.address.postalCode],
  ['country', 'text', (d) => d.listing.address.country],
  ['bedrooms', 'integer', (d) => d.listing.bedrooms],
  ['bathrooms', 'integer', (d) => d.listing.bathroomsTotal],
  ['living_area_sqft', 'double precision', (d) => d.listing.livingAreaSqft],
  ['lat', 'double precision', (d) => d.listing.geo?.lat ?? null],
  ['lon', 'double precision', (d) => d.listing.geo?.lon ?? null],
  ['modified_at', 'timestamptz', (d) => d.listing.modifiedAt],
  ['photo_count', 'integer', (d) => d.listing.photos.length],
  ['previous_price_minor', 'bigint', (d) => d.previousPrice?.amountMinor ?? null],
  ['previous_currency', 'text', (d) => d.previousPrice?.currency ?? null],
  ['published_at', 'timestamptz', (d) => d.publishedAt],
  ['document', 'jsonb', (d) => JSON.stringify(d)],
];

export const LISTING_COLUMNS = COLUMNS.map((c) => c[0]);

/**
 * One multi-row upsert; an existing row is replaced only by a version at least as new (the plan upserts an equal
 * version only when its content differs: a re-derivation after a rule change), never by an older one.
 */
export function upsertListings(docs: readonly PublishedListing[]): Statement {
  const names = COLUMNS.map((c) => c[0]);
  const unnest = COLUMNS.map((c, i) => `$${i + 1}::${c[1]}[]`).join(', ');
  const updates = names
    .filter((n) => n !== 'id')
    .map((n) => `${n} = EXCLUDED.${n}`)
    .join(', ');
  return {
    text:
      `INSERT INTO listings (${names.join(', ')}) SELECT * FROM unnest(${unnest}) ` +
      `ON CONFLICT (id) DO UPDATE SET ${updates} WHERE listings.modified_at <= EXCLUDED.modified_at`,
    values: COLUMNS.map((c) => docs.map(c[2])),
  };
}

/** Tombstones older than a newly published version are dropped. */
export function clearTombstones(docs: readonly PublishedListing[]): Statement {
  return {
    text:
      'DELETE FROM listing_tombstones t USING unnest($1::text[], $2::timestamptz[]) AS u(id, modified_at) ' +
      'WHERE t.id = u.id AND t.modified_at < u.modified_at',
    values: [docs.map((d) => d.listing.id), docs.map((d) => d.listing.modifiedAt)],
  };
}

export interface Deletion {
  readonly id: string;
  readonly modifiedAt: Date;
}

/** Removes rows not newer than the DELETE. */
export function deleteListings(dels: readonly Deletion[]): Statement {
  return {
    text:
      'DELETE FROM listings l USING unnest($1::text[], $2::timestamptz[]) AS d(id, modified_at) ' +
      'WHERE l.id = d.id AND l.modified_at <= d.modified_at',
    values: [dels.map((d) => d.id), dels.map((d) => d.modifiedAt)],
  };
}

export function upsertTombstones(dels: readonly Deletion[], now: Date): Statement {
  return {
    text:
      'INSERT INTO listing_tombstones (id, modified_at, deleted_at) ' +
      'SELECT u.id, u.modified_at, $3::timestamptz FROM unnest($1::text[], $2::timestamptz[]) AS u(id, modified_at) ' +
      'ON CONFLICT (id) DO UPDATE SET modified_at = EXCLUDED.modified_at, deleted_at = EXCLUDED.deleted_at ' +
      'WHERE listing_tombstones.modified_at < EXCLUDED.modified_at',
    values: [dels.map((d) => d.id), dels.map((d) => d.modifiedAt), now],
  };
}
