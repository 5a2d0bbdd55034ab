import { PermanentError, RetriableError } from '../../runtime/errors';
import { plainContext } from '../../runtime/operator';
import { encodeAvroBody, readerType } from '../../runtime/serde';
import type { EnrichedListing, Listing, PublishedListing } from '../../schemas/generated/types';
import { parseConfig } from '../../runtime/config';
import { publishConfig } from './config';
import { classifyDbError, type Db, type Queryable } from './db';
import publish from './index';
import { applyMigrations, migrations } from './migrations';
import { type Current, planBatch, reviveDocument } from './process';
import { deleteListings, LISTING_COLUMNS, upsertListings, upsertTombstones } from './sql';
import { december, testListing } from '../../test/support/listings';

const NOW = new Date('2026-01-01T00:00:00Z');
const T = december;

function listing(id: string, day: number, over: Partial<Listing> = {}): Listing {
  return testListing(id, {
    photos: [{ url: 'https://x/1.jpg', order: 0, caption: null }],
    modifiedAt: T(day),
    ...over,
  });
}
const enriched = (l: Listing): EnrichedListing => ({ listing: l, images: [], enrichedAt: NOW });
const doc = (l: Listing, previousPrice: PublishedListing['previousPrice'] = null): PublishedListing => ({
  listing: l,
  images: [],
  previousPrice,
  publishedAt: T(1),
});

/** Emits of a plan, compact: [key, value-summary] per record. */
function summary(plan: ReturnType<typeof planBatch>) {
  return plan.emits.map((es) =>
    es.map((e) =>
      e.kind === 'output'
        ? [
            e.key,
            e.value === null
              ? 'tombstone'
              : `${(e.value as PublishedListing).listing.modifiedAt.getUTCDate()}/prev=${(e.value as PublishedListing).previousPrice?.amountMinor ?? '-'}`,
          ]
        : ['reject'],
    ),
  );
}

