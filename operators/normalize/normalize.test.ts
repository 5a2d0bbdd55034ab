import { PermanentError } from '../../runtime/errors';
import { collect, plainContext } from '../../runtime/operator';
import type { RawListing } from '../../schemas/generated/types';
import normalize from './index';
import { normalizeListing } from './process';

const base = {
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

const raw = (payload: unknown, over: Partial<RawListing> = {}): RawListing => ({
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

const norm = (over: Record<string, unknown>, rawOver: Partial<RawListing> = {}, allowFilePhotoUrls = false) => {
  const rec: Record<string, unknown> = { ...base, ...over };
  for (const [k, v] of Object.entries(rec)) if (v === undefined) delete rec[k];
  return normalizeListing(raw(rec, rawOver), { allowFilePhotoUrls });
};

function rejected(over: Record<string, unknown>, rawOver: Partial<RawListing> = {}) {
  try {
    norm(over, rawOver);
  } catch (e) {
    expect(e).toBeInstanceOf(PermanentError);
    return { code: (e as PermanentError).code, message: (e as PermanentError).message };
  }
  throw new Error('expected a reject');
}

test('a complete record becomes the canonical listing', async () => {
  const out = await collect(
    normalize.process!(
      raw({
        ...base,
        Latitude: 39.78,
        Longitude: -89.65,
        LivingArea: 1500,
        BedroomsTotal: 3,
        BathroomsTotalInteger: '2',
        YearBuilt: 1998,
        PublicRemarks: '<p>Nice &amp; bright</p>',
      }),
      plainContext({ allowFilePhotoUrls: false, profilesDir: undefined }, undefined),
    ),
  );
  expect(out).toEqual([
    {
      kind: 'output',
      port: 'listings',
      key: 'mls-a:L1',
      value: {
        id: 'mls-a:L1',
        source: 'mls-a',
        listingKey: 'L1',
        status: 'ACTIVE',
        propertyType: 'RESIDENTIAL',
        price: { amountMinor: 45_000_000, currency: 'USD' },
        address: {
          line1: '123 Main St',
          unit: null,
          city: 'Springfield',
          region: 'IL',
          postalCode: '62704',
          country: 'US',
        },
        geo: { lat: 39.78, lon: -89.65 },
        livingAreaSqft: 1500,
        livingAreaSqm: 139.4,
        bedrooms: 3,
        bathroomsTotal: 2,
        yearBuilt: 1998,
        description: 'Nice & bright',
        photos: [],
        modifiedAt: new Date('2026-01-15T10:30:00Z'),
        fingerprint: expect.stringMatching(/^[0-9a-f]{32}$/),
        localFields: null,
      },
    },
  ]);
});

describe('status', () => {
  test.each([
    ['Active', 'ACTIVE'],
    ['  active  ', 'ACTIVE'],
    ['Active Under Contract', 'ACTIVE_UNDER_CONTRACT'],
    ['ActiveUnderContract', 'ACTIVE_UNDER_CONTRACT'],
    ['ACTIVE_UNDER_CONTRACT', 'ACTIVE_UNDER_CONTRACT'],
    ['Pending', 'PENDING'],
    ['Closed', 'CLOSED'],
    ['Sold', 'CLOSED'],
    ['Contingent', 'ACTIVE_UNDER_CONTRACT'],
    ['Under Contract', 'ACTIVE_UNDER_CONTRACT'],
    ['Coming Soon', 'COMING_SOON'],
    ['Temp Off Market', 'HOLD'],
    ['Hold', 'HOLD'],
    ['Withdrawn', 'WITHDRAWN'],
    ['Expired', 'EXPIRED'],
    ['Cancelled', 'CANCELED'],
    ['Canceled', 'CANCELED'],
    ['Delete', 'DELETE'],
    ['Incomplete', 'INCOMPLETE'],
  ])('%j -> %s', (value, want) => {
    expect(norm({ StandardStatus: value }).status).toBe(want);
  });

  test('MlsStatus is used when StandardStatus is absent', () => {
    expect(norm({ StandardStatus: undefined, MlsStatus: 'Sold' }).status).toBe('CLOSED');
  });

  test.each([
    [
      { StandardStatus: 'Foreclosed' },
      'Expected a RESO StandardStatus such as "Active" or "Closed" for StandardStatus but received "Foreclosed" of type string. Fix: map it in pipelines/profiles/reso-dd-2.0.yaml (profile reso-dd-2.0 of source mls-a): under lookups.StandardStatus, add "Foreclosed": <RESO value>.',
    ],
    [
      { StandardStatus: undefined },
      'Expected a RESO StandardStatus such as "Active" or "Closed" for StandardStatus but received undefined.',
    ],
    [
      { StandardStatus: 3 },
      'Expected a RESO StandardStatus such as "Active" or "Closed" for StandardStatus but received 3 of type number.',
    ],
  ])('unknown %j is rejected', (over, message) => {
    expect(rejected(over)).toEqual({ code: 'NORMALIZE_STATUS_UNKNOWN', message });
  });
});

describe('property type', () => {
  test.each([
    ['Residential', 'RESIDENTIAL'],
    ['Residential Income', 'RESIDENTIAL_INCOME'],
    ['ResidentialLease', 'RESIDENTIAL_LEASE'],
    ['Land', 'LAND'],
    ['Farm', 'FARM'],
    ['Commercial Sale', 'COMMERCIAL_SALE'],
    ['Commercial Lease', 'COMMERCIAL_LEASE'],
    ['Business Opportunity', 'BUSINESS_OPPORTUNITY'],
    ['Manufactured In Park', 'MANUFACTURED_IN_PARK'],
    ['Single Family', 'RESIDENTIAL'],
    ['Condo', 'RESIDENTIAL'],
    ['Other', 'OTHER'],
  ])('%j -> %s', (value, want) => {
    expect(norm({ PropertyType: value }).propertyType).toBe(want);
  });

  test('an unknown property type is rejected', () => {
    expect(rejected({ PropertyType: 'Spaceship' })).toEqual({
      code: 'NORMALIZE_PROPERTY_TYPE_UNKNOWN',
      message:
        'Expected a RESO PropertyType such as "Residential" for PropertyType but received "Spaceship" of type string. Fix: map it in pipelines/profiles/reso-dd-2.0.yaml (profile reso-dd-2.0 of source mls-a): under lookups.PropertyType, add "Spaceship": <RESO value>.',
    });
  });
});

describe('price and currency', () => {
  test.each([
    [450000, 45_000_000],
    ['$1,250,000', 125_000_000],
    ['1250000.00', 125_000_000],
    [' 399,999.99 ', 39_999_999],
    ['C$ 450,000', 45_000_000],
    [2500, 250_000],
  ])('%j -> %i cents', (value, cents) => {
    expect(norm({ ListPrice: value }).price.amountMinor).toBe(cents);
  });

  test('a monthly lease price is still a price', () => {
    expect(norm({ PropertyType: 'Residential Lease', ListPrice: '$2,100' }).price).toEqual({
      amountMinor: 210_000,
      currency: 'USD',
    });
  });

  test.each([
    [undefined, 'undefined'],
    ['call for price', '"call for price" of type string'],
    [0, '0 of type number'],
    [-5, '-5 of type number'],
    ['$0.00', '"$0.00" of type string'],
  ])('%j is rejected', (value, described) => {
    expect(rejected({ ListPrice: value })).toEqual({
      code: 'NORMALIZE_PRICE_INVALID',
      message: `Expected a price greater than 0, e.g. 450000 or "$450,000" for ListPrice but received ${described}.`,
    });
  });

  test.each([
    [{ ListPriceCurrency: 'cad' }, {}, 'CAD'],
    [{ CurrencyCode: 'USD', StateOrProvince: 'ON', PostalCode: 'M5V 2T6' }, {}, 'USD'],
    [{}, { defaultCurrency: 'CAD' }, 'CAD'],
    [{ StateOrProvince: 'Ontario', PostalCode: 'M5V2T6' }, {}, 'CAD'],
    [{}, {}, 'USD'],
  ])('currency of %j with job %j is %s', (over, rawOver, want) => {
    expect(norm(over, rawOver).price.currency).toBe(want);
  });

  test('an unknown currency is rejected', () => {
    expect(rejected({ ListPriceCurrency: 'EUR' })).toEqual({
      code: 'NORMALIZE_CURRENCY_INVALID',
      message: 'Expected USD or CAD for ListPriceCurrency but received "EUR" of type string.',
    });
  });
});

describe('address', () => {
  test.each([
    [
      {
        StreetNumber: '42',
        StreetDirPrefix: 'North',
        StreetName: 'MAIN',
        StreetSuffix: 'avenue',
        StreetDirSuffix: undefined,
      },
      '42 N Main Ave',
      null,
    ],
    [
      {
        StreetNumber: '7',
        StreetDirPrefix: undefined,
        StreetName: 'elm',
        StreetSuffix: 'Boulevard',
        StreetDirSuffix: 'Northeast',
      },
      '7 Elm Blvd NE',
      null,
    ],
    [{ StreetName: 'martin luther king jr', StreetSuffix: 'Parkway' }, '123 Martin Luther King Jr Pkwy', null],
    [{ StreetName: 'Oak Lane', StreetSuffix: undefined }, '123 Oak Ln', null],
    [{ StreetName: 'Sunset', StreetSuffix: 'Terrace', UnitNumber: 'Apt 4' }, '123 Sunset Ter', '4'],
    [{ StreetName: 'Pine', StreetSuffix: 'Court', UnitNumber: '#12b' }, '123 Pine Ct', '12B'],
    [
      {
        StreetNumber: undefined,
        StreetName: undefined,
        StreetSuffix: undefined,
        UnparsedAddress: '  500 south   OCEAN drive #4 , Miami, FL 33139',
      },
      '500 S Ocean Dr',
      '4',
    ],
    [
      {
        StreetNumber: undefined,
        StreetName: undefined,
        StreetSuffix: undefined,
        UnparsedAddress: '12 Rue Saint-Denis Unit 3',
      },
      '12 Rue Saint-Denis',
      '3',
    ],
    [
      {
        StreetNumber: undefined,
        StreetName: undefined,
        StreetSuffix: undefined,
        UnparsedAddress: '4-123 King Street West',
      },
      '123 King St W',
      '4',
    ],
    [
      {
        StreetNumber: undefined,
        StreetName: undefined,
        StreetSuffix: undefined,
        UnparsedAddress: '88 Harbour Circle, Suite 200',
      },
      '88 Harbour Cir',
      '200',
    ],
    [
      {
        StreetNumber: undefined,
        StreetName: undefined,
        StreetSuffix: undefined,
        UnparsedAddress: '9 Old Highway Road',
      },
      '9 Old Highway Rd',
      null,
    ],
    [
      {
        StreetNumber: undefined,
        StreetName: undefined,
        StreetSuffix: undefined,
        UnparsedAddress: '1 Lakeshore Place Apt 2',
      },
      '1 Lakeshore Pl',
      '2',
    ],
  ])('%j -> %j unit %j', (over, line1, unit) => {
    const a = norm(over).address;
    expect([a.line1, a.unit]).toEqual([line1, unit]);
  });

  test.each([
    ['  springfield ', 'Springfield'],
    ['SAINT-JEAN-SUR-RICHELIEU', 'Saint-Jean-Sur-Richelieu'],
    ['new   york', 'New York'],
  ])('city %j -> %j', (city, want) => {
    expect(norm({ City: city }).address.city).toBe(want);
  });

  test.each([
    [
      { StreetName: undefined, UnparsedAddress: undefined },
      'NORMALIZE_ADDRESS_INVALID',
      'Expected a street address for StreetName or UnparsedAddress but received undefined.',
    ],
    [{ City: '   ' }, 'NORMALIZE_ADDRESS_INVALID', 'Expected a city name for City but received undefined.'],
  ])('%j is rejected', (over, code, message) => {
    expect(rejected(over)).toEqual({ code, message });
  });
});

describe('region, country and postal code', () => {
  test.each([
    [{ StateOrProvince: 'il' }, 'IL', 'US'],
    [{ StateOrProvince: 'Illinois' }, 'IL', 'US'],
    [{ StateOrProvince: 'District of Columbia', PostalCode: '20001' }, 'DC', 'US'],
    [{ StateOrProvince: 'CA', PostalCode: '94105' }, 'CA', 'US'],
    [{ StateOrProvince: 'Ontario', PostalCode: 'm5v2t6' }, 'ON', 'CA'],
    [{ StateOrProvince: 'Québec', PostalCode: 'H2X 1Y4' }, 'QC', 'CA'],
    [{ StateOrProvince: 'QUEBEC', PostalCode: 'H2X1Y4' }, 'QC', 'CA'],
    [{ StateOrProvince: 'Newfoundland & Labrador', PostalCode: 'A1C 5M2' }, 'NL', 'CA'],
    [{ StateOrProvince: 'P.E.I.', PostalCode: 'C1A 4P3' }, 'PE', 'CA'],
    [{ StateOrProvince: 'Yukon', PostalCode: 'Y1A 2C6' }, 'YT', 'CA'],
    [{ StateOrProvince: 'Nunavut', PostalCode: 'X0A 0H0' }, 'NU', 'CA'],
    [{ StateOrProvince: 'BC', Country: 'Canada', PostalCode: 'V6B 1A1' }, 'BC', 'CA'],
    [{ StateOrProvince: 'NY', Country: 'United States', PostalCode: '10001' }, 'NY', 'US'],
    [{ StateOrProvince: 'TX', Country: 'USA', PostalCode: '73301' }, 'TX', 'US'],
    [{ StateOrProvince: 'AB', Country: 'CAN', PostalCode: 'T2P 1J9' }, 'AB', 'CA'],
  ])('%j -> %s, %s', (over, region, country) => {
    const a = norm(over).address;
    expect([a.region, a.country]).toEqual([region, country]);
  });

  test.each([
    [{ PostalCode: 2134 }, '02134'],
    [{ PostalCode: '2134' }, '02134'],
    [{ PostalCode: 501 }, '00501'],
    [{ PostalCode: '02134-1234' }, '02134-1234'],
    [{ PostalCode: '021341234' }, '02134-1234'],
    [{ PostalCode: ' 62704 ' }, '62704'],
    [{ StateOrProvince: 'ON', PostalCode: 'm5v2t6' }, 'M5V 2T6'],
    [{ StateOrProvince: 'ON', PostalCode: ' M5V-2T6 ' }, 'M5V 2T6'],
  ])('%j -> %s', (over, want) => {
    expect(norm(over).address.postalCode).toBe(want);
  });

  test.each([
    [
      { StateOrProvince: 'Bavaria' },
      'NORMALIZE_REGION_UNKNOWN',
      'Expected a US state, DC, or a Canadian province or territory for StateOrProvince but received "Bavaria" of type string.',
    ],
    [
      { StateOrProvince: undefined },
      'NORMALIZE_REGION_UNKNOWN',
      'Expected a US state, DC, or a Canadian province or territory for StateOrProvince but received undefined.',
    ],
    [
      { Country: 'Mexico' },
      'NORMALIZE_COUNTRY_UNKNOWN',
      'Expected US, USA, United States, CA, CAN or Canada for Country but received "Mexico" of type string.',
    ],
    [
      { Country: 'Canada' },
      'NORMALIZE_COUNTRY_UNKNOWN',
      'Expected a country matching region IL (US) for Country but received "Canada" of type string.',
    ],
    [
      { PostalCode: 'M5V 2T6' },
      'NORMALIZE_POSTAL_CODE_INVALID',
      'Expected a US ZIP code such as "02134" or "02134-1234" for PostalCode but received "M5V 2T6" of type string.',
    ],
    [
      { StateOrProvince: 'ON', PostalCode: '90210' },
      'NORMALIZE_POSTAL_CODE_INVALID',
      'Expected a Canadian postal code such as "M5V 2T6" for PostalCode but received "90210" of type string.',
    ],
    [
      { PostalCode: '1234567' },
      'NORMALIZE_POSTAL_CODE_INVALID',
      'Expected a US ZIP code such as "02134" or "02134-1234" for PostalCode but received "1234567" of type string.',
    ],
    [
      { PostalCode: undefined },
      'NORMALIZE_POSTAL_CODE_INVALID',
      'Expected a US ZIP code such as "02134" or "02134-1234" for PostalCode but received undefined.',
    ],
  ])('%j is rejected with %s', (over, code, message) => {
    expect(rejected(over)).toEqual({ code, message });
  });
});

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

describe('geo', () => {
  test.each([
    [
      { Latitude: 43.65, Longitude: -79.38 },
      { lat: 43.65, lon: -79.38 },
    ],
    [
      { Latitude: '43.65', Longitude: '-79.38' },
      { lat: 43.65, lon: -79.38 },
    ],
    [{ Latitude: 0, Longitude: 0 }, null],
    [{ Latitude: 48.85, Longitude: 2.35 }, null],
    [{ Latitude: 90, Longitude: -100 }, null],
    [{ Latitude: 'n/a', Longitude: -100 }, null],
    [{ Latitude: 45 }, null],
  ])('%j -> %j', (over, geo) => {
    expect(norm(over).geo).toEqual(geo);
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
    expect(photos).toEqual([
      { url: 'https://img/1.jpg', order: 0, caption: 'Front' },
      { url: 'http://img/2.jpg', order: 1, caption: null },
      { url: 'https://img/3.jpg', order: 2, caption: 'Kitchen' },
    ]);
  });

  test.each([
    [false, []],
    [true, [{ url: 'file:///feeds/p.jpg', order: 0, caption: null }]],
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

test.each([['not json'], ['[1,2]'], ['null']])('payload %j is rejected', (payload) => {
  expect(() => normalizeListing(raw(payload), { allowFilePhotoUrls: false })).toThrow(
    expect.objectContaining({ code: 'NORMALIZE_PAYLOAD_INVALID' }),
  );
});

test('RESO field-name variations', () => {
  const l = norm({
    ...Object.fromEntries(Object.keys(base).map((k) => [k, undefined])),
    listing_key: 'L1',
    status: 'active',
    property_type: 'residential',
    'List Price': '$300,000',
    UNPARSEDADDRESS: '1 Main St',
    city: 'boston',
    state: 'MA',
    zip: 2134,
    modificationTimestamp: '2026-01-01T00:00:00Z',
  });
  expect(l).toMatchObject({
    status: 'ACTIVE',
    price: { amountMinor: 30_000_000 },
    address: { line1: '1 Main St', city: 'Boston', region: 'MA', postalCode: '02134' },
  });
});

test('a rejection is a PermanentError with code, message and field, and leaves the stack limit as it was', () => {
  const limit = Error.stackTraceLimit;
  let thrown: unknown;
  try {
    norm({ ListPrice: 'Call for price' });
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(PermanentError);
  const e = thrown as PermanentError;
  expect([e.code, e.message, e.detail, e.kind]).toEqual([
    'NORMALIZE_PRICE_INVALID',
    'Expected a price greater than 0, e.g. 450000 or "$450,000" for ListPrice but received "Call for price" of type string.',
    { field: 'ListPrice' },
    'permanent',
  ]);
  expect(e.stack).toBe(`PermanentError: ${e.message}`);
  expect(Error.stackTraceLimit).toBe(limit);
});
