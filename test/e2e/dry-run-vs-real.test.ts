/**
 * `listflow dry-run` promises to show what a real run would publish. This suite holds it to that: one sample
 * feed (photos, broken photos and broken records), once through the dry run and once through the real
 * pipeline (`run --all` in a sandbox + `ingest --wait`), and the published documents, the PostgreSQL
 * documents and the reject reasons must agree listing by listing.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { writeBrokenPhotos } from '../../samples/local-set';
import { sampleListings } from '../../samples/generator';
import { writeSamplePhotos } from '../../samples/images';
import { type FeedSummary, writeSampleFeed } from '../../samples/writers';
import {
  freeBasePort,
  provision,
  cli,
  dropTopics,
  POSTGRES_URL,
  publishedDocuments,
  ROOT,
  sandbox,
  startWorkers,
  type Workers,
} from './pipeline-sandbox';

const tag = randomBytes(3).toString('hex');
const feedDir = join(ROOT, '.listflow', 'e2e', `dryreal-feeds-${tag}`);
const box = sandbox('e2e-dryreal', {
  // The same operator settings for both runs, given the way each reads them: the workers from their
  // environment, the dry run from the same environment (it layers LISTFLOW_<OPERATOR>_* under what it derives).
  LISTFLOW_INGEST_FILE_ROOT: feedDir,
  LISTFLOW_IMAGES_FILE_ROOT: feedDir,
  LISTFLOW_NORMALIZE_ALLOW_FILE_PHOTO_URLS: 'true',
  // Variant URIs are `<publicBaseUrl>/<ab>/<sha256>/<variant>`, independent of where the blobs are written.
  // Without a base URL they would be file:// URLs of each run's own blob root (the dry run always writes to
  // a scratch directory), so equal images would have different URIs.
  LISTFLOW_IMAGES_PUBLIC_BASE_URL: `https://photos.e2e.test/${tag}`,
  // A blob root of this run's own, so that no image is reused from an earlier run's manifest.
  LISTFLOW_IMAGES_BLOB_ROOT: join(feedDir, '..', `dryreal-blobs-${tag}`),
  LISTFLOW_SHUTDOWN_GRACE_MS: '10000',
});
const source = `e2edr${tag}`;
const feedFile = join(feedDir, 'dryreal.ndjson');
const outFile = join(box.dir, 'dry-run.json');

let workers: Workers | undefined;
let feed: FeedSummary;

interface DryRunDoc {
  outputs: { topic: string; key: string; value: Record<string, unknown> }[];
  rejects: { step: string; code: string }[];
}

beforeAll(async () => {
  const photosDir = join(feedDir, 'photos');
  const good = await writeSamplePhotos(photosDir, 8, 3000);
  const broken = await writeBrokenPhotos(photosDir, new URL(good.find((u) => u.endsWith('.jpg'))!).pathname);
  const photoUrls = [...good, ...Object.keys(broken)];
  // The first seed whose 30 records are rejected at both ingest and normalize, so that both reject paths are
  // compared. The generator is seeded, so this is the same feed every run.
  const opts = { count: 30, badRate: 0.2, photoUrls };
  const stagesOf = (seed: number) => new Set([...sampleListings({ ...opts, seed })].map((r) => r.expected.stage));
  let seed = 3000;
  while (!(stagesOf(seed).has('ingest') && stagesOf(seed).has('normalize'))) seed++;
  feed = await writeSampleFeed({
    dir: feedDir,
    ...opts,
    seed,
    format: 'ndjson',
    name: 'dryreal',
  });
  await provision(box);
});

afterAll(async () => {
  await workers?.stop();
  await dropTopics(box);
});

/**
 * The one field that legitimately differs: `publishedAt` is the publish step's clock at the moment it wrote
 * the document (the dry run's "now" vs the worker's). Nothing else in a PublishedListing is time-dependent:
 * RawListing.receivedAt and EnrichedListing.enrichedAt do not reach the published document, and
 * previousPrice is null in both because the source is new to both.
 */
