/**
 * The field readers of the sources file: each reads one value, records that the key is known, and reports a
 * problem (path, expected, received, fix) instead of throwing. Secrets are never echoed: a value that looks
 * like one is shown hidden. SourceReader (source-validation.ts) builds sources from them.
 */
import { FilterSyntaxError, parseFilter } from './odata-filter';
import { parseDuration } from './source-spec';

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export type Expect = (path: string, expected: string, received: unknown, fix: string) => void;

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

export class FieldReader {
  /** Paths read so far: the known keys, for the unknown-key check. */
  protected readonly used = new Set<string>();
  protected ok = true;
  constructor(
    protected readonly at: string,
    private readonly report: Expect,
  ) {}

  protected expect(path: string, expected: string, received: unknown, fix: string): void {
    this.ok = false;
    this.report(path, expected, received, fix);
  }

  protected field(obj: Obj, base: string, key: string): unknown {
    this.used.add(`${base}.${key}`);
    return obj[key];
  }

  protected unknownKeys(obj: Obj, base: string, allowed: readonly string[]): void {
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

  protected oneOf<T extends string>(
    obj: Obj,
    base: string,
    key: string,
    values: readonly T[],
    dflt?: T,
  ): T | undefined {
    const v = this.field(obj, base, key);
    if (v === undefined && dflt !== undefined) return dflt;
    if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T;
    this.expect(`${base}.${key}`, `one of ${values.join(', ')}`, v, `set ${key} to one of ${values.join(', ')}.`);
    return undefined;
  }

  protected optionalOneOf<T extends string>(obj: Obj, base: string, key: string, values: readonly T[]): T | undefined {
    if (obj[key] === undefined) {
      this.used.add(`${base}.${key}`);
      return undefined;
    }
    return this.oneOf(obj, base, key, values);
  }

  protected int(obj: Obj, base: string, key: string, min: number, max: number, dflt?: number): number | undefined {
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

  protected fraction(obj: Obj, base: string, key: string, dflt: number): number | undefined {
    const v = this.field(obj, base, key);
    if (v === undefined) return dflt;
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1) return v;
    this.expect(`${base}.${key}`, 'a number between 0 and 1', v, `give ${key} as a fraction such as 0.5 (half).`);
    return undefined;
  }

  protected duration(
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

  protected url(obj: Obj, base: string, key: string): string | undefined {
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

  protected envName(obj: Obj, base: string, key: string): string | undefined {
    const v = this.field(obj, base, key);
    // LISTFLOW_* is the settings' namespace: a worker refuses a LISTFLOW_ variable that is not a setting (so a
    // typo in a setting fails loudly), and would refuse the secret too.
    if (typeof v === 'string' && v.startsWith('LISTFLOW_')) {
      this.expect(
        `${base}.${key}`,
        'an environment variable name outside the LISTFLOW_ prefix',
        v,
        `LISTFLOW_* names are Listflow's settings, and a worker refuses one it does not know; use e.g. ${v.replace(/^LISTFLOW_/, '')}.`,
      );
      return undefined;
    }
    if (typeof v === 'string' && ENV_RE.test(v) && v.length <= 100) return v;
    const looksSecret = typeof v === 'string' && v.length >= 16 && !/\s/.test(v) && !ENV_RE.test(v);
    this.expect(
      `${base}.${key}`,
      'the name of an environment variable (A-Z, 0-9, _)',
      looksSecret ? '(hidden: it looks like a secret)' : v,
      looksSecret
        ? 'never write the secret itself: put it in an environment variable (a Kubernetes Secret) and write that variable name here.'
        : `name the variable that holds it, e.g. SOURCE_${key.replace(/Env$/, '').toUpperCase()}.`,
    );
    return undefined;
  }

  protected filter(obj: Obj, base: string, key: string): string | undefined {
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

  protected sub(r: Obj, key: string, fix: string): Obj | undefined {
    const v = this.field(r, this.at, key);
    if (isObj(v)) return v;
    this.expect(`${this.at}.${key}`, 'an object', v, fix);
    return undefined;
  }
}
