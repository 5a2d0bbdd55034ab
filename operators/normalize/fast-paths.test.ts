/**
 * The fast paths added for throughput (ISO timestamps read digit by digit, ASCII title case, description
 * steps skipped when they cannot change the text, one-pass field lookup, memoized lookups) must give
 * exactly what the general paths give. Each table mixes inputs that take the fast path with ones that
 * fall back to the general one.
 */
import { createHash } from 'node:crypto';
import { fingerprint, titleCase } from './address';
import { parseTimestamp } from './dates';
import { FIELD_ALIASES, fold, RecordView } from './field-mapping';
import { memoize } from './memo';
import { photosFrom } from './photos';
import { lookupRegion } from './regions';
import { mapStatus } from './status';
import { cleanDescription } from './text';

describe('parseTimestamp', () => {
  test.each([
    // The common shape (fast path).
    ['2026-01-15T10:30:00Z', '2026-01-15T10:30:00.000Z'],
    ['2026-01-15T10:30:00', '2026-01-15T10:30:00.000Z'],
    ['2026-01-15T10:30:00.1', '2026-01-15T10:30:00.100Z'],
    ['2026-01-15T10:30:00.123456Z', '2026-01-15T10:30:00.123Z'],
    ['2024-02-29T23:59:59Z', '2024-02-29T23:59:59.000Z'],
    // Other forms (general path).
    ['0050-01-15T10:30:00Z', '0050-01-15T10:30:00.000Z'],
    ['2026-01-15T10:30:00+05:30', '2026-01-15T05:00:00.000Z'],
    ['2026-01-15T10:30:00-0800', '2026-01-15T18:30:00.000Z'],
    ['2026-01-15t10:30:00z', '2026-01-15T10:30:00.000Z'],
    ['2026-01-15 10:30', '2026-01-15T10:30:00.000Z'],
    [' 2026-01-15T10:30:00Z ', '2026-01-15T10:30:00.000Z'],
    ['2026-01-15T10:30:00,5Z', '2026-01-15T10:30:00.500Z'],
    ['2026-01-15', '2026-01-15T00:00:00.000Z'],
  ])('%j is %s', (raw, iso) => {
    expect(parseTimestamp(raw)?.toISOString()).toBe(iso);
  });

  test.each([
    ['2025-02-29T00:00:00Z'],
    ['2026-04-31T00:00:00Z'],
    ['2026-01-15T24:00:00Z'],
    ['2026-01-15T23:59:60Z'],
    ['2026-13-01T00:00:00Z'],
    ['2026-01-15T10:30:00.Z'],
    ['2026-01-15T10:30:0aZ'],
    ['2026-01-15T10:30:00ZZ'],
  ])('%j is rejected', (raw) => {
    expect(parseTimestamp(raw)).toBeUndefined();
  });
});

describe('titleCase', () => {
  test.each([
    ['main', 'Main'],
    ['Main', 'Main'],
    ['MAPLE', 'Maple'],
    ['saint-denis', 'Saint-Denis'],
    ['  new   york ', 'New York'],
    ['new\u00a0york', 'New York'],
    ['1ST', '1st'],
    ['12b', '12B'],
    ['2nd-floor', '2nd-Floor'],
    ["o'neil", "O'neil"],
    ['McDonald', 'Mcdonald'],
    ['a--b', 'A--B'],
    ['montréal', 'Montréal'],
    ['ÎLE-BIZARD', 'Île-Bizard'],
    ['', ''],
  ])('%j -> %j', (raw, out) => {
    expect(titleCase(raw)).toBe(out);
  });
});

describe('cleanDescription', () => {
  test.each([
    ['Plain text.', 'Plain text.'],
    ['  Two  spaces\tand tab\n', 'Two spaces and tab'],
    ['<p>Nice &amp; bright</p>', 'Nice & bright'],
    ['a<script>x</script>b<STYLE a>y</style >c', 'a b c'],
    ['x<!-- hidden -->y', 'x y'],
    ['x <s>struck</s> &eacute;t&eacute; &#233; &#x27;', "x struck été é '"],
    ['&unknown; &#0;', '&unknown; &#0;'],
    ['4 < 5 and 6 > 5', '4 5'],
    ['<br/>', null],
  ])('%j -> %j', (raw, out) => {
    expect(cleanDescription(raw)).toBe(out);
  });
});

