/**
 * The operator's recovery path, end to end through the real CLI: a deployment goes out with a bad setting,
 * messages dead-letter, the setting is fixed and the workers restarted, `listflow dlq redrive` sends the dead
 * letters back, and they flow through to the published view, once: a second redrive sends nothing.
 *
 * The misconfiguration: the images workers' LISTFLOW_IMAGES_BLOB_ROOT is a symlink to a volume that is not
 * mounted (the link's target does not exist). The worker starts (its startup sweep of `<root>/.incoming` finds
 * nothing to sweep: ENOENT), and then every photo write fails (ENOTDIR) with BLOBSTORE_UNAVAILABLE, which is
 * retriable: the listing is retried, then dead-lettered to listings.normalized.dlq with its original Avro
 * bytes, which is what makes it redrivable. (A root under a regular file, or an unreadable one, fails the
 * worker at startup instead, and the supervisor gives up: no dead letters. The tests may run as root, which
 * ignores permission bits, so a read-only directory would not fail at all.)
 *
 * (Not the ingest step's LISTFLOW_INGEST_FILE_ROOT: a job whose feed is outside the root is dead-lettered as
 * INGEST_FEED_FORBIDDEN with the job as JSON, not its original Avro bytes, and `dlq redrive` skips such
 * letters as not redrivable; the fix for that case is to submit the feed again.)
 */
import { randomBytes } from 'node:crypto';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { sampleListings } from '../../samples/generator';
import { writeSamplePhotos } from '../../samples/images';
import { type FeedSummary, writeSampleFeed } from '../../samples/writers';
import { AvroSerde, createRegistry } from '../../runtime/serde';
import type { Listing } from '../../schemas/generated/types';
import {
  freeBasePort,
  provision,
  cli,
  codesOf,
  dropTopics,
  kafka,
  publishedDocuments,
  REGISTRY_URL,
  ROOT,
  readAll,
  rowsForSources,
  sandbox,
  startWorkers,
  until,
  type Workers,
} from './pipeline-sandbox';

const tag = randomBytes(3).toString('hex');
const feedDir = join(ROOT, '.listflow', 'e2e', `redrive-feeds-${tag}`);
const box = sandbox(
  'e2e-redrive',
  {
    LISTFLOW_INGEST_FILE_ROOT: feedDir,
    LISTFLOW_IMAGES_FILE_ROOT: feedDir,
    LISTFLOW_NORMALIZE_ALLOW_FILE_PHOTO_URLS: 'true',
    // The correct setting; the first deployment overrides it with the broken one.
    LISTFLOW_IMAGES_BLOB_ROOT: join(feedDir, 'blobs'),
    LISTFLOW_SHUTDOWN_GRACE_MS: '10000',
  },
  // Sandbox only: two quick attempts instead of five with up to 30 s of backoff, so that the failing listings
  // reach the dead-letter topic in seconds. The policy's shape (retry, then dead-letter) is unchanged.
  { images: { retry: { maxAttempts: 2, initialBackoffMs: 200, maxBackoffMs: 1000 } } },
);
const source = `e2erd${tag}`;
const feedFile = join(feedDir, 'redrive.ndjson');
const brokenBlobRoot = join(feedDir, 'blobs-link');

let workers: Workers | undefined;
let feed: FeedSummary;

beforeAll(async () => {
  // Good photos only: every listing that normalizes has at least one photo the images step must store, so
  // with the broken blob root every one of them dead-letters and none reaches publish.
  const photoUrls = await writeSamplePhotos(join(feedDir, 'photos'), 6, 5000);
  // The first seed whose 30 records include normalize rejects, which the redrive must leave alone. The
  // generator is seeded, so this is the same feed every run.
  const opts = { count: 30, badRate: 0.1, photoUrls };
  let seed = 5000;
  while (![...sampleListings({ ...opts, seed })].some((r) => r.expected.stage === 'normalize')) seed++;
  feed = await writeSampleFeed({
    dir: feedDir,
    ...opts,
    seed,
    format: 'ndjson',
    name: 'redrive',
  });
  symlinkSync(join(feedDir, 'unmounted-volume', 'blobs'), brokenBlobRoot);
  await provision(box);
});

afterAll(async () => {
  await workers?.stop();
  await dropTopics(box);
});

interface LetterGroup {
  step: string;
  code: string;
  count: number;
}

