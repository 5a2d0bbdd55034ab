/**
 * The dry run of the listings pipeline with the real operators, over the sample fixtures (test/fixtures/feeds)
 * and a generated sample feed: counts per stage and reason codes, derived from what the fixtures contain (see
 * the comments in the table). Here, not beside runtime/dry-run.ts, because the runtime's own tests run test
 * operators only (the runtime imports no operator; test/unit/import-graph.test.ts).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { operators } from '../../operators';
import { writeSampleFeeds } from '../../samples';
import pipeline from '../../pipelines/listings';
import type { IngestJobStatus, PublishedListing, RawListing } from '../../schemas/generated/types';
import { dryRun, type DryRunOptions, stepsThrough } from '../../runtime/dry-run';
import { MemoryPublishDb } from '../../operators/publish/memory-db';
import { feedJob, type FeedJobOptions } from '../../cli/commands/dry-run';

const FEEDS = join(__dirname, '..', 'fixtures', 'feeds');
const clock = { now: () => new Date('2026-02-01T00:00:00Z') };
let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'listflow-dry-run-test-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** What `listflow dry-run <feed>` runs: one IngestJob for the feed, its files read from the feed's folder. */
const run = (feed: string, { source, format, ...over }: Partial<DryRunOptions> & FeedJobOptions = {}) =>
  dryRun({
    pipeline,
    operators,
    inputs: [feedJob(feed, { clock, jobId: 'job-1', ...(source ? { source } : {}), ...(format ? { format } : {}) })],
    filesDir: dirname(feed),
    clock,
    scratchDir: join(scratch, 'blobs'),
    ...over,
  });

const countsOf = (r: Awaited<ReturnType<typeof run>>) =>
  Object.fromEntries(r.summary.map((s) => [s.step, { in: s.records, rejects: s.rejectsByCode }]));

describe('fixture feeds through the whole pipeline', () => {
  test.each([
    {
      // C1 (quoted multi-line remarks) and C3 parse; "C2,Closed,300000" has 3 of 5 fields; the 4th row has
      // an empty ListingKey. None has a PropertyType, so normalize rejects both records it gets.
      feed: 'listings.csv',
      raw: ['C1', 'C3'],
      ingest: { INGEST_RECORD_UNPARSEABLE: 1, INGEST_RECORD_NO_LISTING_KEY: 1 },
      normalize: { NORMALIZE_PROPERTY_TYPE_UNKNOWN: 2 },
    },
    {
      // J1 and J2; the third element has no ListingKey. No PropertyType anywhere.
      feed: 'listings.json',
      raw: ['J1', 'J2'],
      ingest: { INGEST_RECORD_NO_LISTING_KEY: 1 },
      normalize: { NORMALIZE_PROPERTY_TYPE_UNKNOWN: 2 },
    },
    {
      // N1 and N3 (key trimmed); line 2 is cut-off JSON, line 4 an array; the blank line is skipped.
      // No StandardStatus, which normalize checks first.
      feed: 'listings.ndjson',
      raw: ['N1', 'N3'],
      ingest: { INGEST_RECORD_UNPARSEABLE: 2 },
      normalize: { NORMALIZE_STATUS_UNKNOWN: 2 },
    },
    {
      // Two pages through @odata.nextLink: O1, O2, O3, and one record without a key on page 2.
      feed: 'odata/page-1.json',
      raw: ['O1', 'O2', 'O3'],
      ingest: { INGEST_RECORD_NO_LISTING_KEY: 1 },
      normalize: { NORMALIZE_STATUS_UNKNOWN: 3 },
    },
  ])('$feed', async ({ feed, raw, ingest, normalize }) => {
    const r = await run(join(FEEDS, feed), { source: 'fx' });
    expect(r.steps).toEqual(['ingest', 'normalize', 'images', 'publish', 'price-changes']);
    expect(countsOf(r)).toEqual({
      ingest: { in: 1, rejects: ingest },
      normalize: { in: raw.length, rejects: normalize },
      images: { in: 0, rejects: {} },
      publish: { in: 0, rejects: {} },
      'price-changes': { in: 0, rejects: {} },
    });
    expect(r.topics.get('listings.raw')?.map((x) => x.key)).toEqual(raw.map((k) => `fx:${k}`));
    expect(r.outputs).toEqual([]);
    // Every reject names its stage, and the ingest ones carry the dead letter's detail.
    const ingestRejects = Object.values(ingest).reduce((a, b) => a + b, 0);
    expect(r.rejects.map((x) => x.step)).toEqual([
      ...Array(ingestRejects).fill('ingest'),
      ...Array(raw.length).fill('normalize'),
    ]);
    for (const x of r.rejects.filter((y) => y.step === 'ingest')) {
      expect(x.detail).toMatchObject({ jobId: 'job-1', source: 'fx' });
      expect(x.message).toMatch(/^Job job-1: record \d+ /);
      expect(typeof x.payload).toBe('string');
    }
    for (const x of r.rejects.filter((y) => y.step === 'normalize')) {
      expect(x).toMatchObject({ kind: 'permanent', attempts: 1, input: { topic: 'listings.raw' } });
      expect(x.detail.field).toBeDefined();
    }
  });
});

