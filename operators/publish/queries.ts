/**
 * The reads of publish's published view that other parts of Listflow need (the CLI's listings commands,
 * ingest --wait's row check, the status page), kept beside the tables they read (migrations.ts: `listings`,
 * `listing_tombstones` and the `listing_search` view), so a change of the schema changes them in one place.
 */
import type { ListingStatus, PublishedListing } from '../../schemas/generated/types';
import type { PublishedListings } from '../tools';
import type { Queryable } from './db';
import { reviveDocument } from './process';

/** The statuses listing_search shows (kept in step with its WHERE clause). */
export const ON_MARKET: readonly ListingStatus[] = ['ACTIVE', 'ACTIVE_UNDER_CONTRACT', 'PENDING', 'COMING_SOON'];

export interface ListingSummary {
  readonly id: string;
  readonly status: string;
  readonly propertyType: string;
  readonly priceMinor: number;
  readonly currency: string;
  readonly previousPriceMinor: number | null;
  readonly city: string;
  readonly region: string;
  readonly postalCode: string;
  readonly bedrooms: number | null;
  readonly bathrooms: number | null;
  readonly livingAreaSqft: number | null;
  readonly photoCount: number;
  readonly cardUrl: string | null;
  readonly modifiedAt: string;
  readonly publishedAt: string;
}

const SUMMARY_COLUMNS = `l.id, l.status, l.property_type, l.price_minor, l.currency, l.previous_price_minor, l.city,
  l.region, l.postal_code, l.bedrooms, l.bathrooms, l.living_area_sqft, l.photo_count, s.card_url,
  l.modified_at, l.published_at`;

type SummaryRow = Record<string, unknown>;

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function summaryOf(r: SummaryRow): ListingSummary {
  return {
    id: String(r.id),
    status: String(r.status),
    propertyType: String(r.property_type),
    priceMinor: Number(r.price_minor),
    currency: String(r.currency),
    previousPriceMinor: num(r.previous_price_minor),
    city: String(r.city),
    region: String(r.region),
    postalCode: String(r.postal_code),
    bedrooms: num(r.bedrooms),
    bathrooms: num(r.bathrooms),
    livingAreaSqft: num(r.living_area_sqft),
    photoCount: Number(r.photo_count),
    cardUrl: (r.card_url as string | null) ?? null,
    modifiedAt: new Date(r.modified_at as string).toISOString(),
    publishedAt: new Date(r.published_at as string).toISOString(),
  };
}

export type GetResult =
  | { readonly found: true; readonly summary: ListingSummary; readonly document: PublishedListing }
  | { readonly found: false; readonly deletedAt?: string; readonly modifiedAt?: string };

export async function getListing(db: Queryable, id: string): Promise<GetResult> {
  const { rows } = await db.query<SummaryRow>(
    `SELECT ${SUMMARY_COLUMNS}, l.document FROM listings l LEFT JOIN listing_search s ON s.id = l.id WHERE l.id = $1`,
    [id],
  );
  const row = rows[0];
  if (row) return { found: true, summary: summaryOf(row), document: reviveDocument(row.document) };
  const t = await db.query<{ modified_at: Date; deleted_at: Date }>(
    'SELECT modified_at, deleted_at FROM listing_tombstones WHERE id = $1',
    [id],
  );
  const tomb = t.rows[0];
  return tomb
    ? {
        found: false,
        deletedAt: new Date(tomb.deleted_at).toISOString(),
        modifiedAt: new Date(tomb.modified_at).toISOString(),
      }
    : { found: false };
}

export interface SearchOptions {
  readonly city: string;
  readonly status?: ListingStatus | undefined;
  readonly limit: number;
}

export async function searchListings(db: Queryable, opts: SearchOptions): Promise<ListingSummary[]> {
  const statuses = opts.status ? [opts.status] : [...ON_MARKET];
  const { rows } = await db.query<SummaryRow>(
    `SELECT ${SUMMARY_COLUMNS} FROM listings l LEFT JOIN listing_search s ON s.id = l.id
     WHERE lower(l.city) = lower($1) AND l.status = ANY($2::text[])
     ORDER BY l.modified_at DESC, l.id LIMIT $3`,
    [opts.city.trim(), statuses, opts.limit],
  );
  return rows.map(summaryOf);
}