async function dlqList(): Promise<{ total: number; groups: LetterGroup[] }> {
  const r = await cli(['dlq', 'list', '--json'], box.env, 120_000);
  if (r.code !== 0) throw new Error(`dlq list exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function redrive(): Promise<{
  redriven: number;
  selected: number;
  skippedInLedger: number;
  skippedNotRedrivable: number;
  byTopic: Record<string, number>;
}> {
  const r = await cli(['dlq', 'redrive', '--step', 'images', '--json'], box.env, 120_000);
  if (r.code !== 0) throw new Error(`dlq redrive exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Sum of the high watermarks of a sandbox topic: grows with every record written to it. */
async function endOffset(name: string): Promise<number> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(box.topic(name))).reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

test('redrive after fixing a bug moves the dead letters through to published', async () => {
  expect(feed.listings).toBeGreaterThan(10);
  expect(feed.raw - feed.listings).toBeGreaterThan(0);

  // 1. The broken deployment: the feed goes in, every listing dead-letters at images, nothing is published.
  workers = await startWorkers(box, await freeBasePort(box.pipeline.steps.length), {
    LISTFLOW_IMAGES_BLOB_ROOT: brokenBlobRoot,
  });
  const ingest = await cli(['ingest', feedFile, '--source', source, '--wait', '--json'], box.env, 600_000);
  // --wait follows every listing to published or a dead-letter topic, so everything has settled when it returns.
  if (ingest.code !== 0) throw new Error(`ingest exited ${ingest.code}: ${ingest.stderr}\n${workers.stderr()}`);
  const job = JSON.parse(ingest.stdout).jobs[0];
  expect(job.stages.images).toMatchObject({
    entered: feed.listings,
    output: 0,
    failed: feed.listings,
    reasons: { BLOBSTORE_UNAVAILABLE: feed.listings },
  });
  expect(job.published).toBe(0);
  const before = await dlqList();
  const images = before.groups.filter((g) => g.step === 'images');
  expect(images).toEqual([
    expect.objectContaining({ step: 'images', code: 'BLOBSTORE_UNAVAILABLE', count: feed.listings }),
  ]);
  // Every record of the feed is a dead letter now: ingest's rejects, normalize's, and images' (all the rest).
  expect(before.total).toBe(feed.total);
  expect(await rowsForSources([source])).toBe(0);
  expect(await readAll(box.topic('listings.published'))).toHaveLength(0);
  // The letters hold the original Listing bytes (Confluent wire format), which is what redrive sends back.
  const letters = await readAll(box.topic('listings.normalized.dlq'));
  expect(codesOf(letters)).toEqual({ BLOBSTORE_UNAVAILABLE: feed.listings });
  const serde = new AvroSerde(createRegistry({ url: REGISTRY_URL }));
  for (const l of letters) {
    const d = await serde.decode<Listing>(l.value!, 'Listing');
    expect(d.ok && d.value.id).toBe(l.key?.toString('utf8'));
  }

  // 2. The fix: stop the workers, start them again with the correct blob root, redrive the images letters.
  expect(await workers.stop()).toBe(0);
  workers = await startWorkers(box, await freeBasePort(box.pipeline.steps.length));
  const first = await redrive();
  expect(first).toMatchObject({
    selected: feed.listings,
    redriven: feed.listings,
    skippedInLedger: 0,
    skippedNotRedrivable: 0,
    byTopic: { [box.topic('listings.normalized')]: feed.listings },
  });
  // publish commits the PostgreSQL transaction before it writes the batch to the topic: wait for both.
  await until(
    'the redriven listings to be published',
    async () =>
      (await rowsForSources([source])) >= feed.listings && (await endOffset('listings.published')) >= feed.listings,
    180_000,
    () => workers?.stderr() ?? '',
  );
  expect(await rowsForSources([source])).toBe(feed.listings);
  const docs = await publishedDocuments(box);
  expect(docs.size).toBe(feed.listings);
  for (const doc of docs.values()) {
    const assets = (doc as { images: { status: string; variants: unknown[] }[] }).images;
    expect(assets.length).toBeGreaterThan(0);
    expect(assets.every((a) => a.status === 'OK' && a.variants.length === 3)).toBe(true);
  }

  // 3. Once only: a second redrive finds every letter in the ledger and sends nothing.
  const normalizedEnd = await endOffset('listings.normalized');
  const second = await redrive();
  expect(second).toMatchObject({ selected: feed.listings, redriven: 0, skippedInLedger: feed.listings });
  expect(await endOffset('listings.normalized')).toBe(normalizedEnd);
  expect(await rowsForSources([source])).toBe(feed.listings);
});
