/**
 * normalize's rules: one RawListing in, one canonical Listing out, or a PermanentError whose code names
 * the rule and whose message names the field and the value received. Pure and synchronous.
 */
import type { ConfigOf } from '../../runtime/config';
import { type ErrorCode, invalidParameterMessage, PermanentError } from '../../runtime/errors';
import type { Country, Currency, Listing, RawListing } from '../../schemas/generated/types';
import { buildStreet, cityName, fingerprint, normalizePostalCode } from './address';
import type { normalizeConfig } from './config';
import { parseTimestamp } from './dates';
import { type CanonicalField, type Found, RecordView } from './field-mapping';
import { isKeyOnly, keyOnlyDelete } from './key-only-delete';
import { areaUnit, livingArea, parseAmount, parseNumber, toGeo, toMinor } from './measures';
import { photosFrom } from './photos';
import type { Profile } from './profiles/profile';
import { DEFAULT_PROFILE, profileRegistry } from './profiles/registry';
import { lookupCountry, lookupRegion } from './regions';
import { cleanDescription } from './text';

export type NormalizeConfig = ConfigOf<(typeof normalizeConfig)['fields']>;
/** What the rules read of the config; profilesDir may be left out (built-in profiles only). */
export type NormalizeRulesConfig = Pick<NormalizeConfig, 'allowFilePhotoUrls'> &
  Partial<Pick<NormalizeConfig, 'profilesDir'>>;

const fail = (code: ErrorCode, field: string, expected: string, received: unknown, fix?: string): never => {
  throw rejection(code, invalidParameterMessage(field, expected, received, fix), { field });
};

/**
 * A lookup value the record's profile does not map: the message and detail name the source, profile, field,
 * value and the file to add the mapping line to (`listflow profile check` lists them all for a feed).
 */
function unmapped(
  code: ErrorCode,
  f: Found | undefined,
  fallbackName: string,
  expected: string,
  profile: Profile,
  source: string,
): never {
  const field = shown(f, fallbackName);
  const lookup = fallbackName === 'StandardStatus' && field === 'MlsStatus' ? 'MlsStatus' : fallbackName;
  const value = f?.value;
  const fix =
    typeof value === 'string'
      ? `map it in ${profile.file} (profile ${profile.name} of source ${source}): under lookups.${lookup}, add ${JSON.stringify(value)}: <RESO value>.`
      : undefined;
  throw rejection(code, invalidParameterMessage(field, expected, value, fix), {
    field,
    value: typeof value === 'string' ? value : String(value),
    profile: profile.name,
    profileFile: profile.file,
    source,
  });
}

/**
 * The PermanentError of a rejected record, without a captured stack: capturing one cost ten times the
 * rest of the error (several µs on every rejected record), and for bad input it would only ever point at
 * `fail`: the code, the message and `detail.field` already say what is wrong and where. Its `stack` is
 * then just "PermanentError: <message>". The limit is restored before anything else can run.
 */
function rejection(code: ErrorCode, message: string, detail: Record<string, string>): PermanentError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new PermanentError(code, message, { detail });
  } finally {
    Error.stackTraceLimit = limit;
  }
}

const shown = (f: Found | undefined, fallback: string) => f?.name ?? fallback;

