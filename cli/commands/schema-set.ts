/**
 * The schemas `listflow schemas` works with: the built-in ones (schemas/generated/types.ts), or a candidate set
 * where `<Name>.avsc` files of a directory replace the built-in schema of that name (`--schemas-dir`).
 *
 * Named types are resolved by full name through one table, so a replaced Listing.avsc also changes every
 * schema that embeds a Listing (EnrichedListing, PublishedListing), exactly as regenerating types.ts would.
 * Each schema comes out self-contained (referenced types inlined at first use), which is what is registered.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import avro from 'avsc';
import { avroSchemas, type SchemaName, schemaNames } from '../../schemas/generated/types';
import { avroTypeOptions, readerType } from '../../runtime/serde';
import { UsageError } from '../command';

type AvroJson = string | AvroJson[] | { [k: string]: unknown };
interface NamedDef {
  type: string;
  name: string;
  namespace?: string;
  [k: string]: unknown;
}

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);
const NAMED_KINDS = new Set(['record', 'error', 'enum', 'fixed']);

export interface SchemaSet {
  /** `built-in` or `schemas-dir <dir>`. */
  readonly source: string;
  /** Names whose schema differs from the built-in one. */
  readonly changed: ReadonlySet<SchemaName>;
  /** The self-contained schema JSON (for built-in names, exactly what workers register). */
  json(name: SchemaName): object;
  /** The avsc type, with Listflow's logical types. */
  type(name: SchemaName): avro.Type;
}

const fullNameOf = (def: NamedDef, ns: string | undefined): string =>
  def.name.includes('.') ? def.name : [def.namespace ?? ns, def.name].filter(Boolean).join('.');
const spaceOf = (fullName: string): string | undefined =>
  fullName.includes('.') ? fullName.slice(0, fullName.lastIndexOf('.')) : undefined;

/** Adds every named type defined in `t` (at any depth) to `named`, by full name. */
function collectNamed(t: AvroJson, ns: string | undefined, named: Map<string, NamedDef>): void {
  if (Array.isArray(t)) {
    for (const u of t) collectNamed(u, ns, named);
    return;
  }
  if (typeof t !== 'object' || t === null) return;
  const o = t as NamedDef;
  if (NAMED_KINDS.has(o.type)) {
    const fn = fullNameOf(o, ns);
    named.set(fn, o);
    if (Array.isArray(o.fields))
      for (const f of o.fields as { type: AvroJson }[]) collectNamed(f.type, spaceOf(fn), named);
  } else if (o.type === 'array') collectNamed(o.items as AvroJson, ns, named);
  else if (o.type === 'map') collectNamed(o.values as AvroJson, ns, named);
}

/** `root` with every named type taken from `named` (so replacements apply at any depth), inlined at first use. */
function resolve(rootFullName: string, named: ReadonlyMap<string, NamedDef>): object {
  const defined = new Set<string>();
  const visitNamed = (fn: string, fallback?: NamedDef): AvroJson => {
    if (defined.has(fn)) return fn;
    const def = named.get(fn) ?? fallback;
    if (!def) throw new UsageError(`unknown Avro type ${fn} referenced from ${rootFullName}`);
    defined.add(fn);
    const space = spaceOf(fn);
    const out: NamedDef = { ...def, name: fn.slice(fn.lastIndexOf('.') + 1) };
    if (space) out.namespace = space;
    else delete out.namespace;
    if (Array.isArray(def.fields)) {
      out.fields = (def.fields as { type: AvroJson }[]).map((f) => ({ ...f, type: visit(f.type, space) }));
    }
    return out;
  };
  const visit = (t: AvroJson, ns: string | undefined): AvroJson => {
    if (typeof t === 'string') {
      if (PRIMITIVES.has(t)) return t;
      return visitNamed(t.includes('.') || !ns ? t : `${ns}.${t}`);
    }
    if (Array.isArray(t)) return t.map((u) => visit(u, ns));
    const o = t as NamedDef;
    if (NAMED_KINDS.has(o.type)) return visitNamed(fullNameOf(o, ns), o);
    if (o.type === 'array') return { ...o, items: visit(o.items as AvroJson, ns) };
    if (o.type === 'map') return { ...o, values: visit(o.values as AvroJson, ns) };
    return o;
  };
  return visitNamed(rootFullName) as object;
}

function builtInNamed(): Map<string, NamedDef> {
  const named = new Map<string, NamedDef>();
  for (const n of schemaNames) collectNamed(avroSchemas[n] as AvroJson, undefined, named);
  return named;
}

const rootName = (n: SchemaName): string => fullNameOf(avroSchemas[n] as NamedDef, undefined);

export function builtInSchemas(): SchemaSet {
  return {
    source: 'built-in',
    changed: new Set(),
    json: (n) => avroSchemas[n],
    type: (n) => readerType(n),
  };
}

/**
 * The built-in schemas with `<Name>.avsc` files of `dir` in place of the built-in schema of that name.
 * Throws a UsageError naming the file for unreadable JSON, unknown names and unparseable Avro.
 */
export function loadSchemasDir(dir: string): SchemaSet {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.avsc'))
      .sort();
  } catch (e) {
    throw new UsageError(`cannot read --schemas-dir ${dir}: ${(e as Error).message}`);
  }
  if (files.length === 0) throw new UsageError(`--schemas-dir ${dir} holds no <Name>.avsc files.`);
  const builtIn = builtInNamed();
  const candidate = new Map(builtIn);
  const roots = new Map<SchemaName, string>(schemaNames.map((n) => [n, rootName(n)]));
  for (const f of files) {
    const path = join(dir, f);
    const name = f.slice(0, -'.avsc'.length);
    if (!schemaNames.includes(name as SchemaName)) {
      throw new UsageError(
        `${path}: expected a file named after one of the pipeline's schemas (${schemaNames.join(', ')}) but received ${JSON.stringify(f)}.`,
      );
    }
    let parsed: NamedDef;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8')) as NamedDef;
    } catch (e) {
      throw new UsageError(`${path} is not valid JSON: ${(e as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || parsed.name === undefined) {
      throw new UsageError(`${path} must hold a named Avro type (a record), e.g. {"type":"record","name":"${name}"}.`);
    }
    const fn = fullNameOf(parsed, undefined);
    if (fn.slice(fn.lastIndexOf('.') + 1) !== name) {
      throw new UsageError(`${path} must define a type named ${name} but defines ${fn}.`);
    }
    roots.set(name as SchemaName, fn);
    collectNamed(parsed as AvroJson, undefined, candidate);
  }
  const json = new Map<SchemaName, object>();
  const types = new Map<SchemaName, avro.Type>();
  const changed = new Set<SchemaName>();
  for (const n of schemaNames) {
    const resolved = resolve(roots.get(n) ?? rootName(n), candidate);
    if (JSON.stringify(resolved) === JSON.stringify(resolve(rootName(n), builtIn))) {
      json.set(n, avroSchemas[n]);
      types.set(n, readerType(n));
      continue;
    }
    try {
      types.set(n, avro.Type.forSchema(resolved as avro.Schema, avroTypeOptions()));
    } catch (e) {
      throw new UsageError(`${n} from --schemas-dir ${dir} is not a valid Avro schema: ${(e as Error).message}`);
    }
    json.set(n, resolved);
    changed.add(n);
  }
  return {
    source: `schemas-dir ${dir}`,
    changed,
    json: (n) => json.get(n) ?? avroSchemas[n],
    type: (n) => types.get(n) ?? readerType(n),
  };
}