/** `published_at` (ms) of each of `ids` that the published view holds: when publish wrote the row. */
export async function publishedAtOf(db: Queryable, ids: readonly string[]): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map();
  const r = await db.query<{ id: string; published_at: Date }>(
    'SELECT id, published_at FROM listings WHERE id = ANY($1::text[])',
    [ids],
  );
  return new Map(r.rows.map((row) => [row.id, new Date(row.published_at).getTime()]));
}

/** The smallest variant (by width) of the first OK photo of each listing; null without one. */
const NEWEST_SQL = `
SELECT l.id, l.status, l.price_minor, l.currency, l.city, l.region, l.photo_count, l.published_at,
  (SELECT v->>'uri'
     FROM jsonb_array_elements(l.document->'images') AS i, jsonb_array_elements(i->'variants') AS v
    WHERE i->>'status' = 'OK'
    ORDER BY (i->>'order')::int, (v->>'width')::int
    LIMIT 1) AS thumb_url
FROM listings l
WHERE $2::text IS NULL OR l.source LIKE $2 || '%'
ORDER BY l.published_at DESC, l.id
LIMIT $1`;

interface CardRow {
  id: string;
  status: string;
  price_minor: string;
  currency: string;
  city: string;
  region: string;
  photo_count: number;
  published_at: Date;
  thumb_url: string | null;
}

/** A listing as the status page's cards show it. */
export interface ListingCard {
  readonly id: string;
  readonly status: string;
  readonly priceMinor: number;
  readonly currency: string;
  readonly city: string;
  readonly region: string;
  readonly photoCount: number;
  /** The smallest stored variant of the first good photo, if any. */
  readonly thumbUrl: string | null;
  readonly publishedAt: Date;
}

/** The most recently published listings, newest first; with `sourcePrefix`, only sources starting with it. */
export async function newestListings(
  db: Queryable,
  opts: { readonly limit: number; readonly sourcePrefix?: string | undefined },
): Promise<ListingCard[]> {
  const { rows } = await db.query<CardRow>(NEWEST_SQL, [opts.limit, opts.sourcePrefix ?? null]);
  return rows.map((r) => ({
    id: r.id,
    status: r.status,
    priceMinor: Number(r.price_minor),
    currency: r.currency,
    city: r.city,
    region: r.region,
    photoCount: r.photo_count,
    thumbUrl: r.thumb_url,
    publishedAt: new Date(r.published_at),
  }));
}

/**
 * Every image sha256 any row of `listings` references, whatever its status (a CLOSED listing is still shown
 * by `listings get`); deleted listings have no row, so their photos are not here.
 */
export async function imageHashes(db: Queryable): Promise<Set<string>> {
  const { rows } = await db.query<{ sha256: string }>(
    `SELECT DISTINCT i->>'sha256' AS sha256
       FROM listings l, jsonb_array_elements(l.document->'images') AS i
      WHERE i->>'sha256' IS NOT NULL`,
  );
  return new Set(rows.map((r) => r.sha256));
}

/** Every row of one source (any status), by id: what a replica check compares with the source's truth. */
export async function sourceListings(db: Queryable, source: string): Promise<ListingSummary[]> {
  const { rows } = await db.query<SummaryRow>(
    `SELECT ${SUMMARY_COLUMNS} FROM listings l LEFT JOIN listing_search s ON s.id = l.id WHERE l.source = $1 ORDER BY l.id`,
    [source],
  );
  return rows.map(summaryOf);
}

/** These reads as the tool publish offers the CLI (operators/tools.ts), so no command names publish. */
export const publishedListings: PublishedListings = {
  onMarket: ON_MARKET,
  get: getListing,
  search: searchListings,
  publishedAt: publishedAtOf,
  newest: newestListings,
  imageHashes,
  ofSource: sourceListings,
};
