/**
 * The shape of a source profile (pipelines/profiles/<name>.yaml) and its validation.
 *
 * A profile is data written by whoever onboards an MLS, so it is checked as `unknown`: every problem is
 * found in one pass and reported together, each naming the file, the field path (`lookups.StandardStatus["Sold"]`),
 * the value received and a fix, in the same shape as runtime/pipeline-validation.ts. Shape errors are
 * problems, never crashes.
 */
import { invalidParameterMessage } from '../../../runtime/errors';
import type { ListingStatus, PropertyType } from '../../../schemas/generated/types';

/** The lookups a profile may map, by the RESO field whose values they translate. */
export const LOOKUP_FIELDS = ['StandardStatus', 'MlsStatus', 'PropertyType', 'PropertySubType'] as const;
export type LookupField = (typeof LOOKUP_FIELDS)[number];

/**
 * The RESO Data Dictionary 2.0 standard values a lookup may map to, and the Listing enum each one is.
 * StandardStatus and MlsStatus map to a StandardStatus value; PropertyType and PropertySubType to a
 * PropertyType value (a subtype decides the type when the record's PropertyType is absent or unmapped).
 * "Other" is not a DD PropertyType; it is Listing's own catch-all, kept so a profile can say "we know,
 * and it is none of these".
 */
export const STANDARD_STATUS: Readonly<Record<string, ListingStatus>> = {
  Active: 'ACTIVE',
  ActiveUnderContract: 'ACTIVE_UNDER_CONTRACT',
  Canceled: 'CANCELED',
  Closed: 'CLOSED',
  ComingSoon: 'COMING_SOON',
  Delete: 'DELETE',
  Expired: 'EXPIRED',
  Hold: 'HOLD',
  Incomplete: 'INCOMPLETE',
  Pending: 'PENDING',
  Withdrawn: 'WITHDRAWN',
};
export const STANDARD_PROPERTY_TYPE: Readonly<Record<string, PropertyType>> = {
  BusinessOpportunity: 'BUSINESS_OPPORTUNITY',
  CommercialLease: 'COMMERCIAL_LEASE',
  CommercialSale: 'COMMERCIAL_SALE',
  Farm: 'FARM',
  Land: 'LAND',
  ManufacturedInPark: 'MANUFACTURED_IN_PARK',
  Residential: 'RESIDENTIAL',
  ResidentialIncome: 'RESIDENTIAL_INCOME',
  ResidentialLease: 'RESIDENTIAL_LEASE',
  Other: 'OTHER',
};
const TARGETS: Readonly<Record<LookupField, Readonly<Record<string, string>>>> = {
  StandardStatus: STANDARD_STATUS,
  MlsStatus: STANDARD_STATUS,
  PropertyType: STANDARD_PROPERTY_TYPE,
  PropertySubType: STANDARD_PROPERTY_TYPE,
};

/** A profile as written (after validation), before `extends` is resolved. */
export interface ProfileSpec {
  readonly name: string;
  readonly description: string;
  readonly extends: string | undefined;
  /** Feed fields holding the listing key, in order of preference (ingest reads them). */
  readonly listingKey: readonly string[] | undefined;
  /** The feed field holding the modification timestamp, when it is not ModificationTimestamp. */
  readonly modificationTimestamp: string | undefined;
  /** Feed field (a dotted path reaches into nested objects) -> the RESO field it is. */
  readonly renames: Readonly<Record<string, string>>;
  /** Per lookup field: feed value -> RESO standard value. */
  readonly lookups: Readonly<Partial<Record<LookupField, Readonly<Record<string, string>>>>>;
  readonly defaultCountry: 'US' | 'CA' | undefined;
  readonly defaultCurrency: 'USD' | 'CAD' | undefined;
  /** The StandardStatus of a record that has none (a feed of listings on the market only, like the older DDF). */
  readonly defaultStatus: string | undefined;
  /** Field -> value that means the listing was deleted (MLS Grid's MlgCanView: false): its status is Delete. */
  readonly deletedWhen: Readonly<Record<string, string | boolean>>;
  /** The unit of LivingArea when a record does not say. */
  readonly livingAreaUnits: 'SquareFeet' | 'SquareMeters' | undefined;
  /** Local fields to keep in Listing.localFields: exact names, or `PREFIX*`. */
  readonly keep: readonly string[];
  /** Fields known and deliberately not carried (exact names or `PREFIX*`): `profile check` does not list them. */
  readonly ignore: readonly string[];
}

