/**
 * normalize -> images -> publish, the real operators in worker processes on the real broker, schema registry
 * and PostgreSQL: 500 listings with 3 photos each (generated JPEG/PNG files behind file:// URLs inside the
 * images operator's file root, a few of them broken in known ways). The images worker is killed with SIGKILL
 * mid-run and started again. Afterwards the published view holds exactly the listings, the blob store
 * exactly one set of variants per distinct good photo (and one media index entry per good photo URL), and only the broken photos are FAILED assets, with
 * their reason codes: the crash and the replay it causes leave no duplicate row and no extra stored file.
 * Topics, consumer groups, the listing source and the PostgreSQL schema are unique per run.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { prng, sampleListings, writeSamplePhotos } from '../../samples';
import type { EnrichedListing, ImageAsset, PublishedListing, RawListing } from '../../schemas/generated/types';
import * as fx from '../fixtures/images/fixtures';
import { connectedKafka, scratchDir } from '../support/kafka-suite';
import {
  allCommitted,
  createPipelineTopics,
  scratchPgSchema,
  startStepWorker,
  testListingsPipeline,
  whileWorkersRun,
} from '../support/pipeline-workers';
import { produceRecords, startReader, uniqueName, type WorkerProcess, waitFor } from '../support/streams';

const LISTINGS = 500;
const PHOTOS_PER_LISTING = 3;
const GOOD_PHOTOS = 600; // fewer than the 1,500 references: some photos are shared by listings
const VARIANTS = ['thumb', 'card', 'full'];
const SEED = 4242;

const broker = connectedKafka();
const scratch = scratchDir('itest-images-');
const pgScratch = scratchPgSchema('itest_images');
const schema = pgScratch.name;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Broken {
  readonly url: string;
  readonly code: string;
}

/** Broken photos, one per way a photo can fail, each with the reason code the images operator must give. */
async function brokenPhotos(photoRoot: string, outside: string): Promise<Broken[]> {
  const b = join(photoRoot, 'broken');
  mkdirSync(b, { recursive: true });
  mkdirSync(outside, { recursive: true });
  const files: [string, Buffer | null, string][] = [
    ['truncated.jpg', await fx.truncatedJpeg(), 'IMAGE_CORRUPT'],
    ['empty.jpg', fx.zeroBytes(), 'IMAGE_CORRUPT'],
    ['text.jpg', fx.textNamedJpg(), 'IMAGE_UNSUPPORTED'],
    ['bomb.png', fx.pngBomb(), 'IMAGE_TOO_LARGE'],
    ['missing.jpg', null, 'IMAGE_FETCH_FAILED'],
  ];
  const out: Broken[] = [];
  for (const [name, bytes, code] of files) {
    const path = join(b, name);
    if (bytes) writeFileSync(path, bytes);
    out.push({ url: pathToFileURL(path).href, code });
  }
  // A perfectly good photo, but outside the images operator's file root.
  const escaped = join(outside, 'elsewhere.jpg');
  writeFileSync(escaped, await fx.photoJpeg(160, 120));
  out.push({ url: pathToFileURL(escaped).href, code: 'IMAGE_BLOCKED_URL' });
  return out;
}

/** Every file under `root`, relative to it. */
function filesUnder(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(root, join(d.parentPath, d.name)));
}

