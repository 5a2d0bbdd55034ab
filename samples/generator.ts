/**
 * Deterministic RESO-style sample listings: the same seed gives the same records, byte for byte.
 * A mix of US and Canadian listings with real-world mess (mixed case, stray whitespace, numeric ZIPs, French
 * accents, HTML descriptions, legacy statuses, RESO field-name variations), and a few percent deliberately
 * broken records whose expected outcome (ingest reject, normalize reject and its code) is known.
 */
import type { ErrorCode } from '../runtime/errors';

/** mulberry32: small, fast, good enough for test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Expected = { stage: 'ok' } | { stage: 'ingest'; code: ErrorCode } | { stage: 'normalize'; code: ErrorCode };

export interface SampleRecord {
  readonly record: Record<string, unknown>;
  readonly expected: Expected;
  /** Set for records a writer must garble so that ingest cannot parse them. */
  readonly unparseable?: boolean;
}

export interface SampleOptions {
  readonly seed: number;
  readonly count: number;
  /** Share of deliberately broken records, 0..1 (default 0.03). */
  readonly badRate?: number;
  /** Photo URLs to draw from (e.g. file:// URLs of generated images); none means no Media. */
  readonly photoUrls?: readonly string[];
  /** Prefix of ListingKey values (default `L<seed>-`). */
  readonly keyPrefix?: string;
}

const US_PLACES = [
  { city: 'Boston', region: ['MA', 'Massachusetts', 'ma'], zip: 2134, lat: 42.35, lon: -71.06 },
  { city: 'Austin', region: ['TX', 'Texas', 'tx '], zip: 78701, lat: 30.27, lon: -97.74 },
  { city: 'San Francisco', region: ['CA', 'California'], zip: 94105, lat: 37.77, lon: -122.42 },
  { city: 'Denver', region: ['CO', 'Colorado'], zip: 80202, lat: 39.74, lon: -104.99 },
  { city: 'Newark', region: ['NJ', 'New Jersey'], zip: 7102, lat: 40.73, lon: -74.17 },
  { city: 'Miami', region: ['FL', 'Florida'], zip: 33139, lat: 25.79, lon: -80.13 },
  { city: 'Washington', region: ['DC', 'District of Columbia'], zip: 20001, lat: 38.9, lon: -77.03 },
];
const CA_PLACES = [
  { city: 'Toronto', region: ['ON', 'Ontario', 'ontario'], postal: 'M5V 2T6', lat: 43.64, lon: -79.39 },
  { city: 'Montréal', region: ['QC', 'Québec', 'Quebec'], postal: 'H2X 1Y4', lat: 45.51, lon: -73.57 },
  { city: 'Vancouver', region: ['BC', 'British Columbia'], postal: 'V6B 1A1', lat: 49.28, lon: -123.12 },
  { city: 'Calgary', region: ['AB', 'Alberta'], postal: 'T2P 1J9', lat: 51.05, lon: -114.07 },
  { city: 'Halifax', region: ['NS', 'Nova Scotia'], postal: 'B3H 1A1', lat: 44.65, lon: -63.58 },
];
const STREETS = ['Main', 'Oak', 'Maple', 'King', 'Queen', 'Saint-Denis', 'Lakeshore', 'Elm', 'Cedar', 'Sunset'];
const SUFFIXES = ['Street', 'Avenue', 'Boulevard', 'Road', 'Drive', 'Lane', 'Court', 'Place', 'Terrace', 'St', 'Ave'];
const DIRS = ['', '', '', 'North', 'S', 'East', 'NW'];
const STATUSES = [
  'Active',
  'active',
  'Active Under Contract',
  'Pending',
  'Closed',
  'Sold',
  'Coming Soon',
  'Contingent',
  'Temp Off Market',
  'Cancelled',
];
const TYPES = ['Residential', 'Residential', 'Residential', 'Residential Lease', 'Land', 'Commercial Sale', 'Condo'];
const REMARKS = [
  '<p>Bright <b>corner</b> unit close to transit &amp; parks.</p>',
  'Charming home with a large yard.  Updated kitchen!',
  '<div>Magnifique condo &eacute;clair&eacute; au c&oelig;ur de la ville.</div>',
  '  Turnkey investment<br/>opportunity ',
];
const BROKEN = ['no-key', 'unparseable', 'price', 'status', 'postal', 'modified'] as const;

