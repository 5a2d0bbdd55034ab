/**
 * publish against a real PostgreSQL (LISTFLOW_POSTGRES_URL, default the local platform's). Each run works in
 * its own schema, dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PermanentError } from '../../runtime/errors';
import { plainContext } from '../../runtime/operator';
import { parseConfig } from '../../runtime/config';
import type { EnrichedListing, Listing, PublishedListing } from '../../schemas/generated/types';
import { publishConfig } from '../../operators/publish/config';
import { createPgDb, type Db } from '../../operators/publish/db';
import publish from '../../operators/publish/index';
import { applyMigrations } from '../../operators/publish/migrations';
import { december, testListing } from '../support/listings';

const URL_ = process.env.LISTFLOW_POSTGRES_URL ?? 'postgres://listflow@127.0.0.1:15432/listflow';
const SCHEMA = `publish_it_${randomBytes(4).toString('hex')}`;
const T = december;

function listing(id: string, day: number, over: Partial<Listing> = {}): Listing {
  return testListing(id, { description: 'It\'s a "quoted" {house}, with , commas', modifiedAt: T(day), ...over });
}
const items = (ls: Listing[]) =>
  ls.map((l, i) => ({
    record: { listing: l, images: [], enrichedAt: T(1) } as EnrichedListing,
    input: { topic: 'listings.enriched', partition: 0, offset: String(i), key: l.id, headers: {}, timestamp: '0' },
  }));

let admin: pg.Client;
let db: Db;
const config = parseConfig(publishConfig, { postgresUrl: URL_ }, { where: 'test' });
const ctx = () => plainContext(config, { db }, { clock: { now: () => T(20) } });
const run = (ls: Listing[]) => publish.processBatch!(items(ls), ctx());
const rows = async () =>
  (await admin.query(`SELECT id, modified_at, price_minor, previous_price_minor FROM ${SCHEMA}.listings ORDER BY id`))
    .rows;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: URL_ });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${SCHEMA}`);
  const u = new URL(URL_);
  u.searchParams.set('options', `-c search_path=${SCHEMA}`);
  db = createPgDb({ url: u.toString(), poolSize: 2, statementTimeoutMs: 10_000, connectTimeoutMs: 5_000 });
  expect(await applyMigrations(db)).toEqual([1]);
  expect(await applyMigrations(db)).toEqual([]);
});
afterAll(async () => {
  await db?.close();
  await admin?.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await admin?.end();
});

test('version guard: older never overwrites newer, equal with the same content is a no-op', async () => {
  await run([listing('crea:G', 5)]);
  await run([listing('crea:G', 7, { price: { amountMinor: 45_000_000, currency: 'CAD' } })]);
  expect(await run([listing('crea:G', 6, { price: { amountMinor: 1, currency: 'CAD' } })])).toEqual([[]]);
  const before = await admin.query(`SELECT * FROM ${SCHEMA}.listings WHERE id = 'crea:G'`);
  await run([listing('crea:G', 7, { price: { amountMinor: 45_000_000, currency: 'CAD' } })]);
  expect((await admin.query(`SELECT * FROM ${SCHEMA}.listings WHERE id = 'crea:G'`)).rows).toEqual(before.rows);
  expect((await rows()).filter((r) => r.id === 'crea:G')).toEqual([
    { id: 'crea:G', modified_at: T(7), price_minor: '45000000', previous_price_minor: '50000000' },
  ]);
});

test('equal version with other content (normalize re-run after a rule change) replaces the row, keeping previousPrice', async () => {
  await run([listing('crea:Q', 5)]);
  await run([listing('crea:Q', 7, { price: { amountMinor: 45_000_000, currency: 'CAD' } })]);
  await run([listing('crea:Q', 7, { price: { amountMinor: 44_000_000, currency: 'CAD' } })]);
  expect((await rows()).filter((r) => r.id === 'crea:Q')).toEqual([
    { id: 'crea:Q', modified_at: T(7), price_minor: '44000000', previous_price_minor: '50000000' },
  ]);
});

test('replaying a batch leaves the table and the outputs exactly as after once', async () => {
  const batch = [listing('crea:R1', 5), listing('crea:R2', 5), listing('crea:R1', 6)];
  const first = await run(batch);
  const before = await admin.query(`SELECT * FROM ${SCHEMA}.listings WHERE id LIKE 'crea:R%' ORDER BY id`);
  const second = await run(batch);
  const after = await admin.query(`SELECT * FROM ${SCHEMA}.listings WHERE id LIKE 'crea:R%' ORDER BY id`);
  expect(after.rows).toEqual(before.rows);
  // The latest value per key is what a compacted topic keeps.
  const latest = (out: typeof first) => {
    const m = new Map<string, unknown>();
    for (const es of out) for (const e of es) if (e.kind === 'output') m.set(e.key, e.value);
    return m;
  };
  expect(latest(second)).toEqual(latest(first));
  expect((latest(first).get('crea:R1') as PublishedListing).listing.description).toBe(
    'It\'s a "quoted" {house}, with , commas',
  );
});

test('DELETE removes the row, emits a tombstone, and an older update cannot bring it back', async () => {
  await run([listing('crea:D', 5)]);
  expect(await run([listing('crea:D', 6, { status: 'DELETE' })])).toEqual([
    [{ kind: 'output', port: 'published', key: 'crea:D', value: null }],
  ]);
  expect(await run([listing('crea:D', 5)])).toEqual([[]]);
  expect((await rows()).some((r) => r.id === 'crea:D')).toBe(false);
  await run([listing('crea:D', 8)]);
  expect((await rows()).filter((r) => r.id === 'crea:D')).toHaveLength(1);
});

test('a batch that fails mid-way commits nothing; the retried good batch leaves no duplicates', async () => {
  const bad = listing('crea:F2', 5, { price: { amountMinor: 1e20, currency: 'CAD' } }); // out of bigint range
  const e = await run([listing('crea:F1', 5), bad]).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(PermanentError);
  expect((e as PermanentError).code).toBe('PUBLISH_DB_REJECTED');
  expect((await rows()).some((r) => r.id === 'crea:F1')).toBe(false);
  await run([listing('crea:F1', 5)]);
  await run([listing('crea:F1', 5)]);
  expect((await rows()).filter((r) => r.id === 'crea:F1')).toHaveLength(1);
});

test('listing_search shows listings on the market', async () => {
  await run([listing('crea:S1', 5), listing('crea:S2', 5, { status: 'CLOSED' })]);
  const r = await admin.query(`SELECT id FROM ${SCHEMA}.listing_search WHERE id LIKE 'crea:S%' ORDER BY id`);
  expect(r.rows).toEqual([{ id: 'crea:S1' }]);
});
