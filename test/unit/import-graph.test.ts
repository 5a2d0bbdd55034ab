/**
 * The import graph of runtime/, cli/ and k8s/ (product code and tests): no arrow from runtime/ into
 * operators/, and from cli/ and k8s/ only into the two seams, the registry (operators/index.ts) and the tools
 * the operators offer the CLI (operators/tools.ts, `toolOf`). So none of them depends on a specific operator:
 * a new operator is one folder and a line in the registry, and the runtime, the CLI and the manifests follow.
 *
 * Every import is seen: `import`, `import type`, `export … from`, `require()` and `import()` (TypeScript's own
 * scanner), and a path to operators/ built with join/resolve (how a module is loaded by path). Each allowed
 * arrow is listed with why; an arrow not listed fails, and so does an entry that no longer has its arrow.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

const ROOT = join(__dirname, '..', '..');
const SCANNED = ['runtime', 'cli', 'k8s'];
const REGISTRY = 'operators/index';
const TOOLS = 'operators/tools';

/** The CLI and the manifests read the operators' declarations through the registry; the runtime never does. */
const ALLOWED: Readonly<Record<string, { readonly to: readonly string[]; readonly why: string }>> = {
  'cli/context.ts': {
    to: [REGISTRY],
    why: "the CLI's settings and pipeline, validated against the registered operators",
  },
  'cli/commands/run.ts': {
    to: [REGISTRY],
    why: 'runs any registered operator as a worker, chosen by step id or operator name',
  },
  'cli/commands/schemas.ts': { to: [REGISTRY], why: "the pipeline's schema links, from the operators' ports" },
  'cli/commands/dry-run.ts': {
    to: [REGISTRY],
    why: 'the dry run of the built-in pipeline needs its operators (their dry-run stand-ins come with them)',
  },
  'cli/commands/admin-plan.test.ts': {
    to: [REGISTRY],
    why: "checks the built-in pipeline's schema links against the registered operators",
  },
  'cli/commands/ingest.ts': { to: [TOOLS], why: "toolOf('sourceProfiles'), toolOf('publishedListings')" },
  'cli/commands/listings.ts': { to: [TOOLS], why: "toolOf('publishedListings') and its types" },
  'cli/commands/profile.ts': { to: [TOOLS], why: "toolOf('feedReader'), toolOf('sourceProfiles')" },
  'cli/commands/blobs.ts': { to: [TOOLS], why: "toolOf('photoStore'), toolOf('publishedListings')" },
  'cli/web/command.ts': { to: [TOOLS], why: "toolOf('publishedListings') for the status page" },
  'cli/web/panels.ts': { to: [TOOLS], why: "the ListingCard type of toolOf('publishedListings').newest" },
  'k8s/deploy-needs.ts': {
    to: [REGISTRY],
    why: "the operators' `deploy` declarations (blob store, database secret, writable paths)",
  },
  'k8s/dashboards.ts': {
    to: [REGISTRY],
    why: "the operators' declared metric items, one panel each; which steps own their keys (`owns`, for the alerts too)",
  },
  'cli/commands/replay.ts': { to: [REGISTRY], why: 'refuses to replay an owning step (its workers commit no offsets)' },
  'cli/owner-io.ts': { to: [REGISTRY], why: "an owning step's output schemas, to write for a key as its worker does" },
  'cli/commands/ingest-options.ts': { to: [TOOLS], why: "toolOf('sourceReplication') for the declared sources" },
  'cli/commands/ingest-options.test.ts': { to: [TOOLS], why: 'the declared sources through the same tool' },
  'cli/commands/sources.ts': { to: [TOOLS], why: "toolOf('sourceReplication'): apply, list, sync, reset" },
  'cli/commands/sources-plan.ts': { to: [TOOLS], why: "the sourceReplication tool's types for the plans" },
  'cli/commands/sources-plan.test.ts': { to: [TOOLS], why: 'the plans over the same types' },
};

/** Arrows that are to go; each is listed so that the test passes meanwhile, and fails once the arrow is gone. */
const KNOWN_EXCEPTIONS: Readonly<Record<string, { readonly to: readonly string[]; readonly why: string }>> = {};

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return d.name === 'node_modules' || d.name === 'vendor' ? [] : filesUnder(p);
    return /\.(?:ts|mts|cts|js|mjs|cjs)$/.test(d.name) && !d.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** A path inside the repository, without its extension, `/`-separated; `operators` is the registry's index. */
function moduleOf(absolute: string): string {
  const rel = relative(ROOT, absolute)
    .split(sep)
    .join('/')
    .replace(/\.(?:ts|mts|cts|js|mjs|cjs)$/, '');
  return rel === 'operators' ? REGISTRY : rel;
}

