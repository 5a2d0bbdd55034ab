/**
 * Config specs: typed fields that are parsed once at startup, documented by their own definition.
 *
 * A spec is a map of fields. Each field knows its type, default, description and example, which is
 * enough to parse a value, to explain a bad one, and to render the README's configuration table.
 * `parseConfig` rejects unknown keys, reports every problem at once and freezes the result.
 *
 * @example
 *   const spec = defineConfig({ concurrency: field.int({ min: 1, max: 256, default: 8, description: 'Jobs in flight per partition.' }) });
 *   const cfg = parseConfig(spec, { concurrency: '4' }, { where: 'resize config', envPrefix: 'LISTFLOW_RESIZE_' });
 */
import { ConfigError, invalidParameterMessage } from './errors';

export interface FieldSpec<T> {
  readonly type: string;
  readonly description: string;
  readonly default: T | undefined;
  readonly example: string;
  readonly secret: boolean;
  /**
   * The variable's whole name when it is not `<prefix><FIELD>`: a value several readers share under one name
   * (a database URL an operator and the CLI both read, `LISTFLOW_POSTGRES_URL`).
   */
  readonly env: string | undefined;
  /** Parses a raw value (a string from the environment, or a typed value from code) or returns an "expected" phrase. */
  parse(raw: unknown): { ok: true; value: T } | { ok: false; expected: string };
}

type Common<T> = { description: string; default?: T; example?: string; secret?: boolean; env?: string };

function makeField<T>(
  type: string,
  opts: Common<T>,
  exampleFallback: string,
  parse: FieldSpec<T>['parse'],
): FieldSpec<T> {
  return {
    type,
    description: opts.description,
    default: opts.default,
    example: opts.example ?? (opts.default !== undefined ? String(opts.default) : exampleFallback),
    secret: opts.secret ?? false,
    env: opts.env,
    parse,
  };
}

const fail = (expected: string) => ({ ok: false as const, expected });
const ok = <T>(value: T) => ({ ok: true as const, value });

export const field = {
  string(opts: Common<string> & { pattern?: RegExp; patternText?: string; minLength?: number }): FieldSpec<string> {
    const expected = opts.patternText ?? (opts.pattern ? `string matching ${opts.pattern}` : 'non-empty string');
    return makeField('string', opts, 'text', (raw) => {
      if (typeof raw !== 'string' || raw.length < (opts.minLength ?? 1)) return fail(expected);
      if (opts.pattern && !opts.pattern.test(raw)) return fail(expected);
      return ok(raw);
    });
  },
  int(opts: Common<number> & { min?: number; max?: number }): FieldSpec<number> {
    const min = opts.min ?? Number.MIN_SAFE_INTEGER;
    const max = opts.max ?? Number.MAX_SAFE_INTEGER;
    const expected =
      opts.min !== undefined && opts.max !== undefined
        ? `integer between ${min} and ${max}`
        : opts.min !== undefined
          ? `integer of at least ${min}`
          : 'integer';
    return makeField('integer', opts, String(opts.min ?? 1), (raw) => {
      const n = typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > max) return fail(expected);
      return ok(n);
    });
  },
  number(opts: Common<number> & { min?: number; max?: number }): FieldSpec<number> {
    const min = opts.min ?? -Infinity;
    const max = opts.max ?? Infinity;
    const expected = Number.isFinite(min) || Number.isFinite(max) ? `number between ${min} and ${max}` : 'number';
    return makeField('number', opts, '1', (raw) => {
      const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max) return fail(expected);
      return ok(n);
    });
  },
  boolean(opts: Common<boolean>): FieldSpec<boolean> {
    return makeField('boolean', opts, 'true', (raw) => {
      if (typeof raw === 'boolean') return ok(raw);
      if (raw === 'true' || raw === '1') return ok(true);
      if (raw === 'false' || raw === '0') return ok(false);
      return fail('one of true, false');
    });
  },
  enum<const V extends string>(values: readonly V[], opts: Common<V>): FieldSpec<V> {
    return makeField(values.join(' | '), opts, values[0] ?? '', (raw) =>
      typeof raw === 'string' && (values as readonly string[]).includes(raw)
        ? ok(raw as V)
        : fail(`one of ${values.join(', ')}`),
    );
  },
  /** Comma-separated list in the environment, or a string array in code. */
  list(opts: Common<string[]> & { allowEmpty?: boolean }): FieldSpec<string[]> {
    return makeField('comma-separated list', opts, 'a,b', (raw) => {
      const items =
        typeof raw === 'string'
          ? raw
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : raw;
      if (!Array.isArray(items) || !items.every((s) => typeof s === 'string'))
        return fail('comma-separated list of strings');
      if (!opts.allowEmpty && items.length === 0) return fail('non-empty comma-separated list');
      return ok(items as string[]);
    });
  },
  url(opts: Common<string> & { protocols: readonly string[] }): FieldSpec<string> {
    const expected = `URL with protocol ${opts.protocols.join(' or ')}`;
    return makeField('url', opts, `${opts.protocols[0]}//host`, (raw) => {
      if (typeof raw !== 'string') return fail(expected);
      try {
        const u = new URL(raw);
        return opts.protocols.includes(u.protocol) ? ok(raw) : fail(expected);
      } catch {
        return fail(expected);
      }
    });
  },
  /** Optional field without default: absent means undefined. */
  optional<T>(inner: FieldSpec<T>): FieldSpec<T | undefined> {
    return {
      ...inner,
      type: `${inner.type} (optional)`,
      parse: (raw) => (raw === undefined || raw === '' ? ok(undefined) : inner.parse(raw)),
    };
  },
};

