import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListflowError, PermanentError } from '../../../runtime/errors';
import { encodeAvroBody } from '../../../runtime/serde';
import type { Listing, RawListing } from '../../../schemas/generated/types';
import { normalizeListing } from '../process';
import { loadProfiles } from './registry';
import { validateProfile } from './spec';
import { OLDER_DDF_RECORD } from '../../../test/support/listings';

/** A Toronto listing in standard RESO form. */
const reso = {
  ListingKey: 'X1',
  StandardStatus: 'Active',
  PropertyType: 'Residential',
  ListPrice: 899000,
  StreetNumber: '12',
  StreetName: 'King',
  StreetSuffix: 'St',
  City: 'Toronto',
  StateOrProvince: 'ON',
  PostalCode: 'M5V 2T6',
  ModificationTimestamp: '2026-01-15T10:30:00.123456Z',
};

const raw = (payload: unknown, profile?: string, over: Partial<RawListing> = {}): RawListing => ({
  jobId: 'job-1',
  source: 'mls-a',
  listingKey: 'X1',
  position: 0,
  receivedAt: new Date(0),
  defaultCountry: null,
  defaultCurrency: null,
  payload: JSON.stringify(payload),
  ...(profile ? { profile } : {}),
  ...over,
});

const config = { allowFilePhotoUrls: false };
const norm = (payload: unknown, profile?: string, over: Partial<RawListing> = {}, profilesDir?: string): Listing =>
  normalizeListing(raw(payload, profile, over), { ...config, profilesDir });

function rejected(payload: unknown, profile?: string): PermanentError {
  try {
    norm(payload, profile);
  } catch (e) {
    expect(e).toBeInstanceOf(PermanentError);
    return e as PermanentError;
  }
  throw new Error('expected a reject');
}

/** Without the key: StandardStatus or PropertyType left to the profile's lookups. */
const without = (...keys: (keyof typeof reso)[]) => {
  const r: Record<string, unknown> = { ...reso };
  for (const k of keys) delete r[k];
  return r;
};

test('every built-in profile loads and validates', () => {
  expect([...loadProfiles().profiles.keys()].sort()).toEqual([
    'bridge',
    'crea-ddf',
    'mlsgrid',
    'proptx',
    'reso-dd-2.0',
    'trestle',
  ]);
});

describe('proptx (PropTx/AMPRE, Ontario)', () => {
  test.each([
    ['Residential Freehold', 'RESIDENTIAL'],
    ['Residential Condo & Other', 'RESIDENTIAL'],
    ['Commercial', 'COMMERCIAL_SALE'],
  ])('PropertyType %j is %s', (value, expected) => {
    expect(norm({ ...reso, PropertyType: value }, 'proptx').propertyType).toBe(expected);
  });

  test.each([
    // MlsStatus alone, and MlsStatus beside a StandardStatus that does not map.
    [{ MlsStatus: 'New' }, 'ACTIVE'],
    [{ MlsStatus: 'Sold Conditional' }, 'ACTIVE_UNDER_CONTRACT'],
    [{ MlsStatus: 'Leased' }, 'CLOSED'],
    [{ MlsStatus: 'Suspended' }, 'HOLD'],
    [{ MlsStatus: 'Terminated' }, 'CANCELED'],
    [{ StandardStatus: 'Available', MlsStatus: 'Price Change' }, 'ACTIVE'],
    // StandardStatus wins when it maps.
    [{ StandardStatus: 'Pending', MlsStatus: 'New' }, 'PENDING'],
  ])('status of %j is %s', (fields, expected) => {
    expect(norm({ ...without('StandardStatus'), ...fields }, 'proptx').status).toBe(expected);
  });

  test('areas without units are square feet; ContractStatus and TransactionType are kept as local fields', () => {
    const l = norm({ ...reso, LivingArea: 1500, ContractStatus: 'Available', TransactionType: 'For Sale' }, 'proptx');
    expect(l.livingAreaSqft).toBe(1500);
    expect(l.localFields).toEqual({ ContractStatus: 'Available', TransactionType: 'For Sale' });
    expect(l.price).toEqual({ amountMinor: 89_900_000, currency: 'CAD' });
  });

  test('a PropTx value without a profile is rejected, naming the profile file to add it to', () => {
    const e = rejected({ ...reso, PropertyType: 'Residential Freehold' });
    expect(e.code).toBe('NORMALIZE_PROPERTY_TYPE_UNKNOWN');
    expect(e.message).toBe(
      'Expected a RESO PropertyType such as "Residential" for PropertyType but received "Residential Freehold" of type string. Fix: map it in pipelines/profiles/reso-dd-2.0.yaml (profile reso-dd-2.0 of source mls-a): under lookups.PropertyType, add "Residential Freehold": <RESO value>.',
    );
    expect(e.detail).toEqual({
      field: 'PropertyType',
      value: 'Residential Freehold',
      profile: 'reso-dd-2.0',
      profileFile: 'pipelines/profiles/reso-dd-2.0.yaml',
      source: 'mls-a',
    });
  });

  test('an MlsStatus nothing maps is rejected under lookups.MlsStatus of proptx', () => {
    const e = rejected({ ...without('StandardStatus'), MlsStatus: 'Draft' }, 'proptx');
    expect(e.code).toBe('NORMALIZE_STATUS_UNKNOWN');
    expect(e.message).toContain(
      'in pipelines/profiles/proptx.yaml (profile proptx of source mls-a): under lookups.MlsStatus, add "Draft"',
    );
  });
});

