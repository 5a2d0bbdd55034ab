/** `listflow dry-run`: the command around runtime/dry-run.ts (the harness has its own tests). */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { invoke } from '../../test/support/cli-invoke';
import { UsageError } from '../command';
import { dryRunCommands, parseSets } from './dry-run';

const FEEDS = join(__dirname, '..', '..', 'test', 'fixtures', 'feeds');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'listflow-dry-run-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('writes one JSON document with outputs of the last step and every reject to stdout', async () => {
  const r = await invoke(dryRunCommands, [
    'dry-run',
    join(FEEDS, 'listings.json'),
    '--through',
    'ingest',
    '--source',
    'fx',
  ]);
  expect(r.error).toBeUndefined();
  expect(r.code).toBe(0);
  const doc = JSON.parse(r.stdout);
  expect(doc).toMatchObject({ source: 'fx', through: 'ingest', steps: ['ingest'] });
  expect(
    doc.outputs.filter((o: { topic: string }) => o.topic === 'listings.raw').map((o: { key: string }) => o.key),
  ).toEqual(['fx:J1', 'fx:J2']);
  expect(doc.rejects).toEqual([
    expect.objectContaining({ step: 'ingest', operator: 'ingest', code: 'INGEST_RECORD_NO_LISTING_KEY' }),
  ]);
  expect(r.stderr).toMatch(
    /^ingest +in +1 +out listings\.ingest-status=2 listings\.raw=2 +rejects 1 \(INGEST_RECORD_NO_LISTING_KEY=1\)$/m,
  );
});

test('--out writes the document to a file and prints the summary; --format reso-odata is accepted', async () => {
  const out = join(dir, 'odata.json');
  const r = await invoke(dryRunCommands, [
    'dry-run',
    join(FEEDS, 'odata', 'page-1.json'),
    '--format',
    'reso-odata',
    '--out',
    out,
  ]);
  expect(r.code).toBe(0);
  const doc = JSON.parse(await readFile(out, 'utf8'));
  expect(doc.through).toBe('price-changes');
  expect(doc.rejects.map((x: { code: string }) => x.code)).toEqual([
    'INGEST_RECORD_NO_LISTING_KEY',
    'NORMALIZE_STATUS_UNKNOWN',
    'NORMALIZE_STATUS_UNKNOWN',
    'NORMALIZE_STATUS_UNKNOWN',
  ]);
  expect(r.stdout).toContain(`0 outputs and 4 rejects written to ${out}`);
});

test.each([
  {
    name: 'missing file',
    argv: ['dry-run', join(FEEDS, 'missing.csv')],
    error: Error,
    message: /^Feed file .*missing\.csv does not exist or cannot be read\.$/,
  },
  { name: 'a directory', argv: ['dry-run', FEEDS], error: Error, message: /is not a file\.$/ },
  {
    name: 'unknown --through',
    argv: ['dry-run', join(FEEDS, 'listings.csv'), '--through', 'nope'],
    error: UsageError,
    message: /Unknown step "nope" for --through; expected one of ingest, normalize, images, publish, price-changes\./,
  },
  {
    name: 'unknown --format',
    argv: ['dry-run', join(FEEDS, 'listings.csv'), '--format', 'xml'],
    error: UsageError,
    message: /--format/,
  },
  {
    name: 'malformed --set',
    argv: ['dry-run', join(FEEDS, 'listings.csv'), '--set', 'nodot'],
    error: UsageError,
    message: /--set <operator>\.<setting>=<value>/,
  },
])('$name: one-line error', async ({ argv, error, message }) => {
  const r = await invoke(dryRunCommands, argv);
  expect(r.error).toBeInstanceOf(error);
  expect(r.error?.message).toMatch(message);
  expect(r.error?.message).not.toContain('\n');
  expect(r.error).not.toBeInstanceOf(TypeError); // main prints no stack for it
});

test('parseSets groups settings by operator', () => {
  expect(parseSets(['normalize.allowFilePhotoUrls=true', 'images.quality=50', 'images.variants=a:10,b:20'])).toEqual({
    normalize: { allowFilePhotoUrls: 'true' },
    images: { quality: '50', variants: 'a:10,b:20' },
  });
});
