/** normalize: area, description, photos, modifiedAt and the fingerprint of a listing. */
import { norm, rejected } from '../../test/support/normalize-records';

describe('area', () => {
  test.each([
    [{ LivingArea: 1500 }, 1500, 139.4],
    [{ LivingArea: '1,500', LivingAreaUnits: 'Square Feet' }, 1500, 139.4],
    [{ LivingArea: 1500, LivingAreaUnits: 'sqft' }, 1500, 139.4],
    [{ LivingArea: 100, LivingAreaUnits: 'Square Meters' }, 1076.4, 100],
    [{ LivingArea: 100, LivingAreaUnits: 'm2' }, 1076.4, 100],
    [{ LivingArea: 100, LivingAreaUnits: 'm²' }, 1076.4, 100],
    [{ LivingArea: 100, StateOrProvince: 'ON', PostalCode: 'M5V 2T6' }, 1076.4, 100],
    [{ LivingArea: 0 }, null, null],
    [{}, null, null],
    [{ LivingAreaUnits: 'sqft' }, null, null],
  ])('%j -> %s ft², %s m²', (over, sqft, sqm) => {
    const l = norm(over);
    expect([l.livingAreaSqft, l.livingAreaSqm]).toEqual([sqft, sqm]);
  });

  test.each([
    [{ LivingArea: 'big' }, 'Expected a non-negative number for LivingArea but received "big" of type string.'],
    [
      { LivingArea: 100, LivingAreaUnits: 'acres' },
      'Expected square feet or square metres ("Square Feet", "sqft", "m2") for LivingAreaUnits but received "acres" of type string.',
    ],
    [
      { BedroomsTotal: 'three' },
      'Expected a whole number of at least 0 for BedroomsTotal but received "three" of type string.',
    ],
  ])('%j is rejected', (over, message) => {
    expect(rejected(over)).toEqual({ code: 'NORMALIZE_NUMBER_INVALID', message });
  });

  test('field name variations and numeric strings', () => {
    const l = norm({ bedrooms: ' 4 ', Bathrooms: '2.0', year_built: '1950' });
    expect([l.bedrooms, l.bathroomsTotal, l.yearBuilt]).toEqual([4, 2, 1950]);
  });
});

describe('description', () => {
  test.each([
    [
      '<p>Sunny <b>corner</b> unit</p><br/>Close&nbsp;to&nbsp;transit &amp; parks',
      'Sunny corner unit Close to transit & parks',
    ],
    ['Magnifique condo &eacute;clair&#233; &#xE0; Montr&eacute;al', 'Magnifique condo éclairé à Montréal'],
    ['  lots\n\n of \t space  ', 'lots of space'],
    ['<script>alert(1)</script><p></p>', null],
    ['&lt;b&gt; is text', '<b> is text'],
    ['unknown &bogus; and &constructor; stay as written', 'unknown &bogus; and &constructor; stay as written'],
  ])('%j -> %j', (text, want) => {
    expect(norm({ PublicRemarks: text }).description).toBe(want);
  });
});

describe('photos', () => {
  test('sorted by Order, duplicates dropped, only http(s), renumbered', () => {
    const photos = norm({
      Media: [
        { MediaURL: 'https://img/3.jpg', Order: 3, ShortDescription: 'Kitchen' },
        { MediaURL: 'https://img/1.jpg', Order: 1, ShortDescription: '  Front  ' },
        { MediaURL: 'ftp://img/x.jpg', Order: 0 },
        { MediaURL: 'https://img/1.jpg', Order: 4 },
        { MediaURL: 'http://img/2.jpg', Order: '2' },
        { MediaURL: 'https://tour/vt', Order: 5, MediaCategory: 'Virtual Tour' },
        { MediaURL: 'not a url' },
      ],
    }).photos;
    const none = { mediaKey: null, mediaModificationTimestamp: null };
    expect(photos).toEqual([
      { url: 'https://img/1.jpg', order: 0, caption: 'Front', ...none },
      { url: 'http://img/2.jpg', order: 1, caption: null, ...none },
      { url: 'https://img/3.jpg', order: 2, caption: 'Kitchen', ...none },
    ]);
  });

  test.each([
    [false, []],
    [true, [{ url: 'file:///feeds/p.jpg', order: 0, caption: null, mediaKey: null, mediaModificationTimestamp: null }]],
  ])('file:// photos kept only when allowFilePhotoUrls=%s', (allow, want) => {
    expect(norm({ Media: [{ MediaURL: 'file:///feeds/p.jpg', Order: 1 }] }, {}, allow).photos).toEqual(want);
  });

  test('Media as JSON text (CSV feeds)', () => {
    expect(norm({ Media: JSON.stringify([{ MediaURL: 'https://img/a.jpg' }]) }).photos).toHaveLength(1);
  });
});

describe('modifiedAt', () => {
  test.each([
    ['2026-01-15T10:30:00Z', '2026-01-15T10:30:00.000Z'],
    ['2026-01-15T10:30:00', '2026-01-15T10:30:00.000Z'],
    ['2026-01-15 10:30', '2026-01-15T10:30:00.000Z'],
    ['2026-01-15T10:30:00.123456-05:00', '2026-01-15T15:30:00.123Z'],
    ['2026-01-15T10:30:00+0130', '2026-01-15T09:00:00.000Z'],
    ['2026-01-15', '2026-01-15T00:00:00.000Z'],
  ])('%s -> %s', (value, iso) => {
    expect(norm({ ModificationTimestamp: value }).modifiedAt.toISOString()).toBe(iso);
  });

  test.each([[undefined], ['yesterday'], ['2026-02-30T00:00:00Z'], ['2026-13-01'], [1700000000]])(
    '%j is rejected',
    (value) => {
      expect(rejected({ ModificationTimestamp: value }).code).toBe('NORMALIZE_MODIFIED_AT_INVALID');
    },
  );
});

describe('fingerprint', () => {
  test('same home, two MLSs, different spellings: same fingerprint', () => {
    const a = norm({
      StreetNumber: '10',
      StreetName: 'King',
      StreetSuffix: 'Street',
      StreetDirSuffix: 'West',
      UnitNumber: 'Unit 5',
      City: 'Toronto',
      StateOrProvince: 'Ontario',
      PostalCode: 'm5v2t6',
    });
    const b = norm(
      {
        StreetNumber: undefined,
        StreetName: undefined,
        StreetSuffix: undefined,
        UnparsedAddress: '5-10 KING ST W',
        City: 'North York',
        StateOrProvince: 'ON',
        PostalCode: 'M5V 2T6',
      },
      { source: 'mls-b' },
    );
    expect(a.fingerprint).toBe(b.fingerprint);
  });

  test.each([[{ UnitNumber: '6' }], [{ StreetNumber: '124' }], [{ PostalCode: '62705' }]])(
    'differs when %j differs',
    (over) => {
      expect(norm(over).fingerprint).not.toBe(norm({}).fingerprint);
    },
  );

  test('ZIP+4 and ZIP5 match', () => {
    expect(norm({ PostalCode: '62704-1234' }).fingerprint).toBe(norm({}).fingerprint);
  });
});
