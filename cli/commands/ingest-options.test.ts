/** `ingest --source NAME`: a declared source brings its profile, country and currency; options win. No broker. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toolOf } from '../../operators/tools';
import { UsageError } from '../command';
import { type DeclaredSources, type JobOptions, jobOptions, shippedSources } from './ingest-options';

const dir = mkdtempSync(join(tmpdir(), 'listflow-ingest-options-'));
const file = join(dir, 'sources.yaml');
writeFileSync(
  file,
  [
    'sources:',
    '  - { name: toronto, kind: file, uri: "file:///data/trreb.json", pollInterval: 24h, profile: proptx, country: CA, currency: CAD }',
    '  - { name: plain, kind: file, uri: "file:///data/plain.json", pollInterval: 24h }',
  ].join('\n'),
);
const loadSourcesFile = (f: string) => toolOf('sourceReplication').load(f);
const declared: DeclaredSources = () => loadSourcesFile(file);
const args = (values: Record<string, string>) => ({ positionals: ['feed.json'], values });

test.each<[string, Record<string, string>, JobOptions]>([
  [
    'a declared source brings its profile, country and currency',
    { source: 'toronto' },
    { source: 'toronto', profile: 'proptx', country: 'CA', currency: 'CAD' },
  ],
  [
    'an explicit --profile wins over the declared one',
    { source: 'toronto', profile: 'crea-ddf' },
    { source: 'toronto', profile: 'crea-ddf', country: 'CA', currency: 'CAD' },
  ],
  [
    'explicit --country and --currency win too',
    { source: 'toronto', country: 'US', currency: 'USD' },
    { source: 'toronto', profile: 'proptx', country: 'US', currency: 'USD' },
  ],
  [
    'a declared source that names no profile gets none (normalize uses the default)',
    { source: 'plain' },
    { source: 'plain', profile: null, country: null, currency: null },
  ],
  [
    'an undeclared source is a plain source id: no profile',
    { source: 'crea-ddf' },
    { source: 'crea-ddf', profile: null, country: null, currency: null },
  ],
])('%s', (_, values, expected) => {
  expect(jobOptions(args(values), declared, {})).toEqual(expected);
});

test.each([
  [{}, '--source is required'],
  [{ source: 'toronto', country: 'FR' }, 'Expected US or CA for --country but received "FR".'],
  [{ source: 'toronto', currency: 'EUR' }, 'Expected USD or CAD for --currency but received "EUR".'],
  [{ source: 'toronto', profile: 'nope' }, 'for --profile but received "nope"'],
])('%j is refused: %s', (values, message) => {
  expect(() => jobOptions(args(values), declared, {})).toThrow(UsageError);
  expect(() => jobOptions(args(values), declared, {})).toThrow(message);
});

test('a declared profile that does not exist names the source and its file', () => {
  const broken = join(dir, 'broken.yaml');
  writeFileSync(
    broken,
    'sources:\n  - { name: x, kind: file, uri: "file:///d.json", pollInterval: 1h, profile: nope }\n',
  );
  expect(() => jobOptions(args({ source: 'x' }), () => loadSourcesFile(broken), {})).toThrow(
    `for the profile of source x in ${broken} but received "nope"`,
  );
});

test('the shipped sources file declares the local sources with their profiles', () => {
  expect(jobOptions(args({ source: 'local-proptx' }), shippedSources, {}).profile).toBe('proptx');
});
