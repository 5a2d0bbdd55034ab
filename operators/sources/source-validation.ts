/**
 * Validation of a parsed sources document: every problem found in one pass, each naming the field path, the
 * value received (never a secret: a secret-looking value is shown hidden) and a fix.
 */
import { invalidParameterMessage } from '../../runtime/errors';
import { type DeleteRule, deleteRuleDisagreements } from './deletes';
import { type Expect, FieldReader, isObj, type Obj } from './field-reader';
import { DEFAULT_CAPABILITIES, type ServerCapabilities } from './query';
import type {
  FeedVolume,
  MediaRule,
  ResoSource,
  SnapshotSource,
  SourceAuth,
  SourceCommon,
  SourceSpec,
  SourcesProblem,
  ValidateOptions,
} from './source-spec';

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const NAME_MAX = 40;
const K8S_NAME_RE = /^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/;
/** A snapshot may delete at most half of the listings its source holds unless the source says otherwise. */
export const DEFAULT_MAX_DELETE_FRACTION = 0.5;

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

/** Reads one source entry, reporting each problem with its path. */
class SourceReader extends FieldReader {
  constructor(
    at: string,
    private readonly raw: unknown,
    report: Expect,
    private readonly o: ValidateOptions,
  ) {
    super(at, report);
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
    // The records of one transaction: a large snapshot is committed in chunks of this many (snapshot.ts).
    const pageSize = this.int(r, at, 'pageSize', 1, 10_000, 1000);
    // How much of what the source holds one snapshot may delete: past it the snapshot is refused (snapshot-guard.ts).
    const maxDeleteFraction = this.fraction(r, at, 'maxDeleteFraction', DEFAULT_MAX_DELETE_FRACTION);
    const volume = kind === 'file' ? this.feedVolume(r) : undefined;
    return okUri && format && pageSize !== undefined && maxDeleteFraction !== undefined
      ? { ...common, kind, uri: uri as string, format, pageSize, maxDeleteFraction, ...(volume ? { volume } : {}) }
      : undefined;
  }

  /** `volume: { configMap: NAME }` or `{ persistentVolumeClaim: NAME }`: what a deploy mounts at the feed's folder. */
  private feedVolume(r: Obj): FeedVolume | undefined {
    if (r.volume === undefined) {
      this.field(r, this.at, 'volume');
      return undefined;
    }
    const fix = 'write volume: { configMap: NAME } or { persistentVolumeClaim: NAME }, the object that holds the feed.';
    const v = this.sub(r, 'volume', fix);
    if (!v) return undefined;
    const p = `${this.at}.volume`;
    const keys = Object.keys(v);
    const key = keys[0];
    if (keys.length !== 1 || (key !== 'configMap' && key !== 'persistentVolumeClaim')) {
      this.expect(p, 'exactly one of configMap, persistentVolumeClaim', v, fix);
      return undefined;
    }
    const name = this.field(v, p, key);
    if (typeof name !== 'string' || !K8S_NAME_RE.test(name) || name.length > 253) {
      this.expect(`${p}.${key}`, 'a Kubernetes object name (lowercase letters, digits, "-" and ".")', name, fix);
      return undefined;
    }
    return key === 'configMap' ? { configMap: name } : { persistentVolumeClaim: name };
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
    const capabilities = this.capabilities(r);
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
      !media ||
      !capabilities
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
      capabilities,
    };
  }

  /**
   * `capabilities: { count, orderDescending }`, each true unless the server lacks it (both OData 4 query
   * options). A `ge`-tie source's quiet-poll probe needs both (quiet-probe.ts); without them its quiet polls
   * re-read the tie at the cursor, ceil(tie / pageSize) requests.
   */
  private capabilities(r: Obj): ServerCapabilities | undefined {
    if (r.capabilities === undefined) {
      this.field(r, this.at, 'capabilities');
      return DEFAULT_CAPABILITIES;
    }
    const c = this.sub(
      r,
      'capabilities',
      'write capabilities: { count: true, orderDescending: true }, false for what the server refuses.',
    );
    if (!c) return undefined;
    const p = `${this.at}.capabilities`;
    this.unknownKeys(c, p, ['count', 'orderDescending']);
    const fixes = {
      count: 'false when the server refuses $count=true (no @odata.count).',
      orderDescending: 'false when the server refuses $orderby=ModificationTimestamp desc.',
    } as const;
    const out = { ...DEFAULT_CAPABILITIES };
    let ok = true;
    for (const k of ['count', 'orderDescending'] as const) {
      const v = c[k] ?? DEFAULT_CAPABILITIES[k];
      if (typeof v === 'boolean') out[k] = v;
      else {
        this.expect(`${p}.${k}`, 'true or false', v, fixes[k]);
        ok = false;
      }
    }
    return ok ? out : undefined;
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
