/**
 * `listflow profile check`'s findings: what a source profile does not yet map in a feed. Pure: it takes the
 * RawListings ingest made of the feed and runs each through normalize itself, so an "unmapped value" is
 * exactly a record normalize would dead-letter for it.
 */
import { ListflowError } from '../../../runtime/errors';
import type { RawListing } from '../../../schemas/generated/types';
import { normalizeListing } from '../process';
import type { Profile } from './profile';
import { STANDARD_PROPERTY_TYPE, STANDARD_STATUS } from './spec';

export interface Finding {
  readonly count: number;
  /** The listing key of the first record that showed it. */
  readonly exampleKey: string;
}

export interface UnmappedValue extends Finding {
  /** The lookup to add it under: StandardStatus, MlsStatus or PropertyType. */
  readonly lookup: string;
  readonly value: string;
}

export interface UnknownField extends Finding {
  readonly field: string;
}

export interface OtherRejection extends Finding {
  readonly code: string;
  readonly message: string;
}

export interface CheckReport {
  readonly profile: string;
  readonly profileFile: string;
  readonly records: number;
  readonly normalized: number;
  /** By lookup then value, in order of first appearance. */
  readonly unmapped: UnmappedValue[];
  readonly unknownFields: UnknownField[];
  /** Rejections for other reasons (a price, a postal code): not the profile's to fix, shown by code. */
  readonly otherRejections: OtherRejection[];
}

const LOOKUP_CODES = new Set(['NORMALIZE_STATUS_UNKNOWN', 'NORMALIZE_PROPERTY_TYPE_UNKNOWN']);

class Tally<T extends object> {
  private readonly items = new Map<string, { item: T; count: number; exampleKey: string }>();
  add(id: string, key: string, make: () => T): void {
    const held = this.items.get(id);
    if (held) held.count++;
    else this.items.set(id, { item: make(), count: 1, exampleKey: key });
  }
  list(): (T & Finding)[] {
    return [...this.items.values()].map((e) => ({ ...e.item, count: e.count, exampleKey: e.exampleKey }));
  }
}

/** Runs every record through `profile` (the record's own profile field is overridden). */
export function checkProfile(records: Iterable<RawListing>, profile: Profile, profilesDir?: string): CheckReport {
  const unmapped = new Tally<{ lookup: string; value: string }>();
  const unknown = new Tally<{ field: string }>();
  const other = new Tally<{ code: string; message: string }>();
  let count = 0;
  let normalized = 0;
  for (const raw of records) {
    count++;
    let fields: unknown;
    try {
      fields = JSON.parse(raw.payload);
    } catch {
      fields = undefined;
    }
    if (typeof fields === 'object' && fields !== null && !Array.isArray(fields)) {
      const rec = fields as Record<string, unknown>;
      profile.applyRenames(rec);
      for (const name of Object.keys(rec)) {
        if (!profile.knows(name)) unknown.add(name, raw.listingKey, () => ({ field: name }));
      }
    }
    try {
      normalizeListing({ ...raw, profile: profile.name }, { allowFilePhotoUrls: true, profilesDir });
      normalized++;
    } catch (e) {
      if (!(e instanceof ListflowError)) throw e;
      const d = e.detail;
      if (LOOKUP_CODES.has(e.code) && d.value !== undefined && d.value !== 'undefined') {
        const lookup =
          e.code === 'NORMALIZE_PROPERTY_TYPE_UNKNOWN'
            ? 'PropertyType'
            : d.field === 'MlsStatus'
              ? 'MlsStatus'
              : 'StandardStatus';
        unmapped.add(`${lookup}\u0000${d.value}`, raw.listingKey, () => ({ lookup, value: d.value! }));
      } else {
        other.add(e.code, raw.listingKey, () => ({ code: e.code, message: e.message }));
      }
    }
  }
  return {
    profile: profile.name,
    profileFile: profile.file,
    records: count,
    normalized,
    unmapped: unmapped.list(),
    unknownFields: unknown.list(),
    otherRejections: other.list(),
  };
}

const yamlKey = (s: string): string => (/^[A-Za-z0-9 _-]+$/.test(s) && s.trim() === s ? s : JSON.stringify(s));

/** The lines to paste into the profile file: a lookups block for the unmapped values, a keep list for the fields. */
export function suggestedLines(report: CheckReport): string[] {
  const lines: string[] = [];
  if (report.unmapped.length > 0) {
    lines.push('lookups:');
    for (const lookup of [...new Set(report.unmapped.map((u) => u.lookup))]) {
      const targets = Object.keys(lookup === 'PropertyType' ? STANDARD_PROPERTY_TYPE : STANDARD_STATUS).join(', ');
      lines.push(`  ${lookup}:    # each value one of ${targets}`);
      for (const u of report.unmapped.filter((x) => x.lookup === lookup))
        lines.push(`    ${yamlKey(u.value)}: <RESO value>`);
    }
  }
  if (report.unknownFields.length > 0) {
    lines.push('localFields:    # or list them under ignore:');
    lines.push(`  keep: [${report.unknownFields.map((f) => yamlKey(f.field)).join(', ')}]`);
  }
  return lines;
}