export interface ProfileProblem {
  readonly path: string;
  readonly message: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const PROFILE_NAME_RE = /^[a-z0-9][a-z0-9._-]*$/;
const FIELD_RE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const PATTERN_RE = /^[A-Za-z_@][A-Za-z0-9_.@]*\*?$/;
const TOP_KEYS = [
  'name',
  'description',
  'extends',
  'keys',
  'renames',
  'lookups',
  'defaults',
  'units',
  'localFields',
  'ignore',
  'deletedWhen',
];

/**
 * Validates one parsed profile file. `fileName` is the file's base name: the profile's `name` must be it
 * without `.yaml`, so that the name a source or a record carries leads to exactly one file.
 */
export function validateProfile(doc: unknown, fileName: string): { spec?: ProfileSpec; problems: ProfileProblem[] } {
  const problems: ProfileProblem[] = [];
  const expect = (path: string, expected: string, received: unknown, fix: string) =>
    problems.push({ path, message: invalidParameterMessage(path, expected, received, fix) });
  if (!isObj(doc)) {
    expect(
      '(profile)',
      'a YAML mapping with name, lookups, renames, ...',
      doc,
      'start from pipelines/profiles/reso-dd-2.0.yaml.',
    );
    return { problems };
  }
  for (const k of Object.keys(doc)) {
    if (!TOP_KEYS.includes(k)) expect(k, `one of ${TOP_KEYS.join(', ')}`, k, 'remove the key or fix its spelling.');
  }
  const stem = fileName.replace(/\.ya?ml$/, '');
  if (typeof doc.name !== 'string' || !PROFILE_NAME_RE.test(doc.name) || doc.name !== stem) {
    expect('name', `the file's name without .yaml ("${stem}")`, doc.name, `set name: ${stem}, or rename the file.`);
  }
  const str = (path: string, v: unknown): string | undefined => {
    if (v === undefined) return undefined;
    if (typeof v === 'string' && v.trim() !== '') return v;
    expect(path, 'a non-empty string', v, 'write a value or remove the key.');
    return undefined;
  };
  const fieldName = (path: string, v: unknown): string | undefined => {
    if (typeof v === 'string' && FIELD_RE.test(v)) return v;
    expect(
      path,
      'a field name (letters, digits, "_"; "." between the parts of a nested path)',
      v,
      'use the field name as the feed spells it.',
    );
    return undefined;
  };
  const mapping = (path: string, v: unknown): Obj | undefined => {
    if (v === undefined || v === null) return undefined;
    if (isObj(v)) return v;
    expect(path, 'a mapping', v, `write ${path} as "key: value" lines, or remove it.`);
    return undefined;
  };
  const patterns = (path: string, v: unknown): string[] => {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      expect(path, 'a list of field names or PREFIX* patterns', v, `write ${path} as a YAML list.`);
      return [];
    }
    const out: string[] = [];
    v.forEach((p, i) => {
      if (typeof p === 'string' && PATTERN_RE.test(p)) out.push(p);
      else expect(`${path}[${i}]`, 'a field name or a PREFIX* pattern', p, 'e.g. ACT_* or ContractStatus.');
    });
    return out;
  };
  const only = (path: string, o: Obj, keys: readonly string[]) => {
    for (const k of Object.keys(o)) {
      if (!keys.includes(k))
        expect(`${path}.${k}`, `one of ${keys.join(', ')}`, k, 'remove the key or fix its spelling.');
    }
  };

  const description = str('description', doc.description) ?? '';
  let ext: string | undefined;
  if (doc.extends !== undefined) {
    if (typeof doc.extends === 'string' && PROFILE_NAME_RE.test(doc.extends)) ext = doc.extends;
    else expect('extends', 'the name of another profile', doc.extends, 'e.g. extends: reso-dd-2.0.');
  }

  let listingKey: string[] | undefined;
  let modificationTimestamp: string | undefined;
  const keys = mapping('keys', doc.keys);
  if (keys) {
    only('keys', keys, ['listingKey', 'modificationTimestamp']);
    if (keys.listingKey !== undefined) {
      const list = typeof keys.listingKey === 'string' ? [keys.listingKey] : keys.listingKey;
      if (Array.isArray(list) && list.length > 0) {
        listingKey = [];
        list.forEach((f, i) => {
          const ok = fieldName(`keys.listingKey[${i}]`, f);
          if (ok) listingKey!.push(ok);
        });
      } else
        expect('keys.listingKey', 'a field name or a list of them', keys.listingKey, 'e.g. listingKey: [ListingKey].');
    }
    if (keys.modificationTimestamp !== undefined)
      modificationTimestamp = fieldName('keys.modificationTimestamp', keys.modificationTimestamp);
  }

