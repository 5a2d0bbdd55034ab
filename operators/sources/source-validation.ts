/**
 * Validation of a parsed sources document: every problem found in one pass, each naming the field path, the
 * value received (never a secret: a secret-looking value is shown hidden) and a fix.
 */
import { invalidParameterMessage } from '../../runtime/errors';
import { type DeleteRule, deleteRuleDisagreements } from './deletes';
import { FilterSyntaxError, parseFilter } from './odata-filter';
import {
  type MediaRule,
  parseDuration,
  type ResoSource,
  type SnapshotSource,
  type SourceAuth,
  type SourceCommon,
  type SourceSpec,
  type SourcesProblem,
  type ValidateOptions,
} from './source-spec';

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const NAME_MAX = 40;
const ENV_RE = /^[A-Z][A-Z0-9_]*$/;
/** Keys that would hold a secret inline; each points at its `...Env` counterpart. */
const INLINE_SECRET_KEYS: Readonly<Record<string, string>> = {
  clientSecret: 'clientSecretEnv',
  clientId: 'clientIdEnv',
  token: 'tokenEnv',
  accessToken: 'tokenEnv',
  bearerToken: 'tokenEnv',
  password: 'an ...Env variable name',
  secret: 'an ...Env variable name',
  apiKey: 'an ...Env variable name',
};
const SECRET_QUERY = /[?&](access_token|token|api_?key|client_secret|password|sig|signature)=/i;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validates a parsed sources document; returns the sources and every problem (never throws). */
export function validateSources(
  doc: unknown,
  o: ValidateOptions = {},
): { sources: SourceSpec[]; problems: SourcesProblem[] } {
  const problems: SourcesProblem[] = [];
  const sources: SourceSpec[] = [];
  const expect = (path: string, expected: string, received: unknown, fix: string) =>
    problems.push({ path, message: invalidParameterMessage(path, expected, received, fix) });
  if (!isObj(doc) || !Array.isArray(doc.sources)) {
    expect(
      'sources',
      'a list of sources under the key `sources`',
      isObj(doc) ? doc.sources : doc,
      'write `sources:` followed by one `- name: ...` entry per source.',
    );
    return { sources, problems };
  }
  for (const k of Object.keys(doc))
    if (k !== 'sources') expect(k, 'no other top-level key than sources', doc[k], `remove ${k}.`);
  const names = new Set<string>();
  doc.sources.forEach((raw, i) => {
    const at = `sources[${i}]`;
    const s = new SourceReader(at, raw, expect, o);
    const spec = s.read();
    if (!spec) return;
    if (names.has(spec.name))
      expect(
        `${at}.name`,
        'a name no other source has',
        spec.name,
        'give each source its own name (it keys its cursor).',
      );
    names.add(spec.name);
    sources.push(spec);
  });
  return { sources, problems };
}

type Expect = (path: string, expected: string, received: unknown, fix: string) => void;

/** Reads one source entry, reporting each problem with its path. */
class SourceReader {
  private readonly used = new Set<string>();
  private ok = true;
  constructor(
    private readonly at: string,
    private readonly raw: unknown,
    private readonly report: Expect,
    private readonly o: ValidateOptions,
  ) {}

  private expect(path: string, expected: string, received: unknown, fix: string): void {
    this.ok = false;
    this.report(path, expected, received, fix);
  }

  private field(obj: Obj, base: string, key: string): unknown {
    this.used.add(`${base}.${key}`);
    return obj[key];
  }

  private unknownKeys(obj: Obj, base: string, allowed: readonly string[]): void {
    for (const [k, v] of Object.entries(obj)) {
      if (allowed.includes(k)) continue;
      const instead = INLINE_SECRET_KEYS[k];
      if (instead) {
        this.expect(
          `${base}.${k}`,
          'no secret written in the sources file',
          typeof v === 'string' ? '(hidden)' : v,
          `put the value in an environment variable and name it with ${instead}.`,
        );
      } else {
        this.expect(`${base}.${k}`, `one of the keys ${allowed.join(', ')}`, k, `remove or rename ${k}.`);
      }
    }
  }

