/**
 * The fast paths added for throughput (ISO timestamps read digit by digit, ASCII title case, description
 * steps skipped when they cannot change the text, one-pass field lookup, memoized lookups) must give
 * exactly what the general paths give. Each table mixes inputs that take the fast path with ones that
 * fall back to the general one.
 */
import { createHash } from 'node:crypto';
import { buildStreet, fingerprint, titleCase } from './address';
import { parseTimestamp } from './dates';
import { FIELD_ALIASES, fold, isBlank, RecordView } from './field-mapping';
import { memoize } from './memo';
import { isPlainWebUrl, photosFrom } from './photos';
import { lookupRegion } from './regions';
import { mapStatus } from './status';
import { cleanDescription, decodeEntities } from './text';

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

describe('decodeEntities', () => {
  // The regex it replaces, kept here as the specification.
  const NAMED: Record<string, string> = { amp: '&', lt: '<', eacute: 'é', Eacute: 'É' };
  const viaRegex = (s: string): string =>
    s.replace(/&(#x[0-9a-f]+|#\d+|[a-z][a-z0-9]*);/gi, (whole, name: string) => {
      if (name[0] === '#') {
        const code = name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
        return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
      }
      return Object.hasOwn(NAMED, name) ? NAMED[name]! : whole;
    });

  test.each([
    ['no entity', 'no entity'],
    ['&amp;lt; &&amp; &amp', '&lt; && &amp'],
    ['&#x27;&#X27;&#39;&#0;&#x;&#;&#x1g;&#1x;&#1114112;&#x10FFFF;', "'''&#0;&#x;&#;&#x1g;&#1x;&#1114112;\u{10ffff}"],
    [
      '&eacute;t&Eacute; &EACUTE; &e1; &1a; &a-b; &constructor; &ſ; &\u212a;',
      'étÉ &EACUTE; &e1; &1a; &a-b; &constructor; &ſ; &\u212a;',
    ],
    ['&#55357;&#56832; &#x1F600; tail&', '\ud83d\ude00 \u{1f600} tail&'],
  ])('%j -> %j', (raw, out) => {
    expect(viaRegex(raw)).toBe(out);
    expect(decodeEntities(raw)).toBe(out);
  });

  test('agrees with the regex on random text made of entity pieces', () => {
    const pieces = ['&', ';', '#', 'x', 'X', 'amp', 'lt', 'eacute', 'E', 'f', '1', '9', ' ', 'ſ', '-', '&amp;'];
    let seed = 11;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let k = 0; k < 20_000; k++) {
      let s = '';
      for (let n = rnd(12); n > 0; n--) s += pieces[rnd(pieces.length)];
      expect([s, decodeEntities(s)]).toEqual([s, viaRegex(s)]);
    }
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

describe('isBlank', () => {
  test('is trim() === "" for every UTF-16 code unit, alone and before text', () => {
    for (let c = 0; c < 0x10000; c++) {
      const ch = String.fromCharCode(c);
      expect([c, isBlank(ch), isBlank(`${ch}x`), isBlank(`${ch} `)]).toEqual([
        c,
        ch.trim() === '',
        false,
        ch.trim() === '',
      ]);
    }
    expect(isBlank('')).toBe(true);
  });
});

describe('buildStreet with memoized parts', () => {
  // Each case twice: the second call is answered from the caches and must give the same.
  test.each([
    [{ streetNumber: '12 b', streetName: 'main', suffix: 'street' }, '12B Main St', undefined],
    [{ streetNumber: '12', streetName: 'Main Street' }, '12 Main St', undefined],
    [{ streetNumber: '12', streetName: 'Main Street', suffix: 'Rd' }, '12 Main Street Rd', undefined],
    [{ streetNumber: '12', streetName: 'Street' }, '12 Street', undefined],
    [{ streetNumber: '12', streetName: 'Main St Apt 4', suffix: 'ST' }, '12 Main St St', '4'],
    [{ streetNumber: '12', streetName: '#4', suffix: 'Ave' }, '12 Ave', '4'],
    [{ streetName: 'Elm', dirPrefix: 'north', dirSuffix: 'Sw', unitNumber: 'Suite 200' }, 'N Elm SW', '200'],
    [{ streetName: 'Elm', dirPrefix: 'upper', suffix: 'CRESCENT' }, 'Upper Elm Cres', undefined],
    [{ streetName: 'Elm', unitNumber: 'Apt #', suffix: 'st' }, 'Elm St', undefined],
  ])('%j -> %j, unit %j', (parts, line1, unit) => {
    expect(buildStreet(parts)).toEqual({ line1, unit });
    expect(buildStreet(parts)).toEqual({ line1, unit });
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

describe('isPlainWebUrl', () => {
  const parsesAsWeb = (s: string): boolean => {
    const p = URL.parse(s);
    return p !== null && (p.protocol === 'http:' || p.protocol === 'https:');
  };

  test.each([
    ['https://img.example.com/a.jpg', true],
    ['http://cdn-1.example.com', true],
    ['https://a?x=1', true],
    ['https://a.b/c d#e', true],
    ['https://a.b/\u00e9', true],
    // Left to URL.parse: some of these parse, some do not.
    ['https://IMG.example.com/a.jpg', false],
    ['https://example.com:443/a.jpg', false],
    ['https://example.com:99999/a.jpg', false],
    ['https://u@example.com/a.jpg', false],
    ['https://1.2.3.4/a.jpg', false],
    ['https://1.2.3.999/a.jpg', false],
    ['https://a.0x1f/a.jpg', false],
    ['https://xn--zz.com/a.jpg', false],
    ['https://a.xn--zz/a.jpg', false],
    ['https://a..b/', false],
    ['https://a.b./', false],
    ['https:///a.jpg', false],
    ['https://a\\b', false],
    ['https://a b/', false],
    ['file:///tmp/a.jpg', false],
    ['javascript:alert(1)', false],
    ['HTTPS://a.b/', false],
  ])('%j -> %j', (url, plain) => {
    expect(isPlainWebUrl(url)).toBe(plain);
  });

  test('every URL it accepts parses as http(s)', () => {
    // Deterministic random hosts over the characters that matter: label edges, dots, hyphens, digits, xn--.
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const chars = 'abxn-.09-.x';
    const tails = ['', '/', '/a b', '?q', '#f', '\\x', '@a', ':80', ' x', '/\u0001'];
    let accepted = 0;
    for (let k = 0; k < 20_000; k++) {
      let host = rnd(10) === 0 ? 'xn--' : '';
      for (let n = rnd(10); n > 0; n--) host += chars[rnd(chars.length)];
      const url = `${rnd(2) ? 'https' : 'http'}://${host}${tails[rnd(tails.length)]}`;
      if (isPlainWebUrl(url)) {
        accepted++;
        expect([url, parsesAsWeb(url)]).toEqual([url, true]);
      }
    }
    expect(accepted).toBeGreaterThan(1000);
  });
});

test('fingerprint is the first 32 hex digits of the SHA-256 of the folded address', () => {
  const a = { line1: '12 Main St', unit: '4B', region: 'MA', postalCode: '02134-1234', country: 'US' as const };
  const expected = createHash('sha256').update('US|MA|02134|12 main st|4b').digest('hex').slice(0, 32);
  expect(fingerprint(a)).toBe(expected);
});