const oldDdf = OLDER_DDF_RECORD;

describe('crea-ddf', () => {
  test('the older shape becomes a Listing: ID key, Price, nested Address, Province by name, LastUpdated, Active', () => {
    const l = norm(oldDdf, 'crea-ddf', { listingKey: '27000001' });
    expect(l).toMatchObject({
      id: 'mls-a:27000001',
      status: 'ACTIVE',
      propertyType: 'RESIDENTIAL',
      price: { amountMinor: 89_900_000, currency: 'CAD' },
      address: { line1: '12 King St', city: 'Toronto', region: 'ON', postalCode: 'M5V 2T6', country: 'CA' },
      bedrooms: 3,
      bathroomsTotal: 2,
      modifiedAt: new Date('2026-01-15T10:30:00Z'),
      localFields: { ListingID: 'X1234567', TransactionType: 'For sale' },
    });
  });

  test.each([
    ['Vacant Land', 'LAND'],
    ['Multi-family', 'RESIDENTIAL_INCOME'],
    ['Agriculture', 'FARM'],
    ['Business', 'BUSINESS_OPPORTUNITY'],
    ['Office', 'COMMERCIAL_SALE'],
  ])('older DDF PropertyType %j is %s', (value, expected) => {
    expect(norm({ ...oldDdf, PropertyType: value }, 'crea-ddf').propertyType).toBe(expected);
  });

  test('the DDF Web API (RESO) form normalizes under the same profile', () => {
    expect(norm(reso, 'crea-ddf').status).toBe('ACTIVE');
  });
});

describe('reso-dd-2.0 (default): legacy OData names and French-Canadian values', () => {
  const montreal = { ...reso, City: 'Montréal', StateOrProvince: 'QC', PostalCode: 'H2X 1Y4' };
  test.each([
    ['ActiveUnderContract', 'ACTIVE_UNDER_CONTRACT'],
    ['Vendu', 'CLOSED'],
    ['Expiré', 'EXPIRED'],
    ['Annulé', 'CANCELED'],
    ['En attente', 'PENDING'],
  ])('StandardStatus %j is %s', (value, expected) => {
    expect(norm({ ...montreal, StandardStatus: value }).status).toBe(expected);
  });
  test.each([
    ['Résidentiel', 'RESIDENTIAL'],
    ['Location résidentielle', 'RESIDENTIAL_LEASE'],
    ['Terrain', 'LAND'],
  ])('PropertyType %j is %s', (value, expected) => {
    expect(norm({ ...montreal, PropertyType: value }).propertyType).toBe(expected);
  });
  test('PropertySubType decides when PropertyType is absent', () => {
    expect(norm({ ...without('PropertyType'), PropertySubType: 'Duplex' }).propertyType).toBe('RESIDENTIAL_INCOME');
  });
  test('no local fields are kept: localFields is null', () => {
    expect(norm({ ...reso, ACT_Foo: 'x' }).localFields).toBeNull();
  });
});