describe('planBatch', () => {
  const a5 = listing('crea:A', 5);
  const stored = (c: Current) => new Map([['crea:A', c]]);
  test.each([
    ['new listing', [a5], new Map(), [[['crea:A', '5/prev=-']]], ['crea:A'], []],
    [
      'newer version replaces, with previousPrice',
      [listing('crea:A', 6, { price: { amountMinor: 49_000_000, currency: 'CAD' } })],
      stored({ deleted: false, modifiedAt: T(5), document: doc(a5) }),
      [[['crea:A', '6/prev=50000000']]],
      ['crea:A'],
      [],
    ],
    [
      'older version is ignored',
      [listing('crea:A', 4)],
      stored({ deleted: false, modifiedAt: T(5), document: doc(a5) }),
      [[]],
      [],
      [],
    ],
    [
      'equal version with the same content re-emits the stored document, writes nothing',
      [listing('crea:A', 5)],
      stored({ deleted: false, modifiedAt: T(5), document: doc(a5, { amountMinor: 7, currency: 'CAD' }) }),
      [[['crea:A', '5/prev=7']]],
      [],
      [],
    ],
    [
      'equal version with the same content in another key order is still a replay',
      [{ ...listing('crea:A', 5), localFields: null }],
      stored({
        deleted: false,
        modifiedAt: T(5),
        document: doc(Object.fromEntries(Object.entries(a5).reverse()) as unknown as Listing),
      }),
      [[['crea:A', '5/prev=-']]],
      [],
      [],
    ],
    [
      'equal version with other content (a rule changed and the step was replayed) replaces it, keeping previousPrice',
      [listing('crea:A', 5, { price: { amountMinor: 1, currency: 'CAD' } })],
      stored({ deleted: false, modifiedAt: T(5), document: doc(a5, { amountMinor: 7, currency: 'CAD' }) }),
      [[['crea:A', '5/prev=7']]],
      ['crea:A'],
      [],
    ],
    [
      'equal version of a deleted listing stays deleted',
      [listing('crea:A', 6, { price: { amountMinor: 1, currency: 'CAD' } })],
      stored({ deleted: true, modifiedAt: T(6) }),
      [[['crea:A', 'tombstone']]],
      [],
      [],
    ],
    [
      'DELETE removes and tombstones',
      [listing('crea:A', 6, { status: 'DELETE' })],
      stored({ deleted: false, modifiedAt: T(5), document: doc(a5) }),
      [[['crea:A', 'tombstone']]],
      [],
      ['crea:A'],
    ],
    [
      'older DELETE is ignored',
      [listing('crea:A', 4, { status: 'DELETE' })],
      stored({ deleted: false, modifiedAt: T(5), document: doc(a5) }),
      [[]],
      [],
      [],
    ],
    [
      'replayed DELETE re-emits the tombstone',
      [listing('crea:A', 6, { status: 'DELETE' })],
      stored({ deleted: true, modifiedAt: T(6) }),
      [[['crea:A', 'tombstone']]],
      [],
      [],
    ],
    [
      'an update older than the tombstone cannot resurrect the listing',
      [listing('crea:A', 5)],
      stored({ deleted: true, modifiedAt: T(6) }),
      [[]],
      [],
      [],
    ],
    [
      'a newer update after a DELETE republishes without previousPrice',
      [listing('crea:A', 7)],
      stored({ deleted: true, modifiedAt: T(6) }),
      [[['crea:A', '7/prev=-']]],
      ['crea:A'],
      [],
    ],
    [
      'several versions in one batch: last newest wins, each sees the one before',
      [
        listing('crea:A', 5),
        listing('crea:A', 6, { price: { amountMinor: 45_000_000, currency: 'CAD' } }),
        listing('crea:A', 5),
        listing('crea:A', 6),
      ],
      new Map(),
      [[['crea:A', '5/prev=-']], [['crea:A', '6/prev=50000000']], [], [['crea:A', '6/prev=50000000']]],
      ['crea:A'],
      [],
    ],
    [
      'upsert then DELETE in one batch only deletes',
      [listing('crea:A', 5), listing('crea:A', 6, { status: 'DELETE' })],
      new Map(),
      [[['crea:A', '5/prev=-']], [['crea:A', 'tombstone']]],
      [],
      ['crea:A'],
    ],
  ] as const)('%s', (_name, records, current, emits, upserts, deletions) => {
    const plan = planBatch(
      records.map((r) => enriched(r as Listing)),
      current as ReadonlyMap<string, Current>,
      NOW,
    );
    expect(summary(plan)).toEqual(emits);
    expect(plan.upserts.map((d) => d.listing.id)).toEqual(upserts);
    expect(plan.deletions.map((d) => d.id)).toEqual(deletions);
  });

  test('a new document is keyed by listing id and stamped with the clock', () => {
    const plan = planBatch([enriched(a5)], new Map(), NOW);
    expect(plan.emits[0]).toEqual([
      {
        kind: 'output',
        port: 'published',
        key: 'crea:A',
        value: { listing: a5, images: [], previousPrice: null, publishedAt: NOW },
      },
    ]);
  });
});