describe('RecordView', () => {
  test('no folded alias belongs to two fields', () => {
    const folded = Object.values(FIELD_ALIASES).flatMap((aliases) => aliases.map(fold));
    expect(new Set(folded).size).toBe(folded.length);
  });

  test.each([
    // RESO's name wins whatever the key order.
    [{ Status: 'a', StandardStatus: 'b' }, 'StandardStatus="b"'],
    // Blank and null values count as absent.
    [{ standard_status: '', StandardStatus: 'x' }, 'StandardStatus="x"'],
    [{ 'STANDARD STATUS': ' ', status: null, 'Listing-Status': 'z' }, 'Listing-Status="z"'],
    // Two keys that fold alike: the first in record order.
    [{ standard_status: 'x', StandardStatus: 'y' }, 'standard_status="x"'],
    [{ ListingId: 'MLS1' }, undefined],
  ])('%j -> %s', (record, found) => {
    const hit = new RecordView(record).get('StandardStatus');
    expect(hit && `${hit.name}=${JSON.stringify(hit.value)}`).toBe(found);
  });

  test('inherited keys are not fields of the record', () => {
    expect(new RecordView(Object.create({ City: 'X' })).get('City')).toBeUndefined();
  });
});

describe('memoized lookups', () => {
  test('a bounded cache gives the same answers after it is emptied', () => {
    let calls = 0;
    const upper = memoize((s: string) => {
      calls++;
      return s === 'none' ? undefined : s.toUpperCase();
    }, 2);
    expect([upper('a'), upper('a'), upper('none'), upper('none')]).toEqual(['A', 'A', undefined, undefined]);
    expect(calls).toBe(2);
    expect([upper('b'), upper('c'), upper('a')]).toEqual(['B', 'C', 'A']);
  });

  test.each([
    ['Active Under Contract', 'ACTIVE_UNDER_CONTRACT'],
    ['Actîve', 'ACTIVE'],
    ['Foreclosed?', undefined],
  ])('status %j twice -> %j', (raw, status) => {
    expect([mapStatus(raw), mapStatus(raw)]).toEqual([status, status]);
  });

  test.each([
    ['Québec', { code: 'QC', country: 'CA' }],
    ['P.E.I.', { code: 'PE', country: 'CA' }],
    ['ZZ', undefined],
  ])('region %j twice -> %j', (raw, region) => {
    expect([lookupRegion(raw), lookupRegion(raw)]).toEqual([region, region]);
  });
});

describe('photos order and duplicates', () => {
  // Items without an Order (every fourth) go after those with one; 20 items take the Array#sort and Set
  // path, 6 items the insertion sort and scan path.
  const media = Array.from({ length: 20 }, (_, i) => ({
    MediaURL: `https://x/${i % 15}.jpg`,
    Order: i % 4 === 0 ? undefined : 20 - i,
  }));
  test.each([
    [20, '4,3,2,0,14,13,11,10,9,7,6,5,1,8,12'],
    [6, '5,3,2,1,0,4'],
  ])('%i items -> %s', (n, order) => {
    const photos = photosFrom(media.slice(0, n));
    expect(photos.map((p) => p.url.slice('https://x/'.length, -'.jpg'.length)).join(',')).toBe(order);
    expect(photos.map((p) => p.order)).toEqual(photos.map((_, i) => i));
  });
});

test('fingerprint is the first 32 hex digits of the SHA-256 of the folded address', () => {
  const a = { line1: '12 Main St', unit: '4B', region: 'MA', postalCode: '02134-1234', country: 'US' as const };
  const expected = createHash('sha256').update('US|MA|02134|12 main st|4b').digest('hex').slice(0, 32);
  expect(fingerprint(a)).toBe(expected);
});
