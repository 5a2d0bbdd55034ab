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

/** Canonical field -> its position in FIELD_ALIASES, so a RecordView can keep its hits in a small array. */
const FIELD_INDEX = Object.fromEntries(Object.keys(FIELD_ALIASES).map((f, i) => [f, i])) as Record<
  CanonicalField,
  number
>;
const FIELD_COUNT = Object.keys(FIELD_ALIASES).length;

/** Where a folded alias leads: its field's index and its rank in that field's alias list (0 = RESO's name). */
interface Slot {
  readonly index: number;
  readonly rank: number;
}

/** Folded alias -> slot, built once. No folded alias belongs to two fields (a test checks this). */
const SLOTS = new Map<string, Slot>();
for (const [field, aliases] of Object.entries(FIELD_ALIASES) as [CanonicalField, readonly string[]][]) {
  aliases.forEach((alias, rank) => {
    SLOTS.set(fold(alias), { index: FIELD_INDEX[field], rank });
  });
}

/**
 * Record key as written -> its slot, or null for keys normalize does not read (ListingId, ...). Feeds repeat
 * the same few dozen key spellings on every record, so this saves folding each key of each record. Keys
 * come from the input, so the cache is bounded: past MAX_CACHED_KEYS it is emptied and refills with the
 * spellings in use.
 */
const slotByKey = new Map<string, Slot | null>();
const MAX_CACHED_KEYS = 4096;

function slotOf(name: string): Slot | null {
  let slot = slotByKey.get(name);
  if (slot === undefined) {
    slot = SLOTS.get(fold(name)) ?? null;
    if (slotByKey.size >= MAX_CACHED_KEYS) slotByKey.clear();
    slotByKey.set(name, slot);
  }
  return slot;
}

const ownKey = Object.prototype.hasOwnProperty;

/** `s.trim() === ''` without making a trimmed copy: a value that starts with visible ASCII is not blank. */
export function isBlank(s: string): boolean {
  if (s.length === 0) return true;
  const c = s.charCodeAt(0);
  return c > 32 && c < 127 ? false : s.trim() === '';
}

export interface Found {
  /** The field name as it appears in the record (for messages). */
  readonly name: string;
  readonly value: unknown;
}

class Hit implements Found {
  constructor(
    readonly name: string,
    readonly value: unknown,
    readonly rank: number,
  ) {}
}

/**
 * Looks fields up by canonical name. Empty strings and null count as absent.
 *
 * One pass over the record keeps, per canonical field, the key with the best alias rank; between keys
 * that fold to the same name, the first one in record order. That is what "first alias, in alias order,
 * that the record has" means, without a map of every key of the record.
 */
export class RecordView {
  readonly record: Record<string, unknown>;
  /** By FIELD_INDEX: one small array rather than an object whose keys vary from record to record. */
  private readonly hits: (Hit | undefined)[] = new Array(FIELD_COUNT);

  constructor(record: Record<string, unknown>) {
    this.record = record;
    // for-in rather than Object.keys/entries: V8 reads the values through the object's enum cache, which
    // halved the cost of this loop. It also visits inherited enumerable keys, hence the own-key check,
    // spelled Object.prototype.hasOwnProperty.call because V8 turns that form (not Object.hasOwn) into a map check inside
    // for-in, where Object.hasOwn cost as much as the rest of the loop.
    for (const name in record) {
      const slot = slotOf(name);
      if (slot === null || !ownKey.call(record, name)) continue;
      const value = record[name];
      if (value === null || value === undefined || (typeof value === 'string' && isBlank(value))) continue;
      const held = this.hits[slot.index];
      if (held === undefined || slot.rank < held.rank) this.hits[slot.index] = new Hit(name, value, slot.rank);
    }
  }

  get(field: CanonicalField): Found | undefined {
    return this.hits[FIELD_INDEX[field]];
  }

  /** The value as a trimmed string (numbers are turned into strings), or undefined. */
  text(field: CanonicalField): string | undefined {
    const v = this.get(field)?.value;
    if (typeof v === 'string') return v.trim();
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return undefined;
  }
}
