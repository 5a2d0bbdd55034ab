/** normalize: the address, region, country, postal code and geo point of a listing. */
import { norm, rejected } from '../../test/support/normalize-records';

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
