/** normalize: the canonical listing, status, property type, price and currency, and how a record is rejected. */
import { PermanentError } from '../../runtime/errors';
import { collect, plainContext } from '../../runtime/operator';
import normalize from './index';
import { normalizeListing } from './process';
import { base, norm, raw, rejected } from '../../test/support/normalize-records';

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