  private oneOf<T extends string>(obj: Obj, base: string, key: string, values: readonly T[], dflt?: T): T | undefined {
    const v = this.field(obj, base, key);
    if (v === undefined && dflt !== undefined) return dflt;
    if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T;
    this.expect(`${base}.${key}`, `one of ${values.join(', ')}`, v, `set ${key} to one of ${values.join(', ')}.`);
    return undefined;
  }

  private optionalOneOf<T extends string>(obj: Obj, base: string, key: string, values: readonly T[]): T | undefined {
    if (obj[key] === undefined) {
      this.used.add(`${base}.${key}`);
      return undefined;
    }
    return this.oneOf(obj, base, key, values);
  }

  private int(obj: Obj, base: string, key: string, min: number, max: number, dflt?: number): number | undefined {
    const v = this.field(obj, base, key);
    if (v === undefined && dflt !== undefined) return dflt;
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
    this.expect(
      `${base}.${key}`,
      `an integer between ${min} and ${max}`,
      v,
      `give ${key} as a whole number in that range.`,
    );
    return undefined;
  }

  private duration(
    obj: Obj,
    base: string,
    key: string,
    minMs: number,
    maxMs: number,
    example: string,
  ): number | undefined {
    const v = this.field(obj, base, key);
    const ms = parseDuration(v);
    if (ms !== undefined && ms >= minMs && ms <= maxMs) return ms;
    this.expect(
      `${base}.${key}`,
      `a duration between ${minMs / 1000}s and ${maxMs / 86_400_000}d (like ${example})`,
      v,
      `write a number and a unit (ms, s, m, h, d), e.g. ${example}.`,
    );
    return undefined;
  }

  private url(obj: Obj, base: string, key: string): string | undefined {
    const v = this.field(obj, base, key);
    let u: URL | undefined;
    try {
      u = typeof v === 'string' ? new URL(v) : undefined;
    } catch {
      u = undefined;
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
      this.expect(
        `${base}.${key}`,
        'an http:// or https:// URL',
        v,
        'write the full URL, e.g. https://api.mlsgrid.com/v2/Property.',
      );
      return undefined;
    }
    if (u.username || u.password || SECRET_QUERY.test(u.search)) {
      this.expect(
        `${base}.${key}`,
        'a URL without credentials or tokens',
        `${u.origin}${u.pathname} (credentials hidden)`,
        'remove them from the URL and name environment variables under auth instead.',
      );
      return undefined;
    }
    return v as string;
  }

  private envName(obj: Obj, base: string, key: string): string | undefined {
    const v = this.field(obj, base, key);
    if (typeof v === 'string' && ENV_RE.test(v) && v.length <= 100) return v;
    const looksSecret = typeof v === 'string' && v.length >= 16 && !/\s/.test(v) && !ENV_RE.test(v);
    this.expect(
      `${base}.${key}`,
      'the name of an environment variable (A-Z, 0-9, _)',
      looksSecret ? '(hidden: it looks like a secret)' : v,
      looksSecret
        ? 'never write the secret itself: put it in an environment variable (a Kubernetes Secret) and write that variable name here.'
        : `name the variable that holds it, e.g. LISTFLOW_SOURCE_${key.replace(/Env$/, '').toUpperCase()}.`,
    );
    return undefined;
  }

  private filter(obj: Obj, base: string, key: string): string | undefined {
    const v = this.field(obj, base, key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') {
      this.expect(
        `${base}.${key}`,
        'an OData $filter expression',
        v,
        'write it as a string, e.g. "OriginatingSystemName eq \'mred\'".',
      );
      return undefined;
    }
    try {
      parseFilter(v);
      return v;
    } catch (e) {
      if (!(e instanceof FilterSyntaxError)) throw e;
      this.expect(
        `${base}.${key}`,
        `an OData $filter in the supported subset (${e.message})`,
        v,
        "use comparisons (eq, ne, gt, ge, lt, le, in) joined by and/or, with 'quoted' strings.",
      );
      return undefined;
    }
  }

