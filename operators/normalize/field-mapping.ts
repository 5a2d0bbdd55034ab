/**
 * RESO field-name variations: feeds spell the same field `ListPrice`, `listPrice`, `list_price` or
 * `LIST PRICE`, and some use older names (`Bedrooms` for BedroomsTotal). A RecordView looks fields up by
 * a folded name (lower case, no `_`, `-`, `.` or spaces) through an alias list, RESO's name first.
 */

export const FIELD_ALIASES = {
  ListingKey: ['ListingKey', 'ListingKeyNumeric'],
  StandardStatus: ['StandardStatus', 'MlsStatus', 'Status', 'ListingStatus'],
  PropertyType: ['PropertyType', 'PropertyTypeName', 'PropType'],
  PropertySubType: ['PropertySubType'],
  ListPrice: ['ListPrice', 'ListingPrice', 'Price', 'AskingPrice', 'LeasePrice'],
  Currency: ['ListPriceCurrency', 'CurrencyCode', 'Currency'],
  StreetNumber: ['StreetNumber', 'StreetNumberNumeric', 'StreetNo', 'HouseNumber'],
  StreetDirPrefix: ['StreetDirPrefix', 'StreetDirectionPrefix'],
  StreetName: ['StreetName'],
  StreetSuffix: ['StreetSuffix', 'StreetType'],
  StreetDirSuffix: ['StreetDirSuffix', 'StreetDirectionSuffix'],
  UnitNumber: ['UnitNumber', 'Unit', 'ApartmentNumber', 'SuiteNumber'],
  UnparsedAddress: ['UnparsedAddress', 'FullAddress', 'StreetAddress', 'Address', 'AddressLine1'],
  City: ['City', 'Municipality', 'Town'],
  StateOrProvince: ['StateOrProvince', 'State', 'Province', 'StateCode', 'ProvinceCode', 'Region'],
  PostalCode: ['PostalCode', 'ZipCode', 'Zip', 'PostCode', 'PostalZip'],
  Country: ['Country', 'CountryCode', 'CountryRegion'],
  LivingArea: ['LivingArea', 'LivingAreaSqFt', 'BuildingAreaTotal', 'SquareFeet', 'FloorArea'],
  LivingAreaUnits: ['LivingAreaUnits', 'LivingAreaUnit', 'BuildingAreaUnits', 'AreaUnits'],
  BedroomsTotal: ['BedroomsTotal', 'Bedrooms', 'Beds', 'BedroomsAboveGrade'],
  BathroomsTotal: ['BathroomsTotalInteger', 'BathroomsTotal', 'Bathrooms', 'Baths', 'BathroomsFull'],
  YearBuilt: ['YearBuilt', 'ConstructedDate'],
  PublicRemarks: ['PublicRemarks', 'Remarks', 'Description', 'PublicDescription'],
  Media: ['Media', 'Photos', 'MediaList'],
  ModificationTimestamp: ['ModificationTimestamp', 'ModifiedAt', 'LastModified', 'DateModified', 'LastUpdated'],
  Latitude: ['Latitude', 'Lat'],
  Longitude: ['Longitude', 'Lon', 'Lng', 'Long'],
} as const;

export type CanonicalField = keyof typeof FIELD_ALIASES;

export const fold = (name: string): string => name.toLowerCase().replace(/[\s_.-]/g, '');

const FOLDED: Record<string, readonly string[]> = Object.fromEntries(
  Object.entries(FIELD_ALIASES).map(([k, v]) => [k, v.map(fold)]),
);

export interface Found {
  /** The field name as it appears in the record (for messages). */
  readonly name: string;
  readonly value: unknown;
}

/** Looks fields up by canonical name. Empty strings and null count as absent. */
export class RecordView {
  private readonly byFold = new Map<string, Found>();

  constructor(readonly record: Record<string, unknown>) {
    for (const [name, value] of Object.entries(record)) {
      if (value === null || value === undefined || (typeof value === 'string' && value.trim() === '')) continue;
      const f = fold(name);
      if (!this.byFold.has(f)) this.byFold.set(f, { name, value });
    }
  }

  get(field: CanonicalField): Found | undefined {
    for (const alias of FOLDED[field]!) {
      const hit = this.byFold.get(alias);
      if (hit) return hit;
    }
    return undefined;
  }

  /** The value as a trimmed string (numbers are turned into strings), or undefined. */
  text(field: CanonicalField): string | undefined {
    const v = this.get(field)?.value;
    if (typeof v === 'string') return v.trim();
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return undefined;
  }
}
