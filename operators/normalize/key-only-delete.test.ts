import { PermanentError } from '../../runtime/errors';
import { encodeAvroBody, readerType } from '../../runtime/serde';
import type { RawListing } from '../../schemas/generated/types';
import { december, testListing } from '../../test/support/listings';
import { planBatch } from '../publish/process';
import { normalizeListing } from './process';

const RECEIVED = new Date('2026-12-02T06:00:00.000Z');

const raw = (payload: Record<string, unknown>, over: Partial<RawListing> = {}): RawListing => ({
  jobId: 'pass-1',
  source: 'mls-a',
  listingKey: 'L1',
  position: 0,
  receivedAt: RECEIVED,
  defaultCountry: null,
  defaultCurrency: null,
  payload: JSON.stringify(payload),
  ...over,
});

const norm = (payload: Record<string, unknown>, over: Partial<RawListing> = {}) =>
  normalizeListing(raw(payload, over), { allowFilePhotoUrls: false });

function codeOf(payload: Record<string, unknown>, over: Partial<RawListing> = {}): string {
  try {
    norm(payload, over);
  } catch (e) {
    expect(e).toBeInstanceOf(PermanentError);
    return (e as PermanentError).code;
  }
  throw new Error('expected a reject');
}

describe('a key-only DELETE becomes a DELETE listing', () => {
  test.each<[string, Record<string, unknown>, Partial<RawListing>, string]>([
    [
      'StandardStatus Delete, no timestamp: receivedAt',
      { ListingKey: 'L1', StandardStatus: 'Delete' },
      {},
      RECEIVED.toISOString(),
    ],
    [
      'with a microsecond ModificationTimestamp',
      { ListingKey: 'L1', StandardStatus: 'Delete', ModificationTimestamp: '2026-12-01T17:16:22.123456Z' },
      {},
      '2026-12-01T17:16:22.123Z',
    ],
    ['MlsStatus Deleted only', { ListingKey: 'L1', MlsStatus: 'Deleted' }, {}, RECEIVED.toISOString()],
    [
      'OData bookkeeping is allowed',
      { '@odata.id': "Property('L1')", ListingKey: 'L1', StandardStatus: 'Delete' },
      {},
      RECEIVED.toISOString(),
    ],
    [
      'mlsgrid: MlgCanView false',
      { ListingKey: 'L1', MlgCanView: false },
      { profile: 'mlsgrid' },
      RECEIVED.toISOString(),
    ],
    [
      'mlsgrid: MlgCanView false beside a status',
      { ListingKey: 'L1', StandardStatus: 'Active', MlgCanView: false },
      { profile: 'mlsgrid' },
      RECEIVED.toISOString(),
    ],
    ['proptx profile', { ListingKey: 'L1', StandardStatus: 'Delete' }, { profile: 'proptx' }, RECEIVED.toISOString()],
  ])('%s', (_name, payload, over, modifiedAt) => {
    const l = norm(payload, over);
    expect(l).toMatchObject({ id: 'mls-a:L1', source: 'mls-a', listingKey: 'L1', status: 'DELETE', photos: [] });
    expect(l.modifiedAt.toISOString()).toBe(modifiedAt);
    // It travels on listings.normalized like any Listing.
    expect(readerType('Listing').fromBuffer(encodeAvroBody('Listing', l))).toMatchObject({ id: 'mls-a:L1' });
  });

  test.each<[string, Partial<RawListing>, string, string]>([
    ['no defaults: US, USD', {}, 'US', 'USD'],
    ['the source says CA and CAD', { defaultCountry: 'CA', defaultCurrency: 'CAD' }, 'CA', 'CAD'],
    ['the profile says CA and CAD', { profile: 'proptx' }, 'CA', 'CAD'],
  ])('placeholders: %s', (_name, over, country, currency) => {
    const l = norm({ ListingKey: 'L1', StandardStatus: 'Delete' }, over);
    expect([l.address.country, l.price.currency, l.price.amountMinor, l.fingerprint]).toEqual([
      country,
      currency,
      0,
      '',
    ]);
  });

  test('a replay of the same RawListing gives the same listing', () => {
    const payload = { ListingKey: 'L1', StandardStatus: 'Delete' };
    expect(norm(payload)).toEqual(norm(payload));
  });

  test('publish removes the row and writes the tombstone', () => {
    const stored = testListing('mls-a:L1', { modifiedAt: december(5) });
    const current = new Map([
      [
        'mls-a:L1',
        {
          deleted: false as const,
          modifiedAt: stored.modifiedAt,
          document: { listing: stored, images: [], previousPrice: null, publishedAt: december(5) },
        },
      ],
    ]);
    const del = norm({ ListingKey: 'L1', StandardStatus: 'Delete' });
    const plan = planBatch([{ listing: del, images: [], enrichedAt: RECEIVED }], current, RECEIVED);
    expect(plan.deletions).toEqual([{ id: 'mls-a:L1', modifiedAt: RECEIVED }]);
    expect(plan.upserts).toEqual([]);
    expect(plan.emits).toEqual([[expect.objectContaining({ kind: 'output', key: 'mls-a:L1', value: null })]]);
  });
});

describe('what is not a key-only DELETE is still checked', () => {
  test.each<[string, Record<string, unknown>, Partial<RawListing>, string]>([
    [
      'a key-only record that is not deleted',
      { ListingKey: 'L1', StandardStatus: 'Active' },
      {},
      'NORMALIZE_PROPERTY_TYPE_UNKNOWN',
    ],
    ['a key and nothing else', { ListingKey: 'L1' }, {}, 'NORMALIZE_STATUS_UNKNOWN'],
    ['an unmapped status', { ListingKey: 'L1', StandardStatus: 'Gone Fishing' }, {}, 'NORMALIZE_STATUS_UNKNOWN'],
    [
      'a DELETE that carries part of a record',
      { ListingKey: 'L1', StandardStatus: 'Delete', City: 'Springfield' },
      {},
      'NORMALIZE_PROPERTY_TYPE_UNKNOWN',
    ],
    [
      'a DELETE with a local field',
      { ListingKey: 'L1', MlgCanView: false, ACT_Zone: 'X' },
      { profile: 'mlsgrid' },
      'NORMALIZE_PROPERTY_TYPE_UNKNOWN',
    ],
    [
      'a DELETE whose timestamp is not a date-time',
      { ListingKey: 'L1', StandardStatus: 'Delete', ModificationTimestamp: 'yesterday' },
      {},
      'NORMALIZE_MODIFIED_AT_INVALID',
    ],
  ])('%s: %s', (_name, payload, over, code) => {
    expect(codeOf(payload, over)).toBe(code);
  });
});
