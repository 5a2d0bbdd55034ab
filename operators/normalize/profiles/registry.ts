/**
 * The profile registry: the built-in profiles (pipelines/profiles/*.yaml) plus, optionally, the files of one
 * more directory (LISTFLOW_NORMALIZE_PROFILES_DIR). Loaded, validated and compiled once per directory and
 * cached for the life of the process (each worker thread loads its own copy, once).
 *
 * Every problem of every file is reported together as one PROFILE_INVALID (fatal: a worker must not start on
 * a profile it cannot read), each line naming the file, the field path, the value and the fix.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import YAML from 'yaml';
import { ListflowError, PermanentError } from '../../../runtime/errors';
import { Profile, type ResolvedSpec } from './profile';
import { type ProfileSpec, validateProfile } from './spec';

/** The profile of a record that names none. */
export const DEFAULT_PROFILE = 'reso-dd-2.0';

/**
 * pipelines/profiles, found from this module: operators/normalize/profiles in the source tree (tests, tsx)
 * and dist/operators/normalize/profiles once compiled both lead up to the checkout (or image) root.
 */
export function builtinProfilesDir(): string {
  for (let dir = __dirname, i = 0; i < 6; i++, dir = dirname(dir)) {
    const candidate = join(dir, 'pipelines', 'profiles');
    if (existsSync(join(candidate, `${DEFAULT_PROFILE}.yaml`))) return candidate;
  }
  throw new ListflowError(
    'PROFILE_INVALID',
    `The built-in source profiles (pipelines/profiles/${DEFAULT_PROFILE}.yaml) were not found above ${__dirname}. Fix: ship pipelines/profiles beside dist/ (the image must copy it).`,
  );
}

export interface ProfileRegistry {
  readonly profiles: ReadonlyMap<string, Profile>;
  /** The profile called `name`, or NORMALIZE_PROFILE_UNKNOWN naming the ones there are. */
  get(name: string): Profile;
}

interface Loaded {
  readonly spec: ProfileSpec;
  /** As messages show it: pipelines/profiles/<name>.yaml for a built-in (the same in a checkout and an image), else absolute. */
  readonly file: string;
}