export function normalizeListing(raw: RawListing, config: NormalizeRulesConfig): Listing {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.payload);
  } catch {
    parsed = raw.payload;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    fail('NORMALIZE_PAYLOAD_INVALID', 'payload', 'a JSON object', parsed);
  }
  const record = parsed as Record<string, unknown>;
  // The source's dialect: renames first, so that every rule below reads RESO names.
  const profile = profileRegistry(config.profilesDir).get(raw.profile ?? DEFAULT_PROFILE);
  if (profile.renames.length > 0) profile.applyRenames(record);
  const r = new RecordView(record);

  // Status and property type, through the profile's lookups; MlsStatus when StandardStatus does not map.
  const statusF = r.get('StandardStatus');
  let status =
    typeof statusF?.value === 'string'
      ? (statusF.name === 'MlsStatus' ? profile.mlsStatus : profile.status)(statusF.value)
      : undefined;
  if (!status && statusF?.name !== 'MlsStatus' && typeof record.MlsStatus === 'string') {
    status = profile.mlsStatus(record.MlsStatus);
  }
  if (!statusF && !status) status = profile.defaultStatus;
  if (profile.deletedWhen.length > 0 && profile.isDeletion(record)) status = 'DELETE';
  if (!status) {
    unmapped(
      'NORMALIZE_STATUS_UNKNOWN',
      statusF,
      'StandardStatus',
      'a RESO StandardStatus such as "Active" or "Closed"',
      profile,
      raw.source,
    );
  }
  // A purge delete (the sources worker's key list no longer has the key) carries no record to check.
  if (status === 'DELETE' && isKeyOnly(record, profile)) return keyOnlyDelete(raw, profile, modifiedAtOf(r));
  const typeF = r.get('PropertyType');
  let propertyType = typeof typeF?.value === 'string' ? profile.propertyType(typeF.value) : undefined;
  if (!propertyType) {
    const subF = r.get('PropertySubType');
    if (typeof subF?.value === 'string') propertyType = profile.subType(subF.value);
  }
  if (!propertyType) {
    unmapped(
      'NORMALIZE_PROPERTY_TYPE_UNKNOWN',
      typeF,
      'PropertyType',
      'a RESO PropertyType such as "Residential"',
      profile,
      raw.source,
    );
  }

  // Region and country first: the currency and postal code depend on the country.
  const regionF = r.get('StateOrProvince');
  const region = typeof regionF?.value === 'string' ? lookupRegion(regionF.value) : undefined;
  if (!region) {
    fail(
      'NORMALIZE_REGION_UNKNOWN',
      shown(regionF, 'StateOrProvince'),
      'a US state, DC, or a Canadian province or territory',
      regionF?.value,
    );
  }
  const countryF = r.get('Country');
  let country: Country = region!.country;
  if (!countryF && profile.defaultCountry && profile.defaultCountry !== country) {
    fail(
      'NORMALIZE_COUNTRY_UNKNOWN',
      shown(regionF, 'StateOrProvince'),
      `a region of ${profile.defaultCountry}, the country of profile ${profile.name} (${profile.file})`,
      regionF?.value,
      'give the record a Country, or use a profile without defaults.country.',
    );
  }
  if (countryF) {
    const named = typeof countryF.value === 'string' ? lookupCountry(countryF.value) : undefined;
    if (!named)
      fail('NORMALIZE_COUNTRY_UNKNOWN', countryF.name, 'US, USA, United States, CA, CAN or Canada', countryF.value);
    if (named !== region!.country) {
      fail(
        'NORMALIZE_COUNTRY_UNKNOWN',
        countryF.name,
        `a country matching region ${region!.code} (${region!.country})`,
        countryF.value,
      );
    }
    country = named!;
  }

  // Price and currency.
  const priceF = r.get('ListPrice');
  const amount = parseAmount(priceF?.value);
  const amountMinor = amount === undefined ? undefined : toMinor(amount);
  if (amountMinor === undefined) {
    fail(
      'NORMALIZE_PRICE_INVALID',
      shown(priceF, 'ListPrice'),
      'a price greater than 0, e.g. 450000 or "$450,000"',
      priceF?.value,
    );
  }
  const currency = pickCurrency(r, raw.defaultCurrency ?? profile.defaultCurrency ?? null, country);

  // Address.
  const street = buildStreet({
    streetNumber: r.text('StreetNumber'),
    dirPrefix: r.text('StreetDirPrefix'),
    streetName: r.text('StreetName'),
    suffix: r.text('StreetSuffix'),
    dirSuffix: r.text('StreetDirSuffix'),
    unitNumber: r.text('UnitNumber'),
    unparsed: r.text('UnparsedAddress'),
  });
  if (!street || street.line1 === '') {
    const f = r.get('StreetName') ?? r.get('UnparsedAddress');
    fail('NORMALIZE_ADDRESS_INVALID', shown(f, 'StreetName or UnparsedAddress'), 'a street address', f?.value);
  }
  const cityF = r.get('City');
  const city = typeof cityF?.value === 'string' ? cityName(cityF.value) : '';
  if (city === '') fail('NORMALIZE_ADDRESS_INVALID', shown(cityF, 'City'), 'a city name', cityF?.value);
  const postalF = r.get('PostalCode');
  const postal =
    typeof postalF?.value === 'string' || typeof postalF?.value === 'number'
      ? normalizePostalCode(postalF.value, country)
      : undefined;
  if (!postal) {
    fail(
      'NORMALIZE_POSTAL_CODE_INVALID',
      shown(postalF, 'PostalCode'),
      country === 'US' ? 'a US ZIP code such as "02134" or "02134-1234"' : 'a Canadian postal code such as "M5V 2T6"',
      postalF?.value,
    );
  }
  const address = {
    line1: street!.line1,
    unit: street!.unit ?? null,
    city,
    region: region!.code,
    postalCode: postal!,
    country,
  };

  // Area: both units or neither.
  const areaF = r.get('LivingArea');
  let livingAreaSqft: number | null = null;
  let livingAreaSqm: number | null = null;
  if (areaF) {
    const value = parseNumber(areaF.value);
    if (value === undefined || value < 0)
      fail('NORMALIZE_NUMBER_INVALID', areaF.name, 'a non-negative number', areaF.value);
    const unitF = r.get('LivingAreaUnits');
    const unit = unitF ? (typeof unitF.value === 'string' ? areaUnit(unitF.value) : undefined) : undefined;
    if (unitF && !unit)
      fail(
        'NORMALIZE_NUMBER_INVALID',
        unitF.name,
        'square feet or square metres ("Square Feet", "sqft", "m2")',
        unitF.value,
      );
    if (value! > 0) {
      const a = livingArea(value!, unit ?? profile.areaUnit, country);
      livingAreaSqft = a.sqft;
      livingAreaSqm = a.sqm;
    }
  }

  const modifiedAt = modifiedAtOf(r);
  if (!modifiedAt) failModifiedAt(r);

  const remarks = r.get('PublicRemarks');
  return {
    id: `${raw.source}:${raw.listingKey}`,
    source: raw.source,
    listingKey: raw.listingKey,
    status: status!,
    propertyType: propertyType!,
    price: { amountMinor: amountMinor!, currency },
    address,
    geo: toGeo(r.get('Latitude')?.value, r.get('Longitude')?.value),
    livingAreaSqft,
    livingAreaSqm,
    bedrooms: count(r, 'BedroomsTotal'),
    bathroomsTotal: count(r, 'BathroomsTotal'),
    yearBuilt: count(r, 'YearBuilt'),
    description: typeof remarks?.value === 'string' ? cleanDescription(remarks.value) : null,
    photos: photosFrom(r.get('Media')?.value, config.allowFilePhotoUrls),
    modifiedAt: modifiedAt!,
    fingerprint: fingerprint(address),
    // null when the profile keeps none: what a decoded Listing holds, so a replay compares equal.
    localFields: profile.localFields(record),
  };
}

