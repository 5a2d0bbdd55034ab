/**
 * Generates schemas/generated/types.ts from schemas/*.avsc, the single source of truth.
 *
 * - One TypeScript type per named Avro type; one entry per top-level .avsc file in `SchemaTypes`.
 * - Each top-level schema is also emitted self-contained (referenced named types inlined), because
 *   that is what gets registered under `<topic>-value` and what avsc parses.
 * - timestamp-millis decodes to Date (the runtime registers an avsc logical type for it).
 * - A field marked `"tsOptional": true` (it must have a default) is an optional property (`name?:`): a field
 *   added to a schema already in use, so code that builds records and predates it need not set it. avsc
 *   writes the default for an absent field and fills it in on decode, so readers always see a value.
 *
 * Run: `node scripts/gen-schemas.ts` (Node 24 strips the types). `--check` exits 1 when the file is stale;
 * a unit test does the same.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

type Avro = string | Avro[] | { [k: string]: unknown };
interface Named {
  type: string;
  name: string;
  namespace?: string;
  [k: string]: unknown;
}

const PRIMITIVES: Record<string, string> = {
  null: 'null',
  boolean: 'boolean',
  int: 'number',
  long: 'number',
  float: 'number',
  double: 'number',
  bytes: 'Buffer',
  string: 'string',
};

export function loadSchemaFiles(dir: string): Map<string, Named> {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.avsc'))
    .sort();
  const out = new Map<string, Named>();
  for (const f of files) {
    const text = readFileSync(join(dir, f), 'utf8');
    let parsed: Named;
    try {
      parsed = JSON.parse(text) as Named;
    } catch (e) {
      throw new Error(`schemas/${f} is not valid JSON: ${(e as Error).message}`);
    }
    if (`${parsed.name}.avsc` !== f)
      throw new Error(`schemas/${f} must define a type named ${f.slice(0, -5)}, found ${parsed.name}`);
    out.set(parsed.name, parsed);
  }
  return out;
}

function fullName(t: Named, ns: string | undefined): string {
  return t.name.includes('.') ? t.name : `${t.namespace ?? ns ?? ''}.${t.name}`.replace(/^\./, '');
}

/** Collects every named type defined anywhere in the files, by full name. */
function collectNamed(files: Map<string, Named>): Map<string, Named> {
  const named = new Map<string, Named>();
  const walk = (t: Avro, ns: string | undefined): void => {
    if (Array.isArray(t)) {
      for (const u of t) walk(u, ns);
      return;
    }
    if (typeof t !== 'object' || t === null) return;
    const o = t as Named;
    if (o.type === 'record' || o.type === 'enum' || o.type === 'fixed') {
      const fn = fullName(o, ns);
      named.set(fn, o);
      const inner = fn.includes('.') ? fn.slice(0, fn.lastIndexOf('.')) : undefined;
      if (o.type === 'record') for (const f of o['fields'] as { type: Avro }[]) walk(f.type, inner);
    } else if (o.type === 'array') walk(o['items'] as Avro, ns);
    else if (o.type === 'map') walk(o['values'] as Avro, ns);
  };
  for (const t of files.values()) walk(t, undefined);
  return named;
}

/** Returns `root` with references to named types defined in other files replaced by their definition (first use only). */
export function inline(root: Named, named: Map<string, Named>): Named {
  const defined = new Set<string>();
  const visit = (t: Avro, ns: string | undefined): Avro => {
    if (typeof t === 'string') {
      if (t in PRIMITIVES) return t;
      const fn = t.includes('.') ? t : `${ns}.${t}`;
      if (defined.has(fn)) return fn;
      const def = named.get(fn);
      if (!def) throw new Error(`unknown Avro type ${t} referenced in ${root.name}`);
      return visit(def, ns);
    }
    if (Array.isArray(t)) return t.map((u) => visit(u, ns));
    const o = { ...(t as Named) };
    if (o.type === 'record' || o.type === 'enum' || o.type === 'fixed') {
      const fn = fullName(o, ns);
      if (defined.has(fn)) return fn;
      defined.add(fn);
      o.namespace = fn.includes('.') ? fn.slice(0, fn.lastIndexOf('.')) : undefined;
      o.name = fn.slice(fn.lastIndexOf('.') + 1);
      if (o.type === 'record') {
        o['fields'] = (o['fields'] as { type: Avro }[]).map((f) => ({ ...f, type: visit(f.type, o.namespace) }));
      }
      return o;
    }
    if (o.type === 'array') o['items'] = visit(o['items'] as Avro, ns);
    if (o.type === 'map') o['values'] = visit(o['values'] as Avro, ns);
    return o;
  };
  return visit(root, undefined) as Named;
}