/** Reads every *.yaml of `dir`; `shownDir` is how messages name the directory. */
function readDir(dir: string, shownDir: string, problems: string[]): Loaded[] {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort();
  } catch (e) {
    problems.push(`${dir}: the profiles directory cannot be read (${(e as Error).message}).`);
    return [];
  }
  const out: Loaded[] = [];
  for (const f of names) {
    const file = join(shownDir, f);
    let doc: unknown;
    try {
      doc = YAML.parse(readFileSync(join(dir, f), 'utf8'), { uniqueKeys: true });
    } catch (e) {
      problems.push(`${file}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
      continue;
    }
    const v = validateProfile(doc, f);
    for (const p of v.problems) problems.push(`${file}: ${p.message}`);
    if (v.spec) out.push({ spec: v.spec, file });
  }
  return out;
}

/** A child's settings over its parent's: lookup tables and renames merged entry by entry, lists joined. */
function merge(parent: ResolvedSpec, child: ProfileSpec, file: string): ResolvedSpec {
  const lookups: Record<string, Record<string, string>> = {};
  for (const [f, t] of Object.entries(parent.lookups)) lookups[f] = { ...t };
  for (const [f, t] of Object.entries(child.lookups)) lookups[f] = { ...(lookups[f] ?? {}), ...t };
  return {
    ...child,
    file,
    listingKey: child.listingKey ?? parent.listingKey,
    modificationTimestamp: child.modificationTimestamp ?? parent.modificationTimestamp,
    renames: { ...parent.renames, ...child.renames },
    lookups,
    defaultCountry: child.defaultCountry ?? parent.defaultCountry,
    defaultCurrency: child.defaultCurrency ?? parent.defaultCurrency,
    defaultStatus: child.defaultStatus ?? parent.defaultStatus,
    deletedWhen: { ...parent.deletedWhen, ...child.deletedWhen },
    livingAreaUnits: child.livingAreaUnits ?? parent.livingAreaUnits,
    keep: [...parent.keep, ...child.keep],
    ignore: [...parent.ignore, ...child.ignore],
  };
}

/** Loads and compiles the built-ins plus `extraDir`'s files. Throws PROFILE_INVALID listing every problem. */
export function loadProfiles(extraDir?: string): ProfileRegistry {
  const problems: string[] = [];
  const builtin = readDir(builtinProfilesDir(), join('pipelines', 'profiles'), problems);
  const extra = extraDir ? readDir(resolve(extraDir), resolve(extraDir), problems) : [];
  const byName = new Map<string, Loaded>();
  for (const l of [...builtin, ...extra]) {
    const prior = byName.get(l.spec.name);
    if (prior) {
      problems.push(
        `${l.file}: profile ${l.spec.name} is already defined by ${prior.file}. Fix: give it another name and \`extends: ${l.spec.name}\` to build on it.`,
      );
      continue;
    }
    byName.set(l.spec.name, l);
  }
  const resolved = new Map<string, ResolvedSpec>();
  const resolveSpec = (name: string, chain: string[]): ResolvedSpec | undefined => {
    const done = resolved.get(name);
    if (done) return done;
    const l = byName.get(name)!;
    let out: ResolvedSpec = { ...l.spec, file: l.file };
    if (l.spec.extends !== undefined) {
      if (chain.includes(l.spec.extends)) {
        problems.push(`${l.file}: extends ${l.spec.extends} makes a cycle (${[...chain, name].join(' -> ')}).`);
        return undefined;
      }
      if (!byName.has(l.spec.extends)) {
        problems.push(
          `${l.file}: Expected the name of a profile for extends but received ${JSON.stringify(l.spec.extends)}. Fix: use one of ${[...byName.keys()].join(', ')}.`,
        );
        return undefined;
      }
      const parent = resolveSpec(l.spec.extends, [...chain, name]);
      if (!parent) return undefined;
      out = merge(parent, l.spec, l.file);
    }
    resolved.set(name, out);
    return out;
  };
  for (const name of byName.keys()) resolveSpec(name, []);
  if (problems.length > 0) {
    throw new ListflowError(
      'PROFILE_INVALID',
      `${problems.length} problem(s) in the source profiles:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
  const profiles = new Map(
    [...resolved].sort(([a], [b]) => a.localeCompare(b)).map(([n, s]) => [n, new Profile(s)] as const),
  );
  const where = extraDir ? `pipelines/profiles or ${extraDir}` : 'pipelines/profiles';
  return {
    profiles,
    get(name: string): Profile {
      const p = profiles.get(name);
      if (p) return p;
      throw new PermanentError(
        'NORMALIZE_PROFILE_UNKNOWN',
        `Expected one of the source profiles ${[...profiles.keys()].join(', ')} but received ${JSON.stringify(name)}. Fix: add ${name}.yaml to ${where}, or name an existing profile.`,
        { detail: { profile: name } },
      );
    },
  };
}

const cache = new Map<string, ProfileRegistry>();

/** The registry for `extraDir`, loaded on first use and kept. */
export function profileRegistry(extraDir?: string): ProfileRegistry {
  const key = extraDir ?? '';
  let r = cache.get(key);
  if (!r) {
    r = loadProfiles(extraDir);
    cache.set(key, r);
  }
  return r;
}

/**
 * The listing-key fields of a built-in profile, for ingest (which keys each RawListing before normalize
 * sees it). A profile only in LISTFLOW_NORMALIZE_PROFILES_DIR, or none, gives undefined: the standard
 * ListingKey spellings.
 */
export function listingKeyFieldsOf(name: string | null | undefined): readonly string[] | undefined {
  return name ? profileRegistry().profiles.get(name)?.listingKeyFields : undefined;
}