test('--through ingest stops there and returns what ingest wrote, Avro round-tripped', async () => {
  const r = await run(join(FEEDS, 'listings.json'), { through: 'ingest', source: 'fx' });
  expect(r.steps).toEqual(['ingest']);
  expect(r.outputs.map((o) => [o.topic, o.key])).toEqual([
    ['listings.ingest-status', 'job-1'],
    ['listings.raw', 'fx:J1'],
    ['listings.raw', 'fx:J2'],
    ['listings.ingest-status', 'job-1'],
  ]);
  const last = r.outputs[3]!.value as IngestJobStatus;
  expect(last).toMatchObject({ state: 'COMPLETED', records: 2, rejects: 1 });
  const j2 = r.outputs[2]!.value as RawListing;
  expect(j2.receivedAt).toEqual(clock.now()); // timestamp-millis comes back as a Date, as from Kafka
  expect(JSON.parse(j2.payload)).toEqual({
    ListingKey: 'J2',
    StandardStatus: 'Pending',
    ListPrice: '$1,250,000',
    City: 'Toronto',
  });
  expect(r.outputs[1]!.headers['listflow.trace-id']).toBe('listings.ingest-jobs-0-0');
});

test('a feed that does not exist fails the ingest job (FAILED status and a reject), like a worker', async () => {
  const r = await run(join(scratch, 'nope.ndjson'), { through: 'normalize' });
  expect(r.rejects).toEqual([
    expect.objectContaining({ step: 'ingest', code: 'INGEST_FEED_NOT_FOUND', kind: 'permanent' }),
  ]);
  const status = r.topics.get('listings.ingest-status')!.map((s) => (s.value as IngestJobStatus).state);
  expect(status).toEqual(['RUNNING', 'FAILED']);
});

test('a generated sample feed goes through to published documents; publish writes to the stand-in only', async () => {
  const dir = join(scratch, 'sample');
  const feeds = await writeSampleFeeds({ dir, seed: 11, count: 40, formats: ['csv'], photos: 2, badRate: 0.25 });
  const summary = feeds.csv;
  const db = new MemoryPublishDb();
  const r = await run(fileURLToPath(summary.uri), {
    through: 'publish',
    source: 'mls',
    set: { normalize: { allowFilePhotoUrls: true } },
    standIns: { publish: () => ({ db }) },
  });
  expect(r.through).toBe('publish');
  const byStep = Object.fromEntries(r.summary.map((s) => [s.step, s]));
  expect(byStep.ingest!.outputs['listings.raw']).toBe(summary.raw);
  expect(byStep.normalize!.outputs['listings.normalized']).toBe(summary.listings);
  expect(byStep.images!.outputs['listings.enriched']).toBe(summary.listings);
  expect(r.outputs).toHaveLength(summary.listings);
  const codes: Record<string, number> = {};
  for (const x of r.rejects) codes[x.code] = (codes[x.code] ?? 0) + 1;
  expect(codes).toEqual(summary.rejects);
  expect(summary.listings).toBeLessThan(summary.total); // the feed really has broken records

  const docs = r.outputs.map((o) => o.value as PublishedListing);
  expect(docs.every((d) => d.publishedAt.getTime() === clock.now().getTime() && d.previousPrice === null)).toBe(true);
  expect(r.outputs.map((o) => o.key)).toEqual(docs.map((d) => d.listing.id));
  expect(db.listings().map((x) => x.id)).toEqual(docs.map((d) => d.listing.id).sort());
  // Photos were really fetched and rendered into the dry run's blob store.
  const ok = docs.flatMap((d) => d.images).filter((i) => i.status === 'OK');
  expect(ok.length).toBeGreaterThan(0);
  for (const v of ok.flatMap((i) => i.variants)) expect(existsSync(fileURLToPath(v.uri))).toBe(true);
  expect(r.scratchDir).toBe(join(scratch, 'blobs'));
});

describe('config and topology errors', () => {
  test('an unknown setting fails like a worker config', async () => {
    await expect(run(join(FEEDS, 'listings.json'), { set: { images: { colour: 'red' } } })).rejects.toThrow(
      /Invalid images config \(dry run\):\n {2}- Unknown option LISTFLOW_IMAGES_COLOUR/,
    );
  });
  test('environment variables of an operator are read as a worker reads them', async () => {
    const r = await run(join(FEEDS, 'listings.json'), {
      through: 'normalize',
      env: { LISTFLOW_IMAGES_QUALITY: '55', LISTFLOW_NORMALIZE_ALLOW_FILE_PHOTO_URLS: 'true' },
    });
    expect(r.configs.normalize).toEqual({ allowFilePhotoUrls: true });
    expect(r.configs.images).toBeUndefined();
  });
  test('an unknown --through names the steps', () => {
    expect(() => stepsThrough(pipeline, 'nope')).toThrow(
      /Unknown operator or step "nope". Fix: use one of sources, ingest, normalize/,
    );
  });
});