  read(): SourceSpec | undefined {
    const at = this.at;
    if (!isObj(this.raw)) {
      this.expect(
        at,
        'an object with name and kind',
        this.raw,
        'write each source as `- name: ...` with its fields indented below.',
      );
      return undefined;
    }
    const r = this.raw;
    const name = this.field(r, at, 'name');
    if (typeof name !== 'string' || !NAME_RE.test(name) || name.length > NAME_MAX) {
      this.expect(
        `${at}.name`,
        `lowercase letters, digits and "-" (at most ${NAME_MAX} characters)`,
        name,
        'name the source like "mred-mlsgrid"; it keys the cursor and appears in labels.',
      );
    }
    const kind = this.oneOf(r, at, 'kind', ['reso-web-api', 'file', 'http'] as const);
    const common = {
      name: name as string,
      pollIntervalMs:
        this.duration(r, at, 'pollInterval', 1000, 7 * 86_400_000, kind === 'reso-web-api' ? '1m' : '24h') ?? 0,
      country: this.optionalOneOf(r, at, 'country', ['US', 'CA'] as const),
      currency: this.optionalOneOf(r, at, 'currency', ['USD', 'CAD'] as const),
      profile: this.profile(r, at),
    };
    let spec: SourceSpec | undefined;
    if (kind === 'file' || kind === 'http') spec = this.snapshot(r, kind, common);
    else if (kind === 'reso-web-api') spec = this.reso(r, common);
    if (!kind) return undefined; // the other keys depend on the kind: do not list them all as unknown
    const allowed = [...this.used]
      .filter((p) => p.startsWith(`${at}.`) && !p.slice(at.length + 1).includes('.'))
      .map((p) => p.slice(at.length + 1));
    this.unknownKeys(r, at, allowed);
    return this.ok ? spec : undefined;
  }

  private deletesAgreeWithProfile(rule: DeleteRule, profileName: string | undefined): void {
    const profile = profileName === undefined ? undefined : this.o.profiles?.get(profileName);
    if (!profile) return;
    const p = `${this.at}.deletes`;
    for (const x of deleteRuleDisagreements(rule, profileName!, profile))
      this.expect(`${p}.${x.field}`, x.expected, x.received, x.fix);
  }

  private profile(r: Obj, at: string): string | undefined {
    const v = this.field(r, at, 'profile');
    if (v === undefined) return undefined;
    const known = this.o.profiles;
    if (typeof v === 'string' && (!known || known.has(v))) return v;
    this.expect(
      `${at}.profile`,
      known ? `one of the source profiles ${[...known.keys()].sort().join(', ')}` : 'a profile name',
      v,
      'name a profile in pipelines/profiles (or LISTFLOW_NORMALIZE_PROFILES_DIR), or add one.',
    );
    return undefined;
  }