export type ConfigFields = Record<string, FieldSpec<unknown>>;
export type ConfigOf<S extends ConfigFields> = { readonly [K in keyof S]: S[K] extends FieldSpec<infer T> ? T : never };

export interface ConfigSpec<S extends ConfigFields> {
  readonly fields: S;
  /** Cross-field rules; return a problem sentence or undefined. */
  readonly rules: ReadonlyArray<(cfg: ConfigOf<S>) => string | undefined>;
}

export function defineConfig<S extends ConfigFields>(
  fields: S,
  rules: ReadonlyArray<(cfg: ConfigOf<S>) => string | undefined> = [],
): ConfigSpec<S> {
  return { fields, rules };
}

/** `maxInFlight` -> `MAX_IN_FLIGHT` */
export const envName = (prefix: string, key: string): string =>
  prefix + key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

/** The variable a field is read from: its own `env`, else `<prefix><FIELD>`. */
export const fieldEnvName = (prefix: string, key: string, f: Pick<FieldSpec<unknown>, 'env'> | undefined): string =>
  f?.env ?? envName(prefix, key);

export interface ParseOptions {
  /** Names the config in messages: "resize config". */
  where: string;
  /** When the values come from the environment, the variable prefix, so messages name the variable to fix. */
  envPrefix?: string;
}

/**
 * Parses `raw` against `spec`: applies defaults, rejects unknown keys, collects every problem, then
 * freezes the result. Throws ConfigError whose message lists each problem with its fix.
 */
export function parseConfig<S extends ConfigFields>(
  spec: ConfigSpec<S>,
  raw: Record<string, unknown>,
  opts: ParseOptions,
): ConfigOf<S> {
  const problems: string[] = [];
  const label = (key: string) =>
    opts.envPrefix !== undefined ? fieldEnvName(opts.envPrefix, key, spec.fields[key]) : key;
  for (const key of Object.keys(raw)) {
    if (!Object.hasOwn(spec.fields, key)) {
      const known = Object.keys(spec.fields).map(label).join(', ');
      problems.push(`Unknown option ${label(key)}. Fix: remove it or use one of: ${known || '(none)'}.`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(spec.fields)) {
    const value = raw[key];
    if (value === undefined || value === '') {
      if (f.default !== undefined) {
        out[key] = f.default;
        continue;
      }
      const r = f.parse(undefined);
      if (r.ok) {
        out[key] = r.value;
        continue;
      }
      problems.push(`Missing required ${label(key)} (${f.description}). Fix: set it, e.g. ${label(key)}=${f.example}.`);
      continue;
    }
    const r = f.parse(value);
    if (r.ok) out[key] = r.value;
    else {
      const shown = f.secret ? '(hidden)' : value;
      problems.push(invalidParameterMessage(label(key), r.expected, shown, `set ${label(key)} to e.g. ${f.example}.`));
    }
  }
  if (problems.length === 0) {
    for (const rule of spec.rules) {
      const p = rule(out as ConfigOf<S>);
      if (p) problems.push(p);
    }
  }
  if (problems.length > 0) throw new ConfigError(opts.where, problems);
  return Object.freeze(out) as ConfigOf<S>;
}

/**
 * Picks the variables that belong to a spec from an environment: `<prefix><FIELD>` for each field.
 * Variables that start with the prefix but match no field are returned too, under their own name,
 * so that parseConfig rejects them as unknown (a typo never goes unnoticed).
 */
export function fromEnv<S extends ConfigFields>(
  spec: ConfigSpec<S>,
  env: NodeJS.ProcessEnv,
  prefix: string,
): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  const byEnv = new Map(Object.entries(spec.fields).map(([k, f]) => [fieldEnvName(prefix, k, f), k]));
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    const key = byEnv.get(name);
    if (key !== undefined) raw[key] = value;
    else if (name.startsWith(prefix)) raw[name.slice(prefix.length)] = value;
  }
  return raw;
}

/** Where an effective value came from. */
export type ValueSource = 'environment' | 'default' | 'file' | 'unset';

export interface ExplainedValue {
  readonly key: string;
  readonly variable: string;
  /** For display: secrets as `(secret, set)`, a URL's password masked, lists comma-separated. */
  readonly shown: string;
  readonly source: ValueSource;
  readonly secret: boolean;
}

const maskUrlPassword = (s: string): string => {
  try {
    const u = new URL(s);
    if (!u.password) return s;
    u.password = '***';
    return u.toString();
  } catch {
    return s;
  }
};

/**
 * Each field of a parsed config with its variable, its value for display (secrets never shown) and its
 * source: `environment` when `raw` (what fromEnv picked) holds it, else `default` or `unset`.
 */
export function explainConfig<S extends ConfigFields>(
  spec: ConfigSpec<S>,
  raw: Record<string, unknown>,
  parsed: ConfigOf<S>,
  envPrefix: string,
): ExplainedValue[] {
  return Object.entries(spec.fields).map(([key, f]) => {
    const value = (parsed as Record<string, unknown>)[key];
    const given = raw[key] !== undefined && raw[key] !== '';
    const source: ValueSource = given ? 'environment' : value === undefined ? 'unset' : 'default';
    const text = Array.isArray(value) ? value.join(',') : value === undefined ? '' : String(value);
    const shown = f.secret ? (value === undefined ? '(unset)' : '(secret, set)') : maskUrlPassword(text);
    return { key, variable: fieldEnvName(envPrefix, key, f), shown, source, secret: f.secret };
  });
}