describe('mlsgrid, bridge, trestle', () => {
  test('mlsgrid: MlgCanView false is a deletion; ACT_ and CAR_ fields kept as text; Media Order as a string', () => {
    const l = norm(
      {
        ...reso,
        MlgCanView: false,
        ACT_GuestHouse: true,
        CAR_Zoning: 'R-3',
        Media: [
          { MediaURL: 'https://cdn.example.com/b.jpg', Order: '2' },
          { MediaURL: 'https://cdn.example.com/a.jpg', Order: '1' },
        ],
      },
      'mlsgrid',
    );
    expect(l.status).toBe('DELETE');
    expect(l.localFields).toEqual({ ACT_GuestHouse: 'true', CAR_Zoning: 'R-3' });
    expect(l.photos.map((p) => p.url)).toEqual(['https://cdn.example.com/a.jpg', 'https://cdn.example.com/b.jpg']);
    expect(norm({ ...reso, MlgCanView: true }, 'mlsgrid').status).toBe('ACTIVE');
  });
  test.each([
    ['CompSold', 'CLOSED'],
    ['AttorneyReview', 'ACTIVE_UNDER_CONTRACT'],
    ['Terminated', 'CANCELED'],
  ])('trestle: MlsStatus %j is %s', (value, expected) => {
    expect(norm({ ...without('StandardStatus'), MlsStatus: value }, 'trestle').status).toBe(expected);
  });
  test('bridge: a RESO record with Bridge bookkeeping fields normalizes', () => {
    expect(norm({ ...reso, BridgeModificationTimestamp: '2026-01-15T10:30:00Z', FeedTypes: [] }, 'bridge').status).toBe(
      'ACTIVE',
    );
  });
});

describe('a Listing through a profile is byte-identical (Avro) to one from the same data in RESO form', () => {
  const standard = {
    ...reso,
    StandardStatus: 'ActiveUnderContract',
    LivingArea: 1500,
    LivingAreaUnits: 'Square Feet',
    Country: 'CA',
    ListPriceCurrency: 'CAD',
  };
  test.each([
    [
      'proptx',
      {
        ...without('StandardStatus'),
        PropertyType: 'Residential Freehold',
        MlsStatus: 'Sold Conditional',
        LivingArea: 1500,
      },
    ],
    [
      'crea-ddf',
      {
        ID: 'X1',
        Price: 899000,
        PropertyType: 'Single Family',
        StandardStatus: 'Active Under Contract',
        Address: {
          StreetNumber: '12',
          StreetName: 'King',
          StreetSuffix: 'St',
          City: 'Toronto',
          Province: 'Ontario',
          PostalCode: 'M5V 2T6',
        },
        LivingArea: 1500,
        LivingAreaUnits: 'sqft',
        LastUpdated: '2026-01-15T10:30:00.123456Z',
      },
    ],
  ])('%s', (profile, payload) => {
    const expected = encodeAvroBody('Listing', norm(standard));
    const got = encodeAvroBody('Listing', norm(payload, profile));
    expect(got.equals(expected)).toBe(true);
  });
});