  private snapshot(r: Obj, kind: 'file' | 'http', common: SourceCommon): SnapshotSource | undefined {
    const at = this.at;
    const uri = this.field(r, at, 'uri');
    const scheme = kind === 'file' ? 'file:' : 'https:';
    const okUri = typeof uri === 'string' && (kind === 'file' ? uri.startsWith('file://') : /^https?:\/\//.test(uri));
    if (!okUri)
      this.expect(
        `${at}.uri`,
        `a ${kind === 'file' ? 'file://' : 'http(s)://'} URI`,
        uri,
        `write the feed's URI, e.g. ${scheme}//...`,
      );
    else if (kind === 'http') this.url(r, at, 'uri');
    const format = this.oneOf(r, at, 'format', ['auto', 'json', 'ndjson', 'csv', 'reso_odata'] as const, 'auto');
    return okUri && format ? { ...common, kind, uri: uri as string, format } : undefined;
  }

  private reso(r: Obj, common: SourceCommon): ResoSource | undefined {
    const at = this.at;
    const resource = this.url(r, at, 'resource');
    const auth = this.auth(r);
    const filter = this.filter(r, at, 'filter');
    const initialFilter = this.filter(r, at, 'initialFilter');
    const tieBreak = this.oneOf(r, at, 'tieBreak', ['key', 'timestamp'] as const, 'key');
    const paging = this.oneOf(r, at, 'paging', ['next-link', 'cursor'] as const, 'next-link');
    const nextLinkEncoding = this.oneOf(r, at, 'nextLinkEncoding', ['standard', 'double'] as const, 'standard');
    const pageSize = this.int(r, at, 'pageSize', 1, 10_000);
    const selectRaw = this.field(r, at, 'select');
    const select =
      Array.isArray(selectRaw) && selectRaw.every((s) => typeof s === 'string' && /^[A-Za-z]+$/.test(s))
        ? (selectRaw as string[])
        : undefined;
    if (selectRaw !== undefined && !select)
      this.expect(
        `${at}.select`,
        'a list of field names',
        selectRaw,
        'list the fields to fetch, e.g. [ListingKey, ListPrice].',
      );
    const rateLimits = this.rateLimits(r);
    const deletes = this.deletes(r);
    if (deletes) this.deletesAgreeWithProfile(deletes, common.profile ?? this.o.defaultProfile);
    const media = this.media(r);
    if (select && deletes && media) {
      // Replication reads these fields of every record: a $select without them breaks the cursor or the rules.
      const needed = [
        'ListingKey',
        'ModificationTimestamp',
        deletes.kind === 'purge' ? undefined : deletes.field,
        media.changeTimestamp,
      ];
      const missing = needed.filter((f): f is string => f !== undefined && !select.includes(f));
      if (missing.length > 0) {
        this.expect(
          `${at}.select`,
          `a list that includes ${missing.join(', ')}`,
          select,
          `add ${missing.join(', ')}: replication reads them from every record.`,
        );
      }
    }
    if (
      !resource ||
      !auth ||
      !tieBreak ||
      !paging ||
      !nextLinkEncoding ||
      pageSize === undefined ||
      !rateLimits ||
      !deletes ||
      !media
    )
      return undefined;
    return {
      ...common,
      kind: 'reso-web-api',
      resource,
      auth,
      ...(filter ? { filter } : {}),
      ...(initialFilter ? { initialFilter } : {}),
      tieBreak,
      paging,
      nextLinkEncoding,
      pageSize,
      ...(select ? { select } : {}),
      rateLimits,
      deletes,
      media,
    };
  }

  private sub(r: Obj, key: string, fix: string): Obj | undefined {
    const v = this.field(r, this.at, key);
    if (isObj(v)) return v;
    this.expect(`${this.at}.${key}`, 'an object', v, fix);
    return undefined;
  }

  private auth(r: Obj): SourceAuth | undefined {
    const a = this.sub(
      r,
      'auth',
      'declare auth: { kind: oauth2, tokenUrl, clientIdEnv, clientSecretEnv } or { kind: bearer, tokenEnv }.',
    );
    if (!a) return undefined;
    const p = `${this.at}.auth`;
    const kind = this.oneOf(a, p, 'kind', ['oauth2', 'bearer', 'none'] as const);
    if (kind === 'oauth2') {
      this.unknownKeys(a, p, ['kind', 'tokenUrl', 'clientIdEnv', 'clientSecretEnv', 'scope']);
      const tokenUrl = this.url(a, p, 'tokenUrl');
      const clientIdEnv = this.envName(a, p, 'clientIdEnv');
      const clientSecretEnv = this.envName(a, p, 'clientSecretEnv');
      const scope = a.scope;
      if (scope !== undefined && typeof scope !== 'string')
        this.expect(`${p}.scope`, 'a string', scope, 'write the scope the token endpoint expects, or omit it.');
      if (!tokenUrl || !clientIdEnv || !clientSecretEnv) return undefined;
      return { kind, tokenUrl, clientIdEnv, clientSecretEnv, ...(typeof scope === 'string' ? { scope } : {}) };
    }
    if (kind === 'bearer') {
      this.unknownKeys(a, p, ['kind', 'tokenEnv']);
      const tokenEnv = this.envName(a, p, 'tokenEnv');
      return tokenEnv ? { kind, tokenEnv } : undefined;
    }
    if (kind === 'none') {
      this.unknownKeys(a, p, ['kind']);
      return { kind };
    }
    return undefined;
  }

  private rateLimits(r: Obj): ResoSource['rateLimits'] | undefined {
    if (r.rateLimits === undefined) {
      this.field(r, this.at, 'rateLimits');
      return {};
    }
    const l = this.sub(r, 'rateLimits', 'write rateLimits: { perSecond: 2, perHour: 7200, perDay: 40000 }.');
    if (!l) return undefined;
    const p = `${this.at}.rateLimits`;
    this.unknownKeys(l, p, ['perSecond', 'perHour', 'perDay']);
    const out: { perSecond?: number; perHour?: number; perDay?: number } = {};
    for (const [k, max] of [
      ['perSecond', 1000],
      ['perHour', 3_600_000],
      ['perDay', 86_400_000],
    ] as const) {
      if (l[k] === undefined) continue;
      const v = this.int(l, p, k, 1, max);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }

  private deletes(r: Obj): DeleteRule | undefined {
    const d = this.sub(
      r,
      'deletes',
      'declare how the source signals deletions: { kind: flag, field: MlgCanView }, { kind: status, field: StandardStatus, values: [Delete] } or { kind: purge, every: 24h }.',
    );
    if (!d) return undefined;
    const p = `${this.at}.deletes`;
    const kind = this.oneOf(d, p, 'kind', ['flag', 'status', 'purge'] as const);
    const fieldName = (dflt: string): string | undefined => {
      const v = d.field ?? dflt;
      if (typeof v === 'string' && /^[A-Za-z]+$/.test(v)) return v;
      this.expect(`${p}.field`, 'a field name', v, 'name the field that carries the deletion.');
      return undefined;
    };
    if (kind === 'flag') {
      this.unknownKeys(d, p, ['kind', 'field']);
      const field = fieldName('MlgCanView');
      return field ? { kind, field } : undefined;
    }
    if (kind === 'status') {
      this.unknownKeys(d, p, ['kind', 'field', 'values']);
      const field = fieldName('StandardStatus');
      const values = d.values ?? ['Delete'];
      if (!Array.isArray(values) || values.length === 0 || !values.every((v) => typeof v === 'string')) {
        this.expect(
          `${p}.values`,
          'a non-empty list of status values',
          values,
          'list the values that mean deleted, e.g. [Delete].',
        );
        return undefined;
      }
      return field ? { kind, field, values: values as string[] } : undefined;
    }
    if (kind === 'purge') {
      this.unknownKeys(d, p, ['kind', 'every']);
      const ms = this.duration(d, p, 'every', 60_000, 30 * 86_400_000, '24h');
      return ms === undefined ? undefined : { kind, everyMinutes: Math.round(ms / 60_000) };
    }
    return undefined;
  }

  private media(r: Obj): MediaRule | undefined {
    if (r.media === undefined) {
      this.field(r, this.at, 'media');
      return { mode: 'expand', bumpsModification: true };
    }
    const m = this.sub(r, 'media', 'write media: { mode: expand, changeTimestamp: PhotosChangeTimestamp }.');
    if (!m) return undefined;
    const p = `${this.at}.media`;
    this.unknownKeys(m, p, ['mode', 'changeTimestamp', 'bumpsModification']);
    const mode = this.oneOf(m, p, 'mode', ['expand', 'separate', 'none'] as const, 'expand');
    const ts = m.changeTimestamp;
    if (ts !== undefined && (typeof ts !== 'string' || !/^[A-Za-z]+$/.test(ts))) {
      this.expect(
        `${p}.changeTimestamp`,
        'a field name',
        ts,
        'name the field that changes with the photos, e.g. PhotosChangeTimestamp.',
      );
    }
    const bumps = m.bumpsModification ?? true;
    if (typeof bumps !== 'boolean')
      this.expect(
        `${p}.bumpsModification`,
        'true or false',
        bumps,
        'false when a photo change leaves ModificationTimestamp alone (PropTx).',
      );
    if (bumps === false && typeof ts !== 'string') {
      this.expect(
        `${p}.changeTimestamp`,
        'a field name when bumpsModification is false',
        ts,
        'photos then replicate on their own cursor over this field: name it (PhotosChangeTimestamp).',
      );
    }
    if (!mode || typeof bumps !== 'boolean') return undefined;
    return { mode, bumpsModification: bumps, ...(typeof ts === 'string' ? { changeTimestamp: ts } : {}) };
  }
}
