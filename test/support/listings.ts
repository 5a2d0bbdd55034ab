/**
 * Listings and what they are made from, for tests, so each suite states only the fields it is about: a valid
 * canonical Listing (an active Ottawa home, `crea` source, modified on 1 December 2025), an IngestJob, and a feed
 * record in the older CREA DDF shape.
 */
import type { IngestJob, Listing } from '../../schemas/generated/types';

/** 2025-12-<day> 00:00 UTC: tests order versions by day. */
export const december = (day: number): Date => new Date(Date.UTC(2025, 11, day));

/** `crea:L1`-style id: source and listingKey follow from it unless overridden. */
export function testListing(id: string, over: Partial<Listing> = {}): Listing {
  const [source, listingKey] = id.split(':') as [string, string];
  return {
    id,
    source,
    listingKey,
    status: 'ACTIVE',
    propertyType: 'RESIDENTIAL',
    price: { amountMinor: 50_000_000, currency: 'CAD' },
    address: { line1: '1 Main St', unit: null, city: 'Ottawa', region: 'ON', postalCode: 'K1A 0B1', country: 'CA' },
    geo: { lat: 45.4, lon: -75.7 },
    livingAreaSqft: 1200,
    livingAreaSqm: 111.5,
    bedrooms: 3,
    bathroomsTotal: 2,
    yearBuilt: 1990,
    description: null,
    photos: [],
    modifiedAt: december(1),
    fingerprint: 'fp',
    // What a decoded Listing holds when its source profile keeps no local fields.
    localFields: null,
    ...over,
  };
}

/** An IngestJob for `uri` (job-1 of source test-mls, format auto, no defaults) unless `over` says otherwise. */
export const testIngestJob = (uri: string, over: Partial<IngestJob> = {}): IngestJob => ({
  jobId: 'job-1',
  source: 'test-mls',
  uri,
  format: 'auto',
  submittedAt: new Date('2026-01-01T00:00:00Z'),
  defaultCountry: null,
  defaultCurrency: null,
  ...over,
});

/**
 * A feed record in the older DDF shape (profile crea-ddf): no ListingKey (ID), Price as text, a nested Address with
 * the Province by name, LastUpdated as an HTTP date, no status.
 */
export const OLDER_DDF_RECORD = {
  ID: '27000001',
  ListingID: 'X1234567',
  Price: '$899,000',
  PropertyType: 'Single Family',
  TransactionType: 'For sale',
  Address: { StreetAddress: '12 King St', City: 'Toronto', Province: 'Ontario', PostalCode: 'M5V2T6' },
  Building: { BedroomsTotal: '3', BathroomTotal: '2' },
  LastUpdated: 'Thu, 15 Jan 2026 10:30:00 GMT',
} as const;