const comparable = (doc: unknown): unknown => {
  const { publishedAt, ...rest } = doc as Record<string, unknown>;
  expect(typeof publishedAt).toBe('string');
  return rest;
};

const countBy = (items: readonly { step: string; code: string; count: number }[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const r of items) out[`${r.step} ${r.code}`] = (out[`${r.step} ${r.code}`] ?? 0) + r.count;
  return out;
};

test('dry-run and a real run produce the same published documents for the same feed', async () => {
  // 1. The dry run, through publish: without --through the last step is price-changes, and `outputs` would
  //    hold its PriceChanged records instead of the published documents.
  const dry = await cli(
    ['dry-run', feedFile, '--source', source, '--through', 'publish', '--out', outFile, '--json'],
    box.env,
    300_000,
  );
  if (dry.code !== 0) throw new Error(`dry-run exited ${dry.code}: ${dry.stderr}`);
  const doc = JSON.parse(readFileSync(outFile, 'utf8')) as DryRunDoc;
  const dryDocs = new Map(doc.outputs.map((o) => [o.key, o.value]));
  expect(doc.outputs.every((o) => o.topic === box.topic('listings.published'))).toBe(true);

  // The feed must exercise what is compared, or the comparison proves little.
  expect(feed.listings).toBeGreaterThan(10);
  expect(feed.total - feed.listings).toBeGreaterThan(0);
  expect(dryDocs.size).toBe(feed.listings);
  const images = [...dryDocs.values()].flatMap((d) => d.images as { status: string; variants: { uri: string }[] }[]);
  expect(images.filter((i) => i.status === 'OK').length).toBeGreaterThan(0);
  expect(images.filter((i) => i.status === 'FAILED').length).toBeGreaterThan(0);
  expect(images.flatMap((i) => i.variants).every((v) => v.uri.startsWith(`https://photos.e2e.test/${tag}/`))).toBe(
    true,
  );

  // 2. The real run.
  workers = await startWorkers(box, await freeBasePort(box.pipeline.steps.length));
  const real = await cli(['ingest', feedFile, '--source', source, '--wait', '--json'], box.env, 600_000);
  if (real.code !== 0) throw new Error(`ingest exited ${real.code}: ${real.stderr}\n${workers.stderr()}`);
  expect(JSON.parse(real.stdout).state).toBe('COMPLETED');

  // 3. Published documents, key by key: the topic...
  const realDocs = await publishedDocuments(box);
  expect([...realDocs.keys()].sort()).toEqual([...dryDocs.keys()].sort());
  for (const [key, value] of dryDocs) {
    expect({ key, doc: comparable(realDocs.get(key)) }).toEqual({ key, doc: comparable(value) });
  }
  // ...and the jsonb documents in PostgreSQL.
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    const rows = await client.query<{ id: string; document: unknown }>(
      'SELECT id, document FROM listings WHERE source = $1 ORDER BY id',
      [source],
    );
    expect(rows.rows.map((r) => r.id)).toEqual([...dryDocs.keys()].sort());
    for (const r of rows.rows) {
      expect({ key: r.id, doc: comparable(r.document) }).toEqual({ key: r.id, doc: comparable(dryDocs.get(r.id)) });
    }
  } finally {
    await client.end();
  }

  // 4. Rejects: the dry run's, by step and code, against the real run's dead letters as `dlq list` counts them.
  const list = await cli(['dlq', 'list', '--json'], box.env, 120_000);
  expect(list.code).toBe(0);
  const letters = JSON.parse(list.stdout) as { total: number; groups: { step: string; code: string; count: number }[] };
  const dryRejects = countBy(doc.rejects.map((r) => ({ ...r, count: 1 })));
  expect(countBy(letters.groups)).toEqual(dryRejects);
  expect(letters.total).toBe(feed.total - feed.listings);
  // What the generator says the broken records are rejected for, ingest's and normalize's.
  const byCode: Record<string, number> = {};
  for (const r of doc.rejects) byCode[r.code] = (byCode[r.code] ?? 0) + 1;
  expect(byCode).toEqual(feed.rejects);
});