describe('SQL', () => {
  test('upsert: one statement for the batch, version-guarded, a column array per field', () => {
    const d = doc(listing('crea:A', 5), { amountMinor: 1, currency: 'USD' });
    const s = upsertListings([d, doc(listing('crea:B', 6, { geo: null, bedrooms: null }))]);
    expect(s.text).toMatch(/^INSERT INTO listings \(id, source, .*, document\) SELECT \* FROM unnest\(\$1::text\[\], /);
    expect(s.text).toContain('ON CONFLICT (id) DO UPDATE SET source = EXCLUDED.source');
    expect(s.text).toMatch(/WHERE listings\.modified_at <= EXCLUDED\.modified_at$/);
    expect(s.values).toHaveLength(LISTING_COLUMNS.length);
    const col = (n: string) => s.values[LISTING_COLUMNS.indexOf(n)];
    expect(col('id')).toEqual(['crea:A', 'crea:B']);
    expect(col('price_minor')).toEqual([50_000_000, 50_000_000]);
    expect(col('lat')).toEqual([45.4, null]);
    expect(col('bedrooms')).toEqual([3, null]);
    expect(col('modified_at')).toEqual([T(5), T(6)]);
    expect(col('previous_price_minor')).toEqual([1, null]);
    expect(col('photo_count')).toEqual([1, 1]);
    expect(reviveDocument(JSON.parse((col('document') as string[])[0]!))).toEqual(d);
  });

  test('localFields reach the jsonb document and read back; a document from before them reads back as null', () => {
    const local = doc(listing('crea:L', 5, { localFields: { ContractStatus: 'Available', ACT_GuestHouse: 'true' } }));
    const s = upsertListings([local]);
    const stored = JSON.parse((s.values[LISTING_COLUMNS.indexOf('document')] as string[])[0]!);
    expect(stored.listing.localFields).toEqual({ ContractStatus: 'Available', ACT_GuestHouse: 'true' });
    expect(reviveDocument(stored)).toEqual(local);
    // The published topic carries them too: the document encodes under PublishedListing.
    expect(
      readerType('PublishedListing').fromBuffer(encodeAvroBody('PublishedListing', local)).listing.localFields,
    ).toEqual({ ContractStatus: 'Available', ACT_GuestHouse: 'true' });
    const { localFields: _, ...before } = stored.listing;
    expect(reviveDocument({ ...stored, listing: before }).listing.localFields).toBeNull();
  });

  test('deletes are guarded; tombstones only move forward', () => {
    const dels = [{ id: 'crea:A', modifiedAt: T(6) }];
    expect(deleteListings(dels)).toEqual({
      text: expect.stringContaining('WHERE l.id = d.id AND l.modified_at <= d.modified_at'),
      values: [['crea:A'], [T(6)]],
    });
    expect(upsertTombstones(dels, NOW)).toEqual({
      text: expect.stringContaining('WHERE listing_tombstones.modified_at < EXCLUDED.modified_at'),
      values: [['crea:A'], [T(6)], NOW],
    });
  });
});

describe('classifyDbError', () => {
  test.each([
    [{ code: '08006', message: 'connection failure' }, 'PUBLISH_DB_UNAVAILABLE', true],
    [{ code: '40001', message: 'could not serialize access' }, 'PUBLISH_DB_UNAVAILABLE', true],
    [{ code: '40P01', message: 'deadlock detected' }, 'PUBLISH_DB_UNAVAILABLE', true],
    [{ code: '57P01', message: 'terminating connection due to administrator command' }, 'PUBLISH_DB_UNAVAILABLE', true],
    [{ code: '57014', message: 'canceling statement due to statement timeout' }, 'PUBLISH_DB_UNAVAILABLE', true],
    [{ code: '53300', message: 'too many connections' }, 'PUBLISH_DB_UNAVAILABLE', true],
    [{ code: '55P03', message: 'lock not available' }, 'PUBLISH_DB_UNAVAILABLE', true],
    [{ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:15432' }, 'PUBLISH_DB_UNAVAILABLE', true],
    [new Error('Connection terminated unexpectedly'), 'PUBLISH_DB_UNAVAILABLE', true],
    [{ code: '23505', message: 'duplicate key', constraint: 'listings_pkey' }, 'PUBLISH_DB_REJECTED', false],
    [{ code: '23514', message: 'check violation' }, 'PUBLISH_DB_REJECTED', false],
    [{ code: '22P02', message: 'invalid input syntax for type bigint' }, 'PUBLISH_DB_REJECTED', false],
    [{ code: '22003', message: 'numeric value out of range' }, 'PUBLISH_DB_REJECTED', false],
    [{ code: '42P01', message: 'relation "listings" does not exist' }, 'PUBLISH_DB_REJECTED', false],
  ])('%j -> %s', (err, code, retriable) => {
    const c = classifyDbError(err);
    expect([c.code, c.retriable, c instanceof (retriable ? RetriableError : PermanentError)]).toEqual([
      code,
      retriable,
      true,
    ]);
  });

  test('keeps the SQLSTATE and constraint as detail', () => {
    expect(classifyDbError({ code: '23505', message: 'dup', constraint: 'listings_pkey' }).detail).toEqual({
      sqlstate: '23505',
      constraint: 'listings_pkey',
    });
  });
});

/** A Db that records every statement and answers SELECTs from fixed rows; can fail on a chosen statement. */
function fakeDb(rows: { listings?: unknown[]; tombstones?: unknown[]; versions?: number[] } = {}, failOn?: RegExp) {
  const log: string[] = [];
  const db: Db = {
    async transaction(fn) {
      log.push('BEGIN');
      const q: Queryable = {
        async query<R>(text: string) {
          log.push(text.split(/\s+/).slice(0, 3).join(' '));
          if (failOn?.test(text)) throw Object.assign(new Error('could not serialize access'), { code: '40001' });
          if (text.startsWith('SELECT id, modified_at, document')) return { rows: (rows.listings ?? []) as R[] };
          if (text.startsWith('SELECT id, modified_at FROM listing_tombstones'))
            return { rows: (rows.tombstones ?? []) as R[] };
          if (text.startsWith('SELECT version'))
            return { rows: (rows.versions ?? []).map((version) => ({ version })) as R[] };
          return { rows: [] };
        },
      };
      try {
        const r = await fn(q);
        log.push('COMMIT');
        return r;
      } catch (e) {
        log.push('ROLLBACK');
        throw classifyDbError(e);
      }
    },
    close: async () => undefined,
  };
  return { db, log };
}

describe('publish operator (fake db)', () => {
  // The URL is never dialled: the database is the fake above.
  const config = parseConfig(publishConfig, { postgresUrl: 'postgres://unused.invalid/listflow' }, { where: 'test' });
  const items = (ls: Listing[]) =>
    ls.map((l, i) => ({
      record: enriched(l),
      input: { topic: 'listings.enriched', partition: 0, offset: String(i), key: l.id, headers: {}, timestamp: '0' },
    }));

  test('a batch is one transaction: lock and read, then one delete, one upsert; emits in order', async () => {
    const { db, log } = fakeDb({
      listings: [{ id: 'crea:A', modified_at: T(5), document: JSON.stringify(doc(listing('crea:A', 5))) }],
    });
    const out = await publish.processBatch!(
      items([
        listing('crea:A', 6, { price: { amountMinor: 1, currency: 'CAD' } }),
        listing('crea:B', 5),
        listing('crea:C', 5, { status: 'DELETE' }),
      ]),
      plainContext(config, { db }),
    );
    expect(log).toEqual([
      'BEGIN',
      'SELECT id, modified_at,',
      'SELECT id, modified_at',
      'DELETE FROM listings',
      'INSERT INTO listing_tombstones',
      'INSERT INTO listings',
      'DELETE FROM listing_tombstones',
      'COMMIT',
    ]);
    expect(out.map((es) => es.map((e) => (e.kind === 'output' ? [e.key, e.value === null] : [])))).toEqual([
      [['crea:A', false]],
      [['crea:B', false]],
      [['crea:C', true]],
    ]);
    const a = out[0]![0]!;
    expect(a.kind === 'output' && (a.value as PublishedListing).previousPrice).toEqual({
      amountMinor: 50_000_000,
      currency: 'CAD',
    });
  });

  test('a replayed batch writes nothing and re-emits what is stored', async () => {
    const stored = { ...doc(listing('crea:A', 5)), publishedAt: T(2) };
    const { db, log } = fakeDb({ listings: [{ id: 'crea:A', modified_at: T(5), document: stored }] });
    const out = await publish.processBatch!(items([listing('crea:A', 5)]), plainContext(config, { db }));
    expect(log).toEqual(['BEGIN', 'SELECT id, modified_at,', 'SELECT id, modified_at', 'COMMIT']);
    expect(out).toEqual([[{ kind: 'output', port: 'published', key: 'crea:A', value: stored }]]);
  });

  test('a failure mid-batch rolls back and surfaces a retriable error', async () => {
    const { db, log } = fakeDb({}, /^INSERT INTO listings/);
    const e = await publish.processBatch!(items([listing('crea:A', 5)]), plainContext(config, { db })).catch(
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(RetriableError);
    expect((e as RetriableError).code).toBe('PUBLISH_DB_UNAVAILABLE');
    expect(log.at(-1)).toBe('ROLLBACK');
  });
});

describe('migrations', () => {
  test('versions are unique and ascending; every statement is idempotent', () => {
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
    for (const m of migrations) {
      for (const stmt of m.sql
        .split(';')
        .map((s) => s.replace(/--.*$/gm, '').trim())
        .filter(Boolean)) {
        expect(stmt).toMatch(/^CREATE (TABLE|INDEX) IF NOT EXISTS|^CREATE OR REPLACE VIEW/);
      }
    }
  });

  test.each([
    [[], [1], 5],
    [[1], [], 3],
  ])('with versions %j applied, applies %j', async (have, applied, statements) => {
    const { db, log } = fakeDb({ versions: have });
    expect(await applyMigrations(db)).toEqual(applied);
    expect(log.filter((l) => l !== 'BEGIN' && l !== 'COMMIT')).toHaveLength(statements);
    expect(log[1]).toBe("SELECT pg_advisory_xact_lock(hashtext('listflow.publish.migrations'))");
  });
});
