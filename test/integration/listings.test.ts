/**
 * `listflow listings get|search` against the real PostgreSQL, in a schema of its own (search_path through
 * LISTFLOW_POSTGRES_URL), with rows written by the publish operator's own code (migrations + processBatch).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { invoke } from '../support/cli-invoke';
import { listingsCommands } from '../../cli/commands/listings';
import { getListing, searchListings } from '../../operators/publish/queries';
import { parseConfig } from '../../runtime/config';
import { plainContext } from '../../runtime/operator';
import { publishConfig } from '../../operators/publish/config';
import { createPgDb, type Db } from '../../operators/publish/db';
import publish from '../../operators/publish/index';
import { applyMigrations } from '../../operators/publish/migrations';
import type { EnrichedListing, Listing } from '../../schemas/generated/types';
import { testListing } from '../support/listings';

const BASE = process.env.LISTFLOW_POSTGRES_URL ?? 'postgres://listflow@127.0.0.1:15432/listflow';
const SCHEMA = `listings_it_${randomBytes(4).toString('hex')}`;
const T = (day: number) => new Date(Date.UTC(2026, 0, day));
const savedUrl = process.env.LISTFLOW_POSTGRES_URL;
let url: string;
let admin: pg.Client;
let db: Db;

function listing(key: string, city: string, day: number, over: Partial<Listing> = {}): Listing {
  return testListing(`it:${key}`, {
    price: { amountMinor: 45_000_000, currency: 'CAD' },
    address: { line1: '1 Main St', unit: null, city, region: 'ON', postalCode: 'K1A 0B1', country: 'CA' },
    description: 'Bright corner unit',
    modifiedAt: T(day),
    ...over,
  });
}

async function publishAll(ls: Listing[]): Promise<void> {
  const config = parseConfig(publishConfig, { postgresUrl: url }, { where: 'test' });
  await publish.processBatch!(
    ls.map((l, i) => ({
      record: { listing: l, images: [], enrichedAt: T(1) } as EnrichedListing,
      input: { topic: 'listings.enriched', partition: 0, offset: String(i), key: l.id, headers: {}, timestamp: '0' },
    })),
    plainContext(config, { db }, { clock: { now: () => T(20) } }),
  );
}

beforeAll(async () => {
  admin = new pg.Client({ connectionString: BASE });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${SCHEMA}`);
  const u = new URL(BASE);
  u.searchParams.set('options', `-c search_path=${SCHEMA}`);
  url = u.toString();
  db = createPgDb({ url, poolSize: 2, statementTimeoutMs: 10_000, connectTimeoutMs: 5_000 });
  await applyMigrations(db);
  await publishAll([
    listing('A', 'Ottawa', 3),
    listing('B', 'ottawa', 5, { price: { amountMinor: 60_000_000, currency: 'CAD' } }),
    listing('C', 'Ottawa', 4, { status: 'CLOSED' }),
    listing('D', 'Toronto', 4),
    listing('E', 'Ottawa', 2),
  ]);
  await publishAll([
    listing('B', 'ottawa', 6, { price: { amountMinor: 55_000_000, currency: 'CAD' } }),
    listing('E', 'Ottawa', 7, { status: 'DELETE' }),
  ]);
  process.env.LISTFLOW_POSTGRES_URL = url;
});

afterAll(async () => {
  if (savedUrl === undefined) delete process.env.LISTFLOW_POSTGRES_URL;
  else process.env.LISTFLOW_POSTGRES_URL = savedUrl;
  await db?.close();
  await admin?.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await admin?.end();
});

test('getListing returns the published document; deleted and unknown ids are not found', async () => {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const b = await getListing(pool, 'it:B');
    expect(b.found && [b.summary.priceMinor, b.summary.previousPriceMinor, b.document.listing.modifiedAt]).toEqual([
      55_000_000,
      60_000_000,
      T(6),
    ]);
    expect(await getListing(pool, 'it:E')).toEqual({
      found: false,
      deletedAt: T(20).toISOString(),
      modifiedAt: T(7).toISOString(),
    });
    expect(await getListing(pool, 'it:nope')).toEqual({ found: false });
    // search: on the market by default, case-insensitive city, newest first; --status picks any status.
    expect((await searchListings(pool, { city: 'OTTAWA', limit: 20 })).map((r) => r.id)).toEqual(['it:B', 'it:A']);
    expect((await searchListings(pool, { city: 'Ottawa', limit: 1 })).map((r) => r.id)).toEqual(['it:B']);
    expect((await searchListings(pool, { city: 'Ottawa', status: 'CLOSED', limit: 20 })).map((r) => r.id)).toEqual([
      'it:C',
    ]);
  } finally {
    await pool.end();
  }
});

test('listings get prints the listing, --json the document; a missing one is a one-line error', async () => {
  const human = await invoke(listingsCommands, ['listings', 'get', 'it:B']);
  expect(human.code).toBe(0);
  expect(human.stdout).toMatch(/^it:B {2}ACTIVE {2}RESIDENTIAL$/m);
  expect(human.stdout).toContain('price      CAD 550,000.00 (was CAD 600,000.00)');
  const json = await invoke(listingsCommands, ['listings', 'get', 'it:A', '--json']);
  expect(JSON.parse(json.stdout)).toMatchObject({ id: 'it:A', city: 'Ottawa', document: { listing: { id: 'it:A' } } });

  const missing = await invoke(listingsCommands, ['listings', 'get', 'it:nope']);
  expect(missing.error?.message).toMatch(/^No published listing with id "it:nope"\./);
  const deleted = await invoke(listingsCommands, ['listings', 'get', 'it:E']);
  expect(deleted.error?.message).toBe(
    `Listing it:E was deleted (version ${T(7).toISOString()}, at ${T(20).toISOString()}).`,
  );
});

test('listings search prints a table, or JSON; bad options are usage errors', async () => {
  const table = await invoke(listingsCommands, ['listings', 'search', '--city', 'ottawa']);
  const lines = table.stdout.trim().split('\n');
  expect(lines[0]).toMatch(/^ID +STATUS +TYPE +PRICE +BEDS +BATHS +CITY +REGION +PHOTOS +MODIFIED$/);
  expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['it:B', 'it:A']);
  const json = await invoke(listingsCommands, ['listings', 'search', '--city', 'Toronto', '--json']);
  expect(JSON.parse(json.stdout)).toMatchObject({ count: 1, listings: [{ id: 'it:D', priceMinor: 45_000_000 }] });
  const none = await invoke(listingsCommands, ['listings', 'search', '--city', 'Ottawa', '--status', 'withdrawn']);
  expect(none.stdout.trim()).toBe('No WITHDRAWN listings in Ottawa.');
  const bad = await invoke(listingsCommands, ['listings', 'search', '--city', 'Ottawa', '--status', 'gone']);
  expect(bad.error?.name).toBe('UsageError');
  const noCity = await invoke(listingsCommands, ['listings', 'search']);
  expect(noCity.error?.message).toBe('Expected --city <city>, e.g. --city Toronto.');
});