describe('validation', () => {
  test.each([
    [{ name: 'other' }, 'name', 'the file\'s name without .yaml ("p")'],
    [
      { name: 'p', lookups: { StandardStatus: { Sold: 'Sold' } } },
      'lookups.StandardStatus["Sold"]',
      'a RESO StandardStatus value',
    ],
    [{ name: 'p', lookups: { Status: {} } }, 'lookups.Status', 'one of StandardStatus, MlsStatus'],
    [{ name: 'p', keys: { listingKey: ['bad key'] } }, 'keys.listingKey[0]', 'a field name'],
    [{ name: 'p', localFields: { keep: ['ACT_*_x'] } }, 'localFields.keep[0]', 'a field name or a PREFIX* pattern'],
    [{ name: 'p', defaults: { country: 'FR' } }, 'defaults.country', 'US or CA'],
    [{ name: 'p', units: { livingArea: 'acres' } }, 'units.livingArea', 'SquareFeet or SquareMeters'],
    [{ name: 'p', renames: { Price: 'list price' } }, 'renames["Price"]', 'the RESO field name'],
    [{ name: 'p', lookup: {} }, 'lookup', 'one of name, description'],
  ])('%j: problem at %s', (doc, path, expected) => {
    const { problems, spec } = validateProfile(doc, 'p.yaml');
    expect(spec).toBeUndefined();
    expect(problems.map((p) => p.path)).toEqual([path]);
    expect(problems[0]!.message).toContain(`Expected ${expected}`);
  });

  const dir = (files: Record<string, string>): string => {
    const d = mkdtempSync(join(tmpdir(), 'listflow-profiles-'));
    for (const [f, text] of Object.entries(files)) writeFileSync(join(d, f), text);
    return d;
  };

  test('an extra directory adds profiles that extend the built-ins; records name them', () => {
    const d = dir({
      'my-board.yaml': 'name: my-board\nextends: proptx\nlookups:\n  PropertyType:\n    Cottage: Residential\n',
    });
    expect(norm({ ...reso, PropertyType: 'Cottage' }, 'my-board', {}, d).propertyType).toBe('RESIDENTIAL');
    // Inherited from proptx.
    expect(norm({ ...reso, PropertyType: 'Residential Freehold' }, 'my-board', {}, d).propertyType).toBe('RESIDENTIAL');
  });

  test('every problem of every file is one PROFILE_INVALID naming file, path, value and fix', () => {
    const d = dir({
      'a.yaml': 'name: a\nextends: nope\n',
      'proptx.yaml': 'name: proptx\n',
      'b.yaml': 'name: b\nlookups:\n  PropertyType:\n    Cottage: House\n',
      'c.yaml': 'name: c\nname: c\n',
    });
    let err: unknown;
    try {
      loadProfiles(d);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ListflowError);
    expect((err as ListflowError).code).toBe('PROFILE_INVALID');
    const lines = (err as ListflowError).message.split('\n').slice(1);
    expect(lines).toHaveLength(4);
    expect(lines.find((l) => l.includes('b.yaml'))).toContain(
      'Expected a RESO PropertyType value (BusinessOpportunity, CommercialLease, CommercialSale, Farm, Land, ManufacturedInPark, Residential, ResidentialIncome, ResidentialLease, Other) for lookups.PropertyType["Cottage"] but received "House" of type string.',
    );
    expect(lines.find((l) => l.includes('c.yaml'))).toContain('not valid YAML');
    expect(lines.find((l) => l.includes('proptx.yaml'))).toContain(
      'is already defined by pipelines/profiles/proptx.yaml',
    );
    expect(lines.find((l) => l.includes('a.yaml'))).toContain('for extends but received "nope"');
  });

  test('a record naming no known profile is NORMALIZE_PROFILE_UNKNOWN, listing the profiles there are', () => {
    const e = rejected(reso, 'nope');
    expect(e.code).toBe('NORMALIZE_PROFILE_UNKNOWN');
    expect(e.message).toContain(
      'Expected one of the source profiles bridge, crea-ddf, mlsgrid, proptx, reso-dd-2.0, trestle but received "nope"',
    );
  });
});
