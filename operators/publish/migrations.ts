/**
 * The published view's schema, as versioned migrations. Each runs once, in order, in one transaction with
 * its bookkeeping row, under an advisory lock, so several workers starting together apply it exactly once.
 * Statements are also written to be idempotent (IF NOT EXISTS / OR REPLACE). Never edit an applied
 * migration: add the next version.
 */
import type { Db } from './db';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'listings table, tombstones and the listing_search view',
    sql: `
CREATE TABLE IF NOT EXISTS listings (
  id                   text PRIMARY KEY,
  source               text NOT NULL,
  status               text NOT NULL,
  property_type        text NOT NULL,
  price_minor          bigint NOT NULL,
  currency             text NOT NULL,
  city                 text NOT NULL,
  region               text NOT NULL,
  postal_code          text NOT NULL,
  country              text NOT NULL,
  bedrooms             integer,
  bathrooms            integer,
  living_area_sqft     double precision,
  lat                  double precision,
  lon                  double precision,
  modified_at          timestamptz NOT NULL,
  photo_count          integer NOT NULL,
  previous_price_minor bigint,
  previous_currency    text,
  published_at         timestamptz NOT NULL,
  document             jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS listings_city_status_idx ON listings (lower(city), status);
CREATE INDEX IF NOT EXISTS listings_country_region_idx ON listings (country, region);
CREATE INDEX IF NOT EXISTS listings_modified_at_idx ON listings (modified_at);

-- A deleted listing leaves its version here, so that an older update replayed later cannot resurrect it.
CREATE TABLE IF NOT EXISTS listing_tombstones (
  id          text PRIMARY KEY,
  modified_at timestamptz NOT NULL,
  deleted_at  timestamptz NOT NULL
);

-- What listing sites query: listings on the market, with the card-size URL of the first good photo.
CREATE OR REPLACE VIEW listing_search AS
SELECT
  l.id, l.source, l.status, l.property_type,
  l.price_minor, l.currency, l.previous_price_minor,
  l.city, l.region, l.postal_code, l.country,
  l.bedrooms, l.bathrooms, l.living_area_sqft, l.lat, l.lon,
  l.photo_count,
  (SELECT v->>'uri'
     FROM jsonb_array_elements(l.document->'images') AS i,
          jsonb_array_elements(i->'variants') AS v
    WHERE i->>'status' = 'OK' AND v->>'name' = 'card'
    ORDER BY (i->>'order')::int
    LIMIT 1) AS card_url,
  l.modified_at, l.published_at
FROM listings l
WHERE l.status IN ('ACTIVE', 'ACTIVE_UNDER_CONTRACT', 'PENDING', 'COMING_SOON');
`,
  },
];

const LOCK = `SELECT pg_advisory_xact_lock(hashtext('listflow.publish.migrations'))`;

/** Applies pending migrations; returns the versions applied now (empty when up to date). */
export async function applyMigrations(db: Db, list: readonly Migration[] = migrations): Promise<number[]> {
  return db.transaction(async (q) => {
    await q.query(LOCK);
    await q.query(
      `CREATE TABLE IF NOT EXISTS listflow_migrations (
         version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await q.query<{ version: number }>('SELECT version FROM listflow_migrations');
    const done = new Set(rows.map((r) => Number(r.version)));
    const applied: number[] = [];
    for (const m of [...list].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await q.query(m.sql);
      await q.query('INSERT INTO listflow_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  });
}