/** The record's currency, else the job's default, else the country's. */
function pickCurrency(r: RecordView, jobDefault: string | null, country: Country): Currency {
  const f = r.get('Currency');
  const check = (name: string, v: unknown): Currency => {
    const c = typeof v === 'string' ? v.trim().toUpperCase() : undefined;
    if (c === 'USD' || c === 'CAD') return c;
    return fail('NORMALIZE_CURRENCY_INVALID', name, 'USD or CAD', v);
  };
  if (f) return check(f.name, f.value);
  if (jobDefault) return check('defaultCurrency (of the ingest job)', jobDefault);
  return country === 'US' ? 'USD' : 'CAD';
}

/** A whole count (bedrooms, bathrooms, year built): absent or 0 for year is null; decimals are rounded. */
function count(r: RecordView, field: CanonicalField): number | null {
  const f = r.get(field);
  if (!f) return null;
  const n = parseNumber(f.value);
  if (n === undefined || n < 0 || n > 100_000)
    fail('NORMALIZE_NUMBER_INVALID', f.name, 'a whole number of at least 0', f.value);
  if (field === 'YearBuilt' && n === 0) return null;
  return Math.round(n!);
}

/** The record's ModificationTimestamp; undefined when absent, a failure when present but not a date-time. */
function modifiedAtOf(r: RecordView): Date | undefined {
  const modF = r.get('ModificationTimestamp');
  if (!modF) return undefined;
  const at = typeof modF.value === 'string' ? parseTimestamp(modF.value) : undefined;
  return at ?? failModifiedAt(r);
}

function failModifiedAt(r: RecordView): never {
  const modF = r.get('ModificationTimestamp');
  return fail(
    'NORMALIZE_MODIFIED_AT_INVALID',
    shown(modF, 'ModificationTimestamp'),
    'an ISO 8601 date-time such as "2026-01-31T12:00:00Z"',
    modF?.value,
  );
}
