/**
 * A valid canonical Listing for tests, so each suite states only the fields it is about.
 * Defaults: an active Ottawa home, `crea` source, modified on 1 December 2025.
 */
import type { Listing } from '../../schemas/generated/types';

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