test('500 listings x 3 photos through normalize, images (killed -9 mid-run) and publish: exact rows, files and failures', async () => {
  const started = Date.now();
  const photoRoot = join(scratch.path, 'photos');
  const blobRoot = join(scratch.path, 'blobs');
  const good = await writeSamplePhotos(join(photoRoot, 'good'), GOOD_PHOTOS, SEED);
  const broken = await brokenPhotos(photoRoot, join(scratch.path, 'outside'));
  const brokenCode = new Map(broken.map((b) => [b.url, b.code]));
  const shaOf = new Map(good.map((u) => [u, sha256(readFileSync(fileURLToPath(u)))]));

  // Listings, each with 3 distinct photos; every 40th (from the 8th) has one broken photo in second place.
  const source = uniqueName('itest').replace('-', '');
  const rnd = prng(SEED);
  const photosOf = new Map<string, string[]>();
  const records: { key: string; value: RawListing }[] = [];
  let i = 0;
  for (const s of sampleListings({ seed: SEED, count: LISTINGS, badRate: 0 })) {
    expect(s.expected.stage).toBe('ok');
    const urls = new Set<string>();
    while (urls.size < PHOTOS_PER_LISTING) urls.add(good[Math.floor(rnd() * good.length)]!);
    const photos = [...urls];
    if (i % 40 === 7) photos[1] = broken[Math.floor(i / 40) % broken.length]!.url;
    const listingKey = String(s.record.ListingKey);
    const id = `${source}:${listingKey}`;
    photosOf.set(id, photos);
    const record = {
      ...s.record,
      Media: photos.map((url, j) => ({ MediaURL: url, Order: j + 1, MediaCategory: 'Photo' })),
    };
    records.push({
      key: id,
      value: {
        jobId: 'itest-images',
        source,
        listingKey,
        position: i,
        receivedAt: new Date(),
        defaultCountry: null,
        defaultCurrency: null,
        payload: JSON.stringify(record),
      },
    });
    i++;
  }
  const brokenUses = [...photosOf.values()].flat().filter((u) => brokenCode.has(u));
  expect(new Set(brokenUses)).toEqual(new Set(brokenCode.keys())); // every kind of breakage is exercised
  const distinctGood = new Set(
    [...photosOf.values()]
      .flat()
      .filter((u) => !brokenCode.has(u))
      .map((u) => shaOf.get(u)!),
  );

  const p = testListingsPipeline(scratch.path);
  await createPipelineTopics(broker.admin, p);
  const enriched = await startReader<EnrichedListing>(broker.kafka, p.topics.enriched, 'EnrichedListing');
  const published = await startReader<PublishedListing>(broker.kafka, p.topics.published, 'PublishedListing');
  const dlqs = await Promise.all(
    ['normalize', 'images', 'publish'].map((s) => startReader<never>(broker.kafka, p.dlq(s))),
  );
  await produceRecords(broker.kafka, p.topics.raw, 'RawListing', records);

  const imagesEnv = {
    LISTFLOW_IMAGES_FILE_ROOT: photoRoot,
    // This test checks the filesystem store's files after a kill -9, whatever store the platform's env names
    // (the S3 store has test/integration/s3-blob-store.test.ts).
    LISTFLOW_IMAGES_BLOB_STORE: 'file',
    LISTFLOW_IMAGES_PUBLIC_BASE_URL: '',
    LISTFLOW_IMAGES_BLOB_ROOT: blobRoot,
    LISTFLOW_IMAGES_CONCURRENCY: '2',
  };
  const normalize = startStepWorker(p, 'normalize', { LISTFLOW_NORMALIZE_ALLOW_FILE_PHOTO_URLS: 'true' });
  const publish = startStepWorker(p, 'publish', {
    LISTFLOW_POSTGRES_URL: pgScratch.url,
    LISTFLOW_PUBLISH_POOL_SIZE: '2',
  });
  const killed = startStepWorker(p, 'images', imagesEnv);
  let images: WorkerProcess = killed;
  const distinctEnriched = () => new Set(enriched.records.map((r) => r.key)).size;
  const rowCount = async () =>
    Number(
      (await pgScratch.db.query(`SELECT count(*) AS n FROM ${schema}.listings WHERE source = $1`, [source])).rows[0].n,
    );

  let atKill = -1;
  let restartedAt = 0;
  try {
    await whileWorkersRun(
      () => [normalize, images, publish],
      async () => {
        // Kill -9 once some, but not all, enriched listings exist.
        expect(await waitFor(() => distinctEnriched() >= 60, 180_000, 100)).toBe(true);
        killed.child.kill('SIGKILL');
        await killed.exited;
        atKill = distinctEnriched();
        restartedAt = Date.now();
        images = startStepWorker(p, 'images', imagesEnv);

        const done = await waitFor(
          async () =>
            (await rowCount()) >= LISTINGS &&
            (await allCommitted(broker.admin, p, 'normalize', p.topics.raw)) &&
            (await allCommitted(broker.admin, p, 'images', p.topics.normalized)) &&
            (await allCommitted(broker.admin, p, 'publish', p.topics.enriched)),
          240_000,
          1000,
        );
        if (!done) {
          console.log(`not done: rows ${await rowCount()}, enriched ${distinctEnriched()}`);
          for (const w of [normalize, images, publish]) console.log(w.output().slice(-3000));
        }
        expect(done).toBe(true);
        expect(await waitFor(() => new Set(published.records.map((r) => r.key)).size >= LISTINGS, 30_000)).toBe(true);
      },
    );
  } finally {
    await Promise.all([enriched.stop(), published.stop(), ...dlqs.map((d) => d.stop())]);
  }
  expect(killed.child.signalCode).toBe('SIGKILL');
  expect(atKill).toBeGreaterThan(0);
  expect(atKill).toBeLessThan(LISTINGS);

  // Nothing was dead-lettered anywhere: bad photos fail assets, not listings.
  expect(dlqs.map((d) => d.records.length)).toEqual([0, 0, 0]);

  // Every image asset ever emitted (the replay's repeats included): OK for good photos, FAILED with the
  // expected code for broken ones, in photo order.
  const checkAssets = (id: string, assets: readonly ImageAsset[]) => {
    const want = photosOf.get(id)!;
    expect(assets.map((a) => a.sourceUrl)).toEqual(want);
    for (const a of assets) {
      const code = brokenCode.get(a.sourceUrl);
      if (code) {
        expect({ url: a.sourceUrl, status: a.status, code: a.reasonCode }).toEqual({
          url: a.sourceUrl,
          status: 'FAILED',
          code,
        });
        expect(a.variants).toEqual([]);
      } else {
        expect({ url: a.sourceUrl, status: a.status, sha256: a.sha256 }).toEqual({
          url: a.sourceUrl,
          status: 'OK',
          sha256: shaOf.get(a.sourceUrl),
        });
        expect(a.variants.map((v) => v.name).sort()).toEqual([...VARIANTS].sort());
      }
    }
  };
  for (const r of enriched.records) checkAssets(r.key!, r.value!.images);
  expect(new Set(enriched.records.map((r) => r.key))).toEqual(new Set(photosOf.keys()));

  // PostgreSQL: exactly one row per listing, and the documents carry the same assets.
  const rows = await pgScratch.db.query<{ id: string; document: PublishedListing }>(
    `SELECT id, document FROM ${schema}.listings WHERE source = $1`,
    [source],
  );
  expect(rows.rows.length).toBe(LISTINGS);
  expect(new Set(rows.rows.map((r) => r.id))).toEqual(new Set(photosOf.keys()));
  const failedInDb = rows.rows.flatMap((r) => r.document.images.filter((a) => a.status === 'FAILED'));
  expect(failedInDb.map((a) => a.sourceUrl).sort()).toEqual([...brokenUses].sort());
  for (const r of rows.rows) {
    checkAssets(r.id, r.document.images);
    // Every variant a published document points at is a stored file.
    for (const a of r.document.images) for (const v of a.variants) expect(existsSync(fileURLToPath(v.uri))).toBe(true);
  }
  expect(Number((await pgScratch.db.query(`SELECT count(*) AS n FROM ${schema}.listings`)).rows[0].n)).toBe(LISTINGS);

  // The blob store: exactly the variants and the manifest of each distinct good photo, nothing else. A
  // kill -9 can strand a half-written temp file, but only in the incoming folder, and only the killed worker's.
  const files = filesUnder(blobRoot);
  const variantFiles = files.filter((f) => /^[0-9a-f]{2}\/[0-9a-f]{64}\/(thumb|card|full)\.webp$/.test(f));
  const manifests = files.filter((f) => /^[0-9a-f]{2}\/[0-9a-f]{64}\/manifest\.json$/.test(f));
  const temps = files.filter((f) => /^\.incoming\/\d+-[0-9a-f]+\.tmp$/.test(f));
  // The media index: one entry per good photo URL (these photos have no MediaKey, so the URL names them).
  const mediaEntries = files.filter((f) => /^media\/[0-9a-f]{2}\/[0-9a-f]{64}\.json$/.test(f));
  const goodUrls = new Set([...photosOf.values()].flat().filter((u) => !brokenCode.has(u)));
  expect(mediaEntries.length).toBe(goodUrls.size);
  expect(files.length).toBe(variantFiles.length + manifests.length + temps.length + mediaEntries.length);
  expect(variantFiles.length).toBe(distinctGood.size * VARIANTS.length);
  expect(new Set(variantFiles.map((f) => f.split('/')[1]))).toEqual(distinctGood);
  expect(new Set(manifests.map((f) => f.split('/')[1]))).toEqual(distinctGood);
  expect(temps.filter((f) => !f.startsWith(`.incoming/${killed.child.pid}-`))).toEqual([]);

  console.log(
    `images+publish: ${LISTINGS} listings, ${distinctGood.size} distinct good photos -> ${variantFiles.length} variant files, ` +
      `${brokenUses.length} broken photo uses FAILED; killed at ${atKill}/${LISTINGS} enriched, ` +
      `${enriched.records.length} enriched messages, ${temps.length} temp file(s) stranded by the kill; ` +
      `recovered in ${Date.now() - restartedAt} ms, total ${Date.now() - started} ms`,
  );
});
