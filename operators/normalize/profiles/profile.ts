/**
 * A compiled source profile: what normalize (and ingest, for the key) apply to each record of a source.
 * Built once per profile when the registry loads; every lookup is memoized, since a feed repeats a handful
 * of values.
 */
import type { ListingStatus, PropertyType } from '../../../schemas/generated/types';
import { FIELD_ALIASES, fold } from '../field-mapping';
import { memoize } from '../memo';
import { compact, mapPropertyType, mapStatus } from '../status';
import { type LookupField, type ProfileSpec, STANDARD_PROPERTY_TYPE, STANDARD_STATUS } from './spec';

/** A profile spec with `extends` resolved: the chain of files it came from, nearest first. */
export interface ResolvedSpec extends ProfileSpec {
  /** The file to add a mapping to (the profile's own file). */
  readonly file: string;
}

/** `PREFIX*` or an exact name, matched case-sensitively as the feed spells it. */
function matcher(patterns: readonly string[]): (name: string) => boolean {
  const exact = new Set(patterns.filter((p) => !p.endsWith('*')));
  const prefixes = patterns.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  if (prefixes.length === 0) return (name) => exact.has(name);
  return (name) => exact.has(name) || prefixes.some((p) => name.startsWith(p));
}

function table<T>(entries: Readonly<Record<string, string>> | undefined, targets: Readonly<Record<string, T>>) {
  const m = new Map<string, T>();
  for (const [from, to] of Object.entries(entries ?? {})) m.set(compact(from), targets[to]!);
  return m;
}

export class Profile {
  readonly name: string;
  readonly file: string;
  /** Feed fields holding the listing key, best first. */
  readonly listingKeyFields: readonly string[];
  /** [path in the feed, RESO name]: applied to each record before the RESO field lookups. */
  readonly renames: readonly (readonly [readonly string[], string])[];
  readonly defaultCountry: 'US' | 'CA' | undefined;
  readonly defaultCurrency: 'USD' | 'CAD' | undefined;
  readonly areaUnit: 'ft' | 'm' | undefined;
  readonly defaultStatus: ListingStatus | undefined;
  /** [field, value]: a record whose field holds the value is a deletion. */
  readonly deletedWhen: readonly (readonly [string, string | boolean])[];
  /** True when a local field is to be kept in Listing.localFields. */
  readonly keeps: (name: string) => boolean;
  readonly keepsAny: boolean;
  readonly ignores: (name: string) => boolean;
  /** The lookup values the profile maps, per field (for `profile check`'s suggestions). */
  readonly lookupFields: readonly LookupField[];
  readonly status: (raw: string) => ListingStatus | undefined;
  readonly mlsStatus: (raw: string) => ListingStatus | undefined;
  readonly propertyType: (raw: string) => PropertyType | undefined;
  readonly subType: (raw: string) => PropertyType | undefined;
  private readonly renamedFrom: ReadonlySet<string>;

  constructor(spec: ResolvedSpec) {
    this.name = spec.name;
    this.file = spec.file;
    this.listingKeyFields = spec.listingKey ?? ['ListingKey'];
    const renames: [string[], string][] = Object.entries(spec.renames).map(([from, to]) => [from.split('.'), to]);
    if (spec.modificationTimestamp && spec.modificationTimestamp !== 'ModificationTimestamp')
      renames.push([spec.modificationTimestamp.split('.'), 'ModificationTimestamp']);
    this.renames = renames;
    // Fields the profile reads itself: renamed, deletion flags, key fields (ingest reads those).
    this.renamedFrom = new Set([
      ...renames.map(([p]) => p[0]!),
      ...Object.keys(spec.deletedWhen),
      ...this.listingKeyFields,
    ]);
    this.defaultCountry = spec.defaultCountry;
    this.defaultCurrency = spec.defaultCurrency;
    this.defaultStatus = spec.defaultStatus === undefined ? undefined : STANDARD_STATUS[spec.defaultStatus];
    this.deletedWhen = Object.entries(spec.deletedWhen);
    this.areaUnit =
      spec.livingAreaUnits === 'SquareFeet' ? 'ft' : spec.livingAreaUnits === 'SquareMeters' ? 'm' : undefined;
    this.keeps = matcher(spec.keep);
    this.keepsAny = spec.keep.length > 0;
    this.ignores = matcher(spec.ignore);
    this.lookupFields = Object.keys(spec.lookups) as LookupField[];
    // The profile's own table first, then the built-in RESO and legacy spellings (status.ts).
    const st = table(spec.lookups.StandardStatus, STANDARD_STATUS);
    const ms = table(spec.lookups.MlsStatus, STANDARD_STATUS);
    const pt = table(spec.lookups.PropertyType, STANDARD_PROPERTY_TYPE);
    const sub = table(spec.lookups.PropertySubType, STANDARD_PROPERTY_TYPE);
    this.status = memoize((v) => st.get(compact(v)) ?? mapStatus(v));
    this.mlsStatus = memoize((v) => ms.get(compact(v)) ?? st.get(compact(v)) ?? mapStatus(v));
    this.propertyType = memoize((v) => pt.get(compact(v)) ?? mapPropertyType(v));
    this.subType = memoize((v) => sub.get(compact(v)));
  }

  /**
   * Moves each renamed field of `record` (in place) to its RESO name. A RESO field the record already has
   * wins over a rename: the feed said it twice, and RESO's name is the contract. Nested paths
   * (`Address.StreetAddress`) are read, not removed.
   */
  applyRenames(record: Record<string, unknown>): void {
    for (const [path, to] of this.renames) {
      const value = path.length === 1 ? record[path[0]!] : readPath(record, path);
      if (value === undefined || value === null || value === '') continue;
      const held = record[to];
      if (held !== undefined && held !== null && held !== '') continue;
      record[to] = value;
      if (path.length === 1) delete record[path[0]!];
    }
  }

  /** True when the record says the listing was deleted (deletedWhen). */
  isDeletion(record: Record<string, unknown>): boolean {
    for (const [f, v] of this.deletedWhen) if (record[f] === v) return true;
    return false;
  }

  /** The local fields of `record` this profile keeps, as text, or null when it keeps none. */
  localFields(record: Record<string, unknown>): Record<string, string> | null {
    if (!this.keepsAny) return null;
    let out: Record<string, string> | null = null;
    for (const name in record) {
      if (!Object.hasOwn(record, name) || !this.keeps(name)) continue;
      const v = record[name];
      if (v === undefined || v === null || v === '') continue;
      out ??= {};
      out[name] = typeof v === 'string' ? v : JSON.stringify(v);
    }
    return out;
  }

  /** True when normalize reads the field, the profile renames, keeps or ignores it: `profile check` lists the rest. */
  knows(name: string): boolean {
    return READ_BY_NORMALIZE.has(fold(name)) || this.renamedFrom.has(name) || this.keeps(name) || this.ignores(name);
  }
}

function readPath(record: Record<string, unknown>, path: readonly string[]): unknown {
  let v: unknown = record;
  for (const p of path) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

/** Folded names of every field normalize reads (field-mapping's aliases), plus MlsStatus and ListingKey. */
const READ_BY_NORMALIZE = new Set(
  [...Object.values(FIELD_ALIASES).flat(), 'MlsStatus', 'ListingKey', 'ListingKeyNumeric'].map(fold),
);
