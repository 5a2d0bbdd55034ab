/**
 * A key-only DELETE: the sources worker's purge rule finds a listing missing from the source's key list and
 * has no record to send, only its ListingKey (and maybe a timestamp). publish needs only the id and the
 * version (modifiedAt) of a DELETE to remove the row and write the tombstone, so normalize turns such a
 * RawListing into a DELETE Listing whose other fields are neutral placeholders instead of rejecting it for
 * a missing region or price. A DELETE that carries anything else (a flag or status delete sent as the full
 * record) goes through every rule as before: a half-record is still a bad record, not a purge.
 */
import type { Country, Currency, Listing, RawListing } from '../../schemas/generated/types';
import { FIELD_ALIASES, fold } from './field-mapping';
import type { Profile } from './profiles/profile';

/** Folded names a key-only DELETE may carry: its key, its status, its version. */
const KEY_ONLY_FIELDS = new Set(
  [...FIELD_ALIASES.ListingKey, ...FIELD_ALIASES.StandardStatus, ...FIELD_ALIASES.ModificationTimestamp].map(fold),
);

/**
 * True when every field of the (renamed) record is its key, a status, the modification timestamp, one of
 * the profile's deletion flags or OData bookkeeping (`@odata.*`), i.e. the record says nothing but
 * "this key is gone". Only asked once the record's status is DELETE.
 */
export function isKeyOnly(record: Record<string, unknown>, profile: Profile): boolean {
  for (const name in record) {
    if (!Object.hasOwn(record, name)) continue;
    if (KEY_ONLY_FIELDS.has(fold(name)) || name.startsWith('@odata.')) continue;
    if (profile.listingKeyFields.includes(name)) continue;
    if (profile.deletedWhen.some(([flag]) => flag === name)) continue;
    return false;
  }
  return true;
}

/**
 * The DELETE Listing of a key-only record. Its version is the record's ModificationTimestamp when it has one
 * (parsed by the caller), else the RawListing's receivedAt: the purge is news as of when it was seen, so it
 * wins over every version published before, and a replay of the same RawListing yields the same Listing.
 */
export function keyOnlyDelete(raw: RawListing, profile: Profile, modifiedAt: Date | undefined): Listing {
  const country: Country =
    raw.defaultCountry === 'CA' || raw.defaultCountry === 'US' ? raw.defaultCountry : (profile.defaultCountry ?? 'US');
  const currency: Currency =
    raw.defaultCurrency === 'USD' || raw.defaultCurrency === 'CAD'
      ? raw.defaultCurrency
      : (profile.defaultCurrency ?? (country === 'CA' ? 'CAD' : 'USD'));
  return {
    id: `${raw.source}:${raw.listingKey}`,
    source: raw.source,
    listingKey: raw.listingKey,
    status: 'DELETE',
    // Placeholders: a tombstone carries no listing, and publish reads only id, status and modifiedAt.
    propertyType: 'OTHER',
    price: { amountMinor: 0, currency },
    address: { line1: '', unit: null, city: '', region: '', postalCode: '', country },
    geo: null,
    livingAreaSqft: null,
    livingAreaSqm: null,
    bedrooms: null,
    bathroomsTotal: null,
    yearBuilt: null,
    description: null,
    photos: [],
    modifiedAt: modifiedAt ?? raw.receivedAt,
    // Empty rather than the hash of an empty address, which every key-only DELETE would share.
    fingerprint: '',
    localFields: null,
  };
}