function tsType(t: Avro, ns: string | undefined): string {
  if (typeof t === 'string') {
    if (t in PRIMITIVES) return PRIMITIVES[t]!;
    return t.slice(t.lastIndexOf('.') + 1);
  }
  if (Array.isArray(t)) return t.map((u) => tsType(u, ns)).join(' | ');
  const o = t as Named;
  if (o['logicalType'] === 'timestamp-millis') return 'Date';
  if (o.type === 'record' || o.type === 'enum' || o.type === 'fixed') return o.name;
  if (o.type === 'array') return `${wrap(tsType(o['items'] as Avro, ns))}[]`;
  if (o.type === 'map') return `Record<string, ${tsType(o['values'] as Avro, ns)}>`;
  if (typeof o.type === 'string' && o.type in PRIMITIVES) return PRIMITIVES[o.type]!;
  throw new Error(`unsupported Avro type ${JSON.stringify(t)}`);
}
const wrap = (s: string): string => (s.includes('|') ? `(${s})` : s);

const docComment = (doc: unknown, indent: string): string =>
  typeof doc === 'string' ? `${indent}/** ${doc.replace(/\*\//g, '* /')} */\n` : '';

export function render(dir: string): string {
  const files = loadSchemaFiles(dir);
  const named = collectNamed(files);
  let out =
    '// Generated by scripts/gen-schemas.ts from schemas/*.avsc. Do not edit: change the .avsc and run\n' +
    '// `node scripts/gen-schemas.ts`. A unit test fails when this file is stale.\n\n';
  for (const [fn, t] of [...named.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const ns = fn.includes('.') ? fn.slice(0, fn.lastIndexOf('.')) : undefined;
    out += docComment(t['doc'], '');
    if (t.type === 'enum') {
      out += `export type ${t.name} = ${(t['symbols'] as string[]).map((s) => `'${s}'`).join(' | ')};\n`;
      out += `export const ${t.name}Values = [${(t['symbols'] as string[]).map((s) => `'${s}'`).join(', ')}] as const;\n\n`;
    } else if (t.type === 'fixed') {
      out += `export type ${t.name} = Buffer;\n\n`;
    } else {
      out += `export interface ${t.name} {\n`;
      for (const f of t['fields'] as {
        name: string;
        type: Avro;
        doc?: string;
        default?: unknown;
        tsOptional?: unknown;
      }[]) {
        if (f.tsOptional === true && !('default' in f))
          throw new Error(
            `${t.name}.${f.name} is tsOptional without a default: give it one (schema evolution needs it)`,
          );
        out += docComment(f.doc, '  ');
        out += `  ${f.name}${f.tsOptional === true ? '?' : ''}: ${tsType(f.type, ns)};\n`;
      }
      out += '}\n\n';
    }
  }
  const tops = [...files.keys()];
  out += '/** Top-level schemas (one per .avsc file), by name. */\nexport interface SchemaTypes {\n';
  for (const n of tops) out += `  ${n}: ${n};\n`;
  out += '}\n\nexport type SchemaName = keyof SchemaTypes;\n\n';
  out += `export const schemaNames: readonly SchemaName[] = [${tops.map((n) => `'${n}'`).join(', ')}];\n\n`;
  out += '/** Self-contained Avro schemas (references inlined), as registered in the schema registry. */\n';
  out += 'export const avroSchemas: Record<SchemaName, object> = {\n';
  for (const n of tops) out += `  ${n}: ${JSON.stringify(inline(files.get(n)!, named))},\n`;
  out += '};\n';
  return out;
}

export const generatedPath = (root: string): string => join(root, 'schemas', 'generated', 'types.ts');

// Entry point when run directly (Node 24 runs this file as an ES module after stripping types).
if (process.argv[1] && resolve(process.argv[1]).endsWith(join('scripts', 'gen-schemas.ts'))) {
  const root = resolve(process.argv[1], '..', '..');
  const text = render(join(root, 'schemas'));
  const target = generatedPath(root);
  if (process.argv.includes('--check')) {
    const current = readFileSync(target, 'utf8');
    if (current !== text) {
      console.error(`${target} is stale: run \`node scripts/gen-schemas.ts\``);
      process.exit(1);
    }
  } else {
    writeFileSync(target, text);
    console.log(`wrote ${target}`);
  }
}