/** A join/resolve call that builds a path into operators/ (a module loaded by path, not imported). */
const PATH_INTO_OPERATORS = /\b(?:join|resolve)\s*\([^)]*['"`](?:\.\.\/)*operators(?:\/[^'"`]*)?['"`]/;

/** The modules under operators/ that `text`, the source of the file at `file` (relative to the root), reaches. */
function operatorArrows(file: string, text: string): string[] {
  const from = dirname(join(ROOT, file));
  const arrows = ts
    .preProcessFile(text, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => moduleOf(resolve(from, spec)))
    .filter((m) => m.startsWith('operators/'));
  const built = text
    .split('\n')
    .flatMap((line, i) => (PATH_INTO_OPERATORS.test(line) ? [`path built on line ${i + 1}`] : []));
  return [...new Set([...arrows, ...built])];
}

const graph = SCANNED.flatMap((top) =>
  filesUnder(join(ROOT, top)).map((abs) => {
    const file = relative(ROOT, abs).split(sep).join('/');
    return { file, arrows: operatorArrows(file, readFileSync(abs, 'utf8')) };
  }),
);

describe('the scan sees every kind of arrow into operators/', () => {
  test.each<[string, string, string[]]>([
    ['runtime/x.ts', "import { a } from '../operators/normalize/config';", ['operators/normalize/config']],
    ['runtime/x.ts', "import type { A } from '../operators';", [REGISTRY]],
    ['runtime/x.ts', "import { operators } from '../operators/index';", [REGISTRY]],
    ['runtime/execute/x.ts', "export { b } from '../../operators/publish/memory-db';", ['operators/publish/memory-db']],
    ['runtime/x.ts', "const m = require('../operators/images');", ['operators/images']],
    ['runtime/x.ts', "const m = await import('../operators/ingest/index.js');", ['operators/ingest/index']],
    ['runtime/x.ts', "const p = join(__dirname, '..', 'operators', name);", ['path built on line 1']],
    ['cli/commands/x.ts', "import { toolOf } from '../../operators/tools';", [TOOLS]],
    ['runtime/x.ts', "import { c } from './operator';", []],
    ['runtime/x.ts', "import { d } from '../pipelines/listings';", []],
    ['runtime/x.ts', '// the registry (operators/index.ts) is handed in', []],
    ['runtime/x.ts', "const registry = join(root, 'dist', 'test', 'support', 'spin-operator.js');", []],
  ])('%s: %s', (file, text, arrows) => {
    expect(operatorArrows(file, text)).toEqual(arrows);
  });
});

describe('no arrow from runtime/, cli/ or k8s/ into operators/ but through the registry and the tools', () => {
  test('the scan read the three folders', () => {
    for (const top of SCANNED) expect(graph.filter((g) => g.file.startsWith(`${top}/`)).length).toBeGreaterThan(5);
  });

  test('every arrow is an allowed one (runtime/ has none)', () => {
    const unexpected = graph.flatMap(({ file, arrows }) => {
      const allowed = [...(ALLOWED[file]?.to ?? []), ...(KNOWN_EXCEPTIONS[file]?.to ?? [])];
      return arrows.filter((a) => !allowed.includes(a)).map((a) => `${file} -> ${a}`);
    });
    expect(unexpected).toEqual([]);
  });

  test('no allowed arrow starts in runtime/, and each ends at the registry or the tools', () => {
    for (const [file, { to }] of Object.entries(ALLOWED)) {
      expect(file.startsWith('runtime/')).toBe(false);
      for (const target of to) expect([REGISTRY, TOOLS]).toContain(target);
    }
  });

  test.each(Object.entries({ ...ALLOWED, ...KNOWN_EXCEPTIONS }))('%s still has its arrow (%j)', (file, { to }) => {
    const arrows = graph.find((g) => g.file === file)?.arrows ?? [];
    for (const target of to) expect(arrows).toContain(target);
  });
});

/**
 * The Kafka client seam (runtime/kafka-client/): only its adapters import a client library, each only its own,
 * so the runtime, the CLI, infra and the manifests talk to Kafka through the seam whichever client is chosen
 * (LISTFLOW_KAFKA_CLIENT). Unit tests may use a library to build fixtures; integration tests and benchmarks
 * live outside the scanned folders.
 */
const CLIENT_SCANNED = ['runtime', 'cli', 'infra', 'k8s'];
const CLIENT_LIBRARIES: Readonly<Record<string, RegExp>> = {
  kafkajs: /^runtime\/kafka-client\/kafkajs[^/]*\.ts$/,
  '@platformatic/kafka': /^runtime\/kafka-client\/platformatic[^/]*\.ts$/,
};

/** The client libraries `text` imports (any form: import, import type, export from, require, import()). */
function clientImports(text: string): string[] {
  const specs = ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
  return Object.keys(CLIENT_LIBRARIES).filter((lib) => specs.some((s) => s === lib || s.startsWith(`${lib}/`)));
}

describe('the scan sees every import of a Kafka client library', () => {
  test.each<[string, string[]]>([
    ["import { Kafka } from 'kafkajs';", ['kafkajs']],
    ["import type { Admin } from 'kafkajs';", ['kafkajs']],
    ["const m = require('kafkajs/src/producer/partitioners/default/murmur2');", ['kafkajs']],
    ["export type { Consumer } from '@platformatic/kafka';", ['@platformatic/kafka']],
    ["const p = await import('@platformatic/kafka');", ['@platformatic/kafka']],
    ["import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';", []],
    ["import type { KafkaClient } from './kafka-client';", []],
    ['// kafkajs has no background heartbeat', []],
  ])('%s', (text, libs) => {
    expect(clientImports(text)).toEqual(libs);
  });
});

describe('only the client adapters import a Kafka client library', () => {
  const files = CLIENT_SCANNED.flatMap((top) => filesUnder(join(ROOT, top)))
    .map((abs) => relative(ROOT, abs).split(sep).join('/'))
    .filter((file) => !file.endsWith('.test.ts'));

  test('every import of a client library is in its adapter', () => {
    const outside = files.flatMap((file) =>
      clientImports(readFileSync(join(ROOT, file), 'utf8'))
        .filter((lib) => !CLIENT_LIBRARIES[lib]!.test(file))
        .map((lib) => `${file} -> ${lib}`),
    );
    expect(outside).toEqual([]);
  });

  test('the kafkajs adapter is where kafkajs is imported (the scan is not vacuous)', () => {
    const importing = files.filter((file) => clientImports(readFileSync(join(ROOT, file), 'utf8')).includes('kafkajs'));
    expect(importing).toEqual(['runtime/kafka-client/kafkajs-log-level.ts', 'runtime/kafka-client/kafkajs.ts']);
  });
});
