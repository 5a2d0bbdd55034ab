/**
 * One name per setting: every LISTFLOW_* name the manifests, scripts, CLI, local platform, docs and tests use
 * is one something reads (a worker setting, an operator field, or OTHER_VARIABLES). A drifted name (the
 * publish database once read LISTFLOW_PUBLISH_POSTGRES_URL while every pod got LISTFLOW_POSTGRES_URL) fails here.
 *
 * Unit tests beside the code (runtime/*.test.ts, cli/**\/*.test.ts) and in test/unit/ (those of the runtime that
 * run the real operators) are not scanned: they spell names wrong on purpose to test how unknown names are refused.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { operators } from '../../operators';
import { parseOperatorConfig } from '../../runtime/run';
import { knownVariables, loadWorkerSettings } from '../../runtime/settings';
import { echoOperator } from '../support/echo-operator';
import { K8S, overlayNames, ROOT, renderKustomization } from './support';

jest.setTimeout(600_000);

/** A name, not a prefix (`LISTFLOW_IMAGES_*`, `LISTFLOW_<OPERATOR>_`) nor an error code. */
const NAME = /\bLISTFLOW_[A-Z0-9]+(?:_[A-Z0-9]+)*\b(?!_|\*|<)/g;
const namesIn = (text: string): string[] => [...new Set(text.match(NAME) ?? [])];

// The test operator of the integration tests reads LISTFLOW_ECHO_*; it is known where its tests run.
const known = knownVariables({ ...operators, [echoOperator.name]: echoOperator });

function filesUnder(dir: string, keep: (path: string) => boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path, keep));
    else if (keep(path)) out.push(path);
  }
  return out;
}

const isUnitTest = (p: string) =>
  p.endsWith('.test.ts') && (!p.includes(`${join(ROOT, 'test')}/`) || p.includes(`${join(ROOT, 'test', 'unit')}/`));
const SOURCES = [
  ...filesUnder(join(ROOT, 'scripts'), (p) => /\.(sh|ts)$/.test(p)),
  ...filesUnder(join(ROOT, 'cli'), (p) => p.endsWith('.ts') && !isUnitTest(p)),
  ...filesUnder(join(ROOT, 'infra'), (p) => /\.(ts|sh|xml|properties)$/.test(p) && !isUnitTest(p)),
  ...filesUnder(K8S, (p) => /\.(ts|ya?ml|md|json)$/.test(p) && !p.includes('/vendor/')),
  // Not this file: it names the old publish variable on purpose.
  ...filesUnder(
    join(ROOT, 'test'),
    (p) => /\.(ts|sh)$/.test(p) && !p.includes('/fixtures/') && !isUnitTest(p) && p !== __filename,
  ),
  join(ROOT, 'README.md'),
  join(ROOT, 'Dockerfile'),
  join(ROOT, 'package.json'),
];

const unknownIn = (names: readonly string[]) => names.filter((n) => !known.has(n));

test('every LISTFLOW_* name in the rendered manifests is one a worker, an operator or the CLI reads', () => {
  const found: string[] = [];
  for (const target of ['base', ...overlayNames().map((o) => `overlays/${o}`)]) {
    const text = JSON.stringify(renderKustomization(join(K8S, target)));
    for (const name of namesIn(text)) if (!known.has(name)) found.push(`k8s/${target}: ${name}`);
  }
  expect(found).toEqual([]);
});

test('every LISTFLOW_* name in the scripts, CLI, local platform, docs and tests is a known setting', () => {
  const found = SOURCES.flatMap((file) =>
    unknownIn(namesIn(readFileSync(file, 'utf8'))).map((n) => `${relative(ROOT, file)}: ${n}`),
  );
  expect(found).toEqual([]);
});

test('the scan would catch a drifted name', () => {
  expect(
    unknownIn(namesIn('env:\n  - name: LISTFLOW_PUBLISH_POSTGRES_URL\n  - name: LISTFLOW_POSTGRES_URL\n')),
  ).toEqual(['LISTFLOW_PUBLISH_POSTGRES_URL']);
  // Prefixes and placeholders are not names.
  expect(namesIn('LISTFLOW_IMAGES_* and LISTFLOW_<OPERATOR>_* and LISTFLOW_PRICE_CHANGES_')).toEqual([]);
});

test.each([
  ['the database URL is one name for publish and the CLI', 'LISTFLOW_POSTGRES_URL', 'publish config'],
  ['a worker setting', 'LISTFLOW_KAFKA_BROKERS', 'worker settings'],
  ['an operator setting', 'LISTFLOW_INGEST_FILE_ROOT', 'ingest config'],
  ['a local-platform variable', 'LISTFLOW_HOME', 'CLI, local platform or tests'],
])('%s: %s is read by %s', (_what, name, owner) => {
  expect(known.get(name)).toBe(owner);
});

test('the old publish name is gone: publish refuses it, naming the one to use', () => {
  expect(known.has('LISTFLOW_PUBLISH_POSTGRES_URL')).toBe(false);
  const env = { LISTFLOW_PUBLISH_POSTGRES_URL: 'postgres://db/listflow' };
  expect(() => parseOperatorConfig(operators.publish!, env)).toThrow(
    /Unknown option LISTFLOW_PUBLISH_POSTGRES_URL\. Fix: remove it or use one of: LISTFLOW_POSTGRES_URL,[\s\S]*Missing required LISTFLOW_POSTGRES_URL/,
  );
  // The one name is what every other reader skips, so a pod may carry it beside any operator.
  expect(() => loadWorkerSettings({ LISTFLOW_POSTGRES_URL: 'postgres://db/listflow' }, operators)).not.toThrow();
});
