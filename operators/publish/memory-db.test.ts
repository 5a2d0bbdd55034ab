/** The dry run's publish stand-in runs publish's own code with the same outcomes as PostgreSQL (see test/integration/publish.test.ts). */
import { parseConfig } from '../../runtime/config';
import { plainContext } from '../../runtime/operator';
import { MemoryPublishDb } from './memory-db';
import { publishConfig } from './config';
import publish from './index';
import { upsertListings } from './sql';
import type { EnrichedListing, Listing, PublishedListing } from '../../schemas/generated/types';
import { december, testListing } from '../../test/support/listings';

const T = december;
const listing = (id: string, day: number, over: Partial<Listing> = {}): Listing =>
  testListing(id, {
    geo: null,
    livingAreaSqft: null,
    livingAreaSqm: null,
    yearBuilt: null,
    modifiedAt: T(day),
    ...over,
  });

// The URL is never dialled: the database is the in-memory stand-in.
const config = parseConfig(publishConfig, { postgresUrl: 'postgres://unused.invalid/listflow' }, { where: 'test' });
const db = new MemoryPublishDb();
const run = (ls: Listing[]) =>
  publish.processBatch!(
    ls.map((l, i) => ({
      record: { listing: l, images: [], enrichedAt: T(1) } as EnrichedListing,
      input: { topic: 'listings.enriched', partition: 0, offset: String(i), key: l.id, headers: {}, timestamp: '0' },
    })),
    plainContext(config, { db }, { clock: { now: () => T(20) } }),
  );
const price = (amountMinor: number) => ({ amountMinor, currency: 'CAD' as const });
const published = (emits: ReadonlyArray<ReadonlyArray<unknown>>) =>
  emits.map((e) =>
    (e as { value: PublishedListing | null }[]).map((x) =>
      x.value === null ? null : x.value.listing.price.amountMinor,
    ),
  );

test.each([
  {
    name: 'newer replaces, with previousPrice',
    batches: [
      [5, 100],
      [7, 90],
    ],
    want: [[[100]], [[90]]],
    row: [7, 90],
  },
  {
    name: 'older is ignored (no output)',
    batches: [
      [7, 90],
      [6, 1],
    ],
    want: [[[90]], [[]]],
    row: [7, 90],
  },
  {
    name: 'equal with the same content is a replay of the stored state',
    batches: [
      [7, 90],
      [7, 90],
    ],
    want: [[[90]], [[90]]],
    row: [7, 90],
  },
  {
    name: 'equal with other content (a re-derivation after a rule change) replaces the row',
    batches: [
      [7, 90],
      [7, 2],
    ],
    want: [[[90]], [[2]]],
    row: [7, 2],
  },
])('version guard: $name', async ({ batches, want, row }) => {
  const id = `crea:${Math.random().toString(36).slice(2)}`;
  const got = [];
  for (const [day, p] of batches) got.push(published(await run([listing(id, day!, { price: price(p!) })])));
  expect(got).toEqual(want);
  const stored = db.listings().find((r) => r.id === id)!;
  expect([stored.modified_at.getUTCDate(), JSON.parse(stored.document).listing.price.amountMinor]).toEqual(row);
});

test('DELETE leaves a tombstone that an older update cannot get past; a newer one clears it', async () => {
  const id = 'crea:D';
  await run([listing(id, 5)]);
  expect(published(await run([listing(id, 6, { status: 'DELETE' })]))).toEqual([[null]]);
  expect(db.listings().some((r) => r.id === id)).toBe(false);
  expect(await run([listing(id, 5, { price: price(1) })])).toEqual([[]]);
  expect(db.tombstones().map((t) => [t.id, t.modified_at])).toContainEqual([id, T(6)]);
  const again = await run([listing(id, 8, { price: price(3) })]);
  expect(published(again)).toEqual([[3]]);
  expect((again[0]![0] as { value: PublishedListing }).value.previousPrice).toBeNull();
  expect(db.tombstones().some((t) => t.id === id)).toBe(false);
});

test('a failed transaction leaves nothing behind; an unknown statement is an OPERATOR_BUG', async () => {
  await expect(
    db.transaction(async (q) => {
      await q.query('DELETE FROM listings');
    }),
  ).rejects.toMatchObject({ code: 'OPERATOR_BUG' });
  const doc: PublishedListing = { listing: listing('crea:R', 9), images: [], previousPrice: null, publishedAt: T(9) };
  await expect(
    db.transaction(async (q) => {
      const s = upsertListings([doc]);
      await q.query(s.text, s.values);
      throw new Error('boom');
    }),
  ).rejects.toThrow('boom');
  expect(db.listings().some((r) => r.id === 'crea:R')).toBe(false);
  await db.transaction(async (q) => {
    const s = upsertListings([doc]);
    await q.query(s.text, s.values);
  });
  expect(db.listings().some((r) => r.id === 'crea:R')).toBe(true);
});