  const renames: Record<string, string> = {};
  const r = mapping('renames', doc.renames);
  if (r) {
    for (const [from, to] of Object.entries(r)) {
      const p = `renames[${JSON.stringify(from)}]`;
      if (!FIELD_RE.test(from)) fieldName(p, from);
      else if (typeof to === 'string' && /^[A-Za-z][A-Za-z0-9]*$/.test(to)) renames[from] = to;
      else expect(p, 'the RESO field name it stands for', to, 'e.g. Price: ListPrice.');
    }
  }

  const lookups: Partial<Record<LookupField, Record<string, string>>> = {};
  const l = mapping('lookups', doc.lookups);
  if (l) {
    for (const [field, table] of Object.entries(l)) {
      if (!(LOOKUP_FIELDS as readonly string[]).includes(field)) {
        expect(`lookups.${field}`, `one of ${LOOKUP_FIELDS.join(', ')}`, field, 'map only these lookups.');
        continue;
      }
      const t = mapping(`lookups.${field}`, table);
      if (!t) continue;
      const targets = TARGETS[field as LookupField];
      const out: Record<string, string> = {};
      for (const [from, to] of Object.entries(t)) {
        const p = `lookups.${field}[${JSON.stringify(from)}]`;
        if (typeof to === 'string' && to in targets) out[from] = to;
        else
          expect(
            p,
            `a RESO ${field === 'MlsStatus' ? 'StandardStatus' : field === 'PropertySubType' ? 'PropertyType' : field} value (${Object.keys(targets).join(', ')})`,
            to,
            'map the feed value to one of these.',
          );
      }
      lookups[field as LookupField] = out;
    }
  }

  let defaultCountry: 'US' | 'CA' | undefined;
  let defaultCurrency: 'USD' | 'CAD' | undefined;
  let defaultStatus: string | undefined;
  const d = mapping('defaults', doc.defaults);
  if (d) {
    only('defaults', d, ['country', 'currency', 'status']);
    if (d.status !== undefined) {
      if (typeof d.status === 'string' && d.status in STANDARD_STATUS) defaultStatus = d.status;
      else
        expect(
          'defaults.status',
          `a RESO StandardStatus (${Object.keys(STANDARD_STATUS).join(', ')})`,
          d.status,
          'the status of a record that has none.',
        );
    }
    if (d.country !== undefined) {
      if (d.country === 'US' || d.country === 'CA') defaultCountry = d.country;
      else expect('defaults.country', 'US or CA', d.country, 'the country of a record that names none.');
    }
    if (d.currency !== undefined) {
      if (d.currency === 'USD' || d.currency === 'CAD') defaultCurrency = d.currency;
      else expect('defaults.currency', 'USD or CAD', d.currency, 'the currency of a record that names none.');
    }
  }

  let livingAreaUnits: ProfileSpec['livingAreaUnits'];
  const u = mapping('units', doc.units);
  if (u) {
    only('units', u, ['livingArea']);
    if (u.livingArea !== undefined) {
      if (u.livingArea === 'SquareFeet' || u.livingArea === 'SquareMeters') livingAreaUnits = u.livingArea;
      else
        expect(
          'units.livingArea',
          'SquareFeet or SquareMeters (RESO AreaUnits)',
          u.livingArea,
          'the unit of LivingArea when a record does not say.',
        );
    }
  }

  let keep: string[] = [];
  const lf = mapping('localFields', doc.localFields);
  if (lf) {
    only('localFields', lf, ['keep']);
    keep = patterns('localFields.keep', lf.keep);
  }
  const ignore = patterns('ignore', doc.ignore);
  const deletedWhen: Record<string, string | boolean> = {};
  const dw = mapping('deletedWhen', doc.deletedWhen);
  if (dw) {
    for (const [f, v] of Object.entries(dw)) {
      const p = `deletedWhen[${JSON.stringify(f)}]`;
      if (!FIELD_RE.test(f)) fieldName(p, f);
      else if (typeof v === 'string' || typeof v === 'boolean') deletedWhen[f] = v;
      else expect(p, 'a string or true/false', v, 'e.g. MlgCanView: false.');
    }
  }

  if (problems.length > 0) return { problems };
  return {
    problems,
    spec: {
      name: doc.name as string,
      description,
      extends: ext,
      listingKey,
      modificationTimestamp,
      renames,
      lookups,
      defaultCountry,
      defaultCurrency,
      defaultStatus,
      deletedWhen,
      livingAreaUnits,
      keep,
      ignore,
    },
  };
}