const pick = <T>(rnd: () => number, list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!;

export function* sampleListings(opts: SampleOptions): Generator<SampleRecord> {
  const rnd = prng(opts.seed);
  const badRate = opts.badRate ?? 0.03;
  const prefix = opts.keyPrefix ?? `L${opts.seed}-`;
  const base = Date.UTC(2026, 0, 1);
  for (let i = 0; i < opts.count; i++) {
    const us = rnd() < 0.7;
    const place = us ? pick(rnd, US_PLACES) : pick(rnd, CA_PLACES);
    const type = pick(rnd, TYPES);
    const lease = type === 'Residential Lease';
    const price = lease ? 1200 + Math.floor(rnd() * 4000) : 100_000 + Math.floor(rnd() * 2_000_000);
    const sqft = 500 + Math.floor(rnd() * 4000);
    const record: Record<string, unknown> = {
      ListingKey: `${prefix}${i}`,
      ListingId: `MLS${100000 + i}`,
      StandardStatus: pick(rnd, STATUSES),
      PropertyType: type,
      ListPrice: rnd() < 0.5 ? price : `$${price.toLocaleString('en-US')}`,
      StreetNumber: String(1 + Math.floor(rnd() * 9999)),
      StreetDirPrefix: pick(rnd, DIRS) || undefined,
      StreetName: rnd() < 0.2 ? pick(rnd, STREETS).toUpperCase() : pick(rnd, STREETS),
      StreetSuffix: pick(rnd, SUFFIXES),
      UnitNumber: rnd() < 0.2 ? pick(rnd, ['#4', 'Apt 12', 'Unit 3B', 'Suite 200', '7']) : undefined,
      City: rnd() < 0.15 ? `  ${place.city.toLowerCase()} ` : place.city,
      StateOrProvince: pick(rnd, place.region),
      PostalCode:
        'zip' in place
          ? rnd() < 0.5
            ? place.zip
            : String(place.zip).padStart(5, '0')
          : rnd() < 0.5
            ? place.postal.replace(' ', '').toLowerCase()
            : place.postal,
      Country:
        rnd() < 0.5 ? undefined : us ? pick(rnd, ['US', 'USA', 'United States']) : pick(rnd, ['CA', 'Canada', 'CAN']),
      Latitude: rnd() < 0.05 ? 0 : Number((place.lat + (rnd() - 0.5) / 10).toFixed(5)),
      Longitude: rnd() < 0.05 ? 0 : Number((place.lon + (rnd() - 0.5) / 10).toFixed(5)),
      LivingArea: us ? sqft : Math.round(sqft / 10.7639),
      LivingAreaUnits:
        rnd() < 0.5 ? undefined : us ? pick(rnd, ['Square Feet', 'sqft']) : pick(rnd, ['Square Meters', 'm2']),
      BedroomsTotal: Math.floor(rnd() * 6),
      BathroomsTotalInteger: 1 + Math.floor(rnd() * 4),
      YearBuilt: 1900 + Math.floor(rnd() * 126),
      PublicRemarks: pick(rnd, REMARKS),
      ModificationTimestamp: new Date(base + Math.floor(rnd() * 86_400_000 * 30))
        .toISOString()
        .replace(rnd() < 0.3 ? 'Z' : '\u0000', ''),
      Media: mediaFor(rnd, opts.photoUrls ?? []),
    };
    for (const k of Object.keys(record)) if (record[k] === undefined) delete record[k];
    if (rnd() < badRate) {
      const kind = pick(rnd, BROKEN);
      yield breakRecord(record, kind);
    } else {
      yield { record, expected: { stage: 'ok' } };
    }
  }
}

function mediaFor(rnd: () => number, urls: readonly string[]): unknown[] | undefined {
  if (urls.length === 0) return undefined;
  const n = 1 + Math.floor(rnd() * Math.min(4, urls.length));
  const media = [];
  for (let j = 0; j < n; j++) {
    media.push({
      MediaURL: pick(rnd, urls),
      Order: n - j,
      ShortDescription: j === 0 ? 'Front' : null,
      MediaCategory: 'Photo',
    });
  }
  return media;
}

function breakRecord(record: Record<string, unknown>, kind: (typeof BROKEN)[number]): SampleRecord {
  switch (kind) {
    case 'no-key':
      delete record.ListingKey;
      return { record, expected: { stage: 'ingest', code: 'INGEST_RECORD_NO_LISTING_KEY' } };
    case 'unparseable':
      return { record, expected: { stage: 'ingest', code: 'INGEST_RECORD_UNPARSEABLE' }, unparseable: true };
    case 'price':
      record.ListPrice = 'Call for price';
      return { record, expected: { stage: 'normalize', code: 'NORMALIZE_PRICE_INVALID' } };
    case 'status':
      record.StandardStatus = 'Foreclosed?';
      return { record, expected: { stage: 'normalize', code: 'NORMALIZE_STATUS_UNKNOWN' } };
    case 'postal':
      record.PostalCode = 'ABC-123';
      return { record, expected: { stage: 'normalize', code: 'NORMALIZE_POSTAL_CODE_INVALID' } };
    case 'modified':
      delete record.ModificationTimestamp;
      return { record, expected: { stage: 'normalize', code: 'NORMALIZE_MODIFIED_AT_INVALID' } };
  }
}

/** RESO field-name variations that JSON feeds use (CSV feeds keep one header). */
const RENAMES: Record<string, string[]> = {
  PostalCode: ['ZipCode', 'postal_code'],
  BedroomsTotal: ['Bedrooms', 'bedroomsTotal'],
  StandardStatus: ['MlsStatus', 'standardStatus'],
  PublicRemarks: ['Remarks'],
};

/** Renames some fields of some records, deterministically by position. */
export function varyFieldNames(record: Record<string, unknown>, position: number): Record<string, unknown> {
  if (position % 5 !== 0) return record;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) {
    const alts = RENAMES[k];
    out[alts ? alts[position % alts.length]! : k] = v;
  }
  return out;
}
