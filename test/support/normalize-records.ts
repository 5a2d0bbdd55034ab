/**
 * The records the normalize unit tests start from (operators/normalize/normalize*.test.ts): a complete RESO
 * record, a RawListing around a payload, and what normalize makes of the record with some fields changed or
 * removed (a field set to undefined is left out).
 */
import { expect } from '@jest/globals';
import { normalizeListing } from '../../operators/normalize/process';
import { PermanentError } from '../../runtime/errors';
import type { RawListing } from '../../schemas/generated/types';

export const base = {
  ListingKey: 'L1',
  StandardStatus: 'Active',
  PropertyType: 'Residential',
  ListPrice: 450000,
  StreetNumber: '123',
  StreetName: 'Main',
  StreetSuffix: 'Street',
  City: 'Springfield',
  StateOrProvince: 'IL',
  PostalCode: '62704',
  ModificationTimestamp: '2026-01-15T10:30:00Z',
};

export const raw = (payload: unknown, over: Partial<RawListing> = {}): RawListing => ({
  jobId: 'job-1',
  source: 'mls-a',
  listingKey: 'L1',
  position: 0,
  receivedAt: new Date(0),
  defaultCountry: null,
  defaultCurrency: null,
  payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  ...over,
});

export const norm = (over: Record<string, unknown>, rawOver: Partial<RawListing> = {}, allowFilePhotoUrls = false) => {
  const rec: Record<string, unknown> = { ...base, ...over };
  for (const [k, v] of Object.entries(rec)) if (v === undefined) delete rec[k];
  return normalizeListing(raw(rec, rawOver), { allowFilePhotoUrls });
};

/** The code and message of the PermanentError normalize throws for the changed record. */
export function rejected(over: Record<string, unknown>, rawOver: Partial<RawListing> = {}) {
  try {
    norm(over, rawOver);
  } catch (e) {
    expect(e).toBeInstanceOf(PermanentError);
    return { code: (e as PermanentError).code, message: (e as PermanentError).message };
  }
  throw new Error('expected a reject');
}
