/** Records for the benchmarks: complete, deterministic, the size of real ones. */
import { sampleListings, varyFieldNames } from '../samples/generator';
import type { EnrichedListing, ImageAsset, Listing, Photo, RawListing } from '../schemas/generated/types';

/**
 * RawListings as ingest emits them, from the deterministic sample feed (seed 5, ~3% broken, which normalize
 * rejects), keyed `bench:<ListingKey>`: the input of bench:normalize and of normalize's pure benchmark, so both
 * measure the same records. `vary` renames fields the way JSON feeds do (varyFieldNames).
 */
export function sampleRawListings(count: number, opts: { vary?: boolean } = {}): { key: string; value: RawListing }[] {
  const out: { key: string; value: RawListing }[] = [];
  let i = 0;
  for (const s of sampleListings({
    seed: 5,
    count,
    photoUrls: ['https://img.example.com/a.jpg', 'https://img.example.com/b.jpg'],
  })) {
    const key = String(s.record.ListingKey ?? `nokey-${i}`);
    const record = opts.vary ? varyFieldNames(s.record, i) : s.record;
    out.push({
      key: `bench:${key}`,
      value: {
        jobId: 'bench',
        source: 'bench',
        listingKey: key,
        position: i++,
        receivedAt: new Date(0),
        defaultCountry: null,
        defaultCurrency: null,
        payload: s.unparseable ? '{"ListingKey":' : JSON.stringify(record),
      },
    });
  }
  return out;
}

const CITIES = [
  ['Ottawa', 'ON', 'K1A 0B1', 'CA', 'CAD'],
  ['Toronto', 'ON', 'M5V 2T6', 'CA', 'CAD'],
  ['Austin', 'TX', '78701', 'US', 'USD'],
  ['Denver', 'CO', '80202', 'US', 'USD'],
] as const;

/** A valid Listing of the size of a real normalized one. */
export function benchListing(i: number, photos: Photo[], modifiedAt = new Date(Date.UTC(2026, 0, 1))): Listing {
  const [city, region, postalCode, country, currency] = CITIES[i % CITIES.length]!;
  return {
    id: `bench:L${i}`,
    source: 'bench',
    listingKey: `L${i}`,
    status: 'ACTIVE',
    propertyType: 'RESIDENTIAL',
    price: { amountMinor: 40_000_000 + (i % 1000) * 10_000, currency },
    address: { line1: `${i} Main St`, unit: null, city, region, postalCode, country },
    geo: { lat: 45 + (i % 100) / 1000, lon: -75 - (i % 100) / 1000 },
    livingAreaSqft: 1200 + (i % 800),
    livingAreaSqm: Math.round((1200 + (i % 800)) * 0.0929 * 10) / 10,
    bedrooms: 1 + (i % 5),
    bathroomsTotal: 1 + (i % 3),
    yearBuilt: 1950 + (i % 70),
    description:
      'Bright corner unit with an open kitchen, hardwood floors throughout, south-facing balcony and parking. Close to schools, parks and transit.',
    photos,
    modifiedAt,
    fingerprint: `fp-${i}`,
  };
}

/** An EnrichedListing with three processed photos of three variants each, as images emits it. */
export function benchEnriched(i: number, modifiedAt?: Date): EnrichedListing {
  const photos: Photo[] = [0, 1, 2].map((order) => ({
    url: `https://img.example.com/${i}/${order}.jpg`,
    order,
    caption: null,
  }));
  const images: ImageAsset[] = photos.map((p) => {
    const sha = `${String(i).padStart(8, '0')}${p.order}`.padEnd(64, 'a');
    return {
      sourceUrl: p.url,
      order: p.order,
      status: 'OK',
      reasonCode: null,
      reason: null,
      sha256: sha,
      width: 4000,
      height: 3000,
      dhash: '0f0f0f0f0f0f0f0f',
      variants: [
        ['thumb', 320, 240, 9_000],
        ['card', 800, 600, 42_000],
        ['full', 1600, 1200, 150_000],
      ].map(([name, width, height, bytes]) => ({
        name: name as string,
        width: width as number,
        height: height as number,
        format: 'webp',
        bytes: bytes as number,
        uri: `https://cdn.example.com/${sha.slice(0, 2)}/${sha}/${name}.webp`,
      })),
    };
  });
  return { listing: benchListing(i, photos, modifiedAt), images, enrichedAt: new Date(Date.UTC(2026, 0, 1)) };
}
