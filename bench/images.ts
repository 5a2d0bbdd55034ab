/**
 * npm run bench:images: the images operator on the runtime against a bare sharp loop, side by side in one run
 * on the same photos.
 *
 * Photos: BENCH_IMAGES (default 24, rounded up to a multiple of 3) generated 12 MP photo-like JPEGs
 * (4000x3000, quality 90), written to a temporary directory by a child process, so that generating them does
 * not inflate this process's RSS. Variants: thumb 320, card 800, full 1600, WebP quality 80 effort 2 (the
 * operator's defaults). Both contenders use the same best settings, from sharp's performance notes: one
 * image per core at a time (BENCH_CONCURRENCY, default = cores), libvips threads per image 1, sharp's
 * operation cache off, libuv's pool >= concurrency (UV_THREADPOOL_SIZE, set below before anything uses it).
 *   (a) baseline: a bare sharp loop written here: read the file, decode once with shrink-on-load to the
 *       widest variant, encode the three variants from those pixels, write them to the store (after the photo
 *       leaves the limit, as the operator does);
 *   (b) contender: the images operator (operators/images) running on the runtime (runtime/worker.ts), with its
 *       real services (file:// fetcher, the blob store, worker-wide image limit), consuming Listings of
 *       3 photos from Kafka at the images step's concurrency (4) and producing EnrichedListings. Timed from its
 *       first photo fetch to the last EnrichedListing acknowledged, so joining the group is not counted;
 *   (c) only with BENCH_NAIVE=1: one full decode per variant, to show what decode-once saves.
 * Store (BENCH_STORE): s3 (default): both write through the S3 blob store to the local platform's S3Proxy
 * (settings from `infra status --json`, each contender under its own prefix, so neither finds the other's
 * objects); file: both write through the filesystem blob store, each under its own temporary directory.
 * Prints images/s of each, the ratio b/a (target >= 0.9) and each one's peak RSS (target < 1 GiB).
 * One run each: a photo costs about a second of CPU, so the runs are long enough to be stable.
 * Production preloads jemalloc (Dockerfile); without it, glibc's allocator may show a higher RSS here.
 */
import { availableParallelism } from 'node:os';

// libuv's pool runs sharp's jobs and fs calls; size it before anything uses it.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, availableParallelism() + 2));

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import pLimit from 'p-limit';
import sharp from 'sharp';
import { platformEndpoints, platformLayout } from '../infra/layout';
import { removeLocalObjects } from '../infra/s3proxy';
import { type BlobStore, openBlobStore, parseBlobStore } from '../operators/images/blob-store/index';
import { fromEnv, parseConfig } from '../runtime/config';
import type { EnrichedListing } from '../schemas/generated/types';
import images from '../operators/images/index';
import { imagesConfig, parseVariants } from '../operators/images/config';
import { dhashOfRaw } from '../operators/images/dhash';
import type { ImagesServices } from '../operators/images/process';
import { sha256Hex } from '../operators/images/process';
import { renderVariantsDecodingEach } from '../operators/images/variants';
import { photoJpeg } from '../test/fixtures/images/fixtures';
import { createTopics, produceRecords, readTopic, testKafka, uniqueName } from '../test/support/streams';
import { benchListing } from './fixtures';
import { deleteTopics, fmtRate, mib, PeakRss, report, silentLogger, startWorker, table, topicSize } from './harness';

const COUNT = Math.ceil(Number(process.env.BENCH_IMAGES ?? 24) / 3) * 3;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? availableParallelism());
const STEP_CONCURRENCY = 4; // the images step's concurrency in pipelines/listings.ts
const VARIANTS = parseVariants(['thumb:320', 'card:800', 'full:1600']);
const QUALITY = 80;
const EFFORT = 2;
const STORE = process.env.BENCH_STORE ?? 's3';
if (STORE !== 's3' && STORE !== 'file') throw new Error(`BENCH_STORE must be s3 or file, not ${STORE}`);
const RUN = `bench-${Date.now().toString(36)}`;
const rss = new PeakRss();

interface Result {
  readonly name: string;
  readonly rate: number;
  readonly seconds: number;
  readonly rss: number;
}

/** Child-process mode: writes the photos and exits (its memory is returned to the system with it). */
async function generate(dir: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    writeFileSync(
      join(dir, `p${String(i).padStart(4, '0')}.jpg`),
      await photoJpeg(4000, 3000, { seed: i + 1, quality: 90 }),
    );
  }
}

async function timed(name: string, fn: () => Promise<number | undefined>): Promise<Result> {
  rss.reset();
  const t0 = performance.now();
  const measured = await fn(); // seconds, when the contender times itself
  const seconds = measured ?? (performance.now() - t0) / 1000;
  const r = { name, rate: COUNT / seconds, seconds, rss: rss.value };
  console.log(`${name}: ${r.rate.toFixed(2)} images/s (${seconds.toFixed(1)} s), peak RSS ${mib(r.rss)}`);
  return r;
}

/**
 * The settings both contenders store with: the local S3Proxy's (as a worker of `npm run local` gets them, the
 * environment winning), under this run's prefix `<RUN>/<who>`; or a directory under the run's temporary folder.
 */
function storeSettings(who: string, dir: string): Record<string, unknown> {
  if (STORE === 'file') return { blobStore: 'file', blobRoot: join(dir, who) };
  const env = { ...platformEndpoints(platformLayout()), ...process.env };
  // The SDK's credential chain reads the process environment, as in a worker.
  process.env.AWS_ACCESS_KEY_ID ??= env.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY ??= env.AWS_SECRET_ACCESS_KEY;
  const s3 = fromEnv(imagesConfig, env, 'LISTFLOW_IMAGES_');
  const base = String(s3.blobStore ?? 's3://listflow/variants').replace(/\/+$/, '');
  return {
    ...Object.fromEntries(Object.entries(s3).filter(([k]) => k.startsWith('s3') || k === 'publicBaseUrl')),
    blobStore: `${base}/${RUN}/${who}`,
  };
}

const benchConfig = (extra: Record<string, unknown>) =>
  parseConfig(
    imagesConfig,
    {
      concurrency: CONCURRENCY,
      quality: QUALITY,
      effort: EFFORT,
      vipsThreads: 1,
      variants: VARIANTS.map((v) => `${v.name}:${v.width}`),
      ...extra,
    },
    { where: 'bench' },
  );

/** (a) The baseline: decode once (shrink-on-load), three WebP variants, stored once the photo is rendered. */
async function bareLoop(files: readonly string[], store: BlobStore): Promise<undefined> {
  const limit = pLimit(CONCURRENCY);
  await Promise.all(
    files.map(async (f) => {
      const { sha, variants } = await limit(async () => {
        const input = await readFile(f);
        const { data, info } = await sharp(input, { failOn: 'error', autoOrient: true })
          .resize({ width: VARIANTS[VARIANTS.length - 1]!.width, withoutEnlargement: true })
          .toColourspace('srgb')
          .raw()
          .toBuffer({ resolveWithObject: true });
        const raw = { width: info.width, height: info.height, channels: info.channels };
        const encoded: { name: string; webp: Buffer }[] = [];
        for (const v of VARIANTS) {
          let p = sharp(data, { raw });
          if (v.width < info.width) p = p.resize({ width: v.width });
          encoded.push({ name: v.name, webp: await p.webp({ quality: QUALITY, effort: EFFORT }).toBuffer() });
        }
        await dhashOfRaw({ data, ...raw }); // the operator stores a dHash per photo too
        return { sha: sha256Hex(input), variants: encoded };
      });
      await Promise.all(variants.map((v) => store.putVariant(sha, `${v.name}.webp`, v.webp)));
    }),
  );
  return undefined;
}

/** (b) The contender: the images operator on the runtime, Listings in, EnrichedListings out. */
async function operatorOnRuntime(files: readonly string[], photoDir: string, dir: string): Promise<number> {
  const kafka = testKafka('bench-images');
  const admin = kafka.admin();
  await admin.connect();
  const input = uniqueName('bench-images-in');
  const output = uniqueName('bench-images-out');
  const topics = [input, output, `${input}.dlq`];
  try {
    await createTopics(admin, Object.fromEntries(topics.map((t) => [t, 1])));
    const listings = [];
    for (let i = 0; i < files.length; i += 3) {
      const photos = files.slice(i, i + 3).map((f, order) => ({ url: pathToFileURL(f).href, order, caption: null }));
      const l = benchListing(i / 3, photos);
      listings.push({ key: l.id, value: l });
    }
    await produceRecords(kafka, input, 'Listing', listings);

    const config = benchConfig({ ...storeSettings('operator', dir), fileRoot: photoDir });
    const real = (await images.services!(config, silentLogger())) as ImagesServices;
    let firstFetch = 0;
    const services: ImagesServices = {
      ...real,
      fetcher: {
        fetch: (url, signal) => {
          firstFetch ||= performance.now();
          return real.fetcher.fetch(url, signal);
        },
      },
    };
    const worker = await startWorker({
      input,
      inputSchema: 'Listing',
      outputs: { enriched: { topic: output, schema: 'EnrichedListing' } },
      operator: images,
      operatorConfig: config,
      services,
      concurrency: STEP_CONCURRENCY,
      partitions: 1,
      timeoutMs: 600_000,
    });
    let last = performance.now();
    let seen = 0;
    while (seen < listings.length) {
      const n = await topicSize(admin, output);
      if (n > seen) {
        seen = n;
        last = performance.now();
      }
      if (performance.now() - last > 300_000)
        throw new Error(`images: only ${seen} of ${listings.length} listings out`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (last - firstFetch) / 1000;
    await worker.stop('bench done');
    const out = await readTopic<EnrichedListing>(kafka, output, {
      schema: 'EnrichedListing',
      until: (rs) => rs.length >= listings.length,
      timeoutMs: 60_000,
    });
    const assets = out.flatMap((r) => r.value?.images ?? []);
    const bad = assets.filter((a) => a.status !== 'OK');
    if (assets.length !== files.length || bad.length > 0) {
      throw new Error(
        `operator: ${assets.length} assets, ${bad.length} failed (${bad[0]?.reasonCode} ${bad[0]?.reason})`,
      );
    }
    return seconds;
  } finally {
    await deleteTopics(admin, topics);
    await admin.disconnect();
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === '--generate') return generate(process.argv[3]!, Number(process.argv[4]));
  sharp.cache(false);
  sharp.concurrency(1);
  const dir = mkdtempSync(join(tmpdir(), 'listflow-bench-images-'));
  try {
    const photos = join(dir, 'photos');
    mkdirSync(photos);
    console.log(
      `images bench: ${COUNT} photos of 4000x3000, store ${STORE === 's3' ? `S3 (${String(storeSettings('bare', dir).blobStore)})` : 'file'}, image concurrency ${CONCURRENCY}, UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE}, libvips threads per image 1, SIMD ${sharp.simd()}`,
    );
    const g = spawnSync(process.execPath, [__filename, '--generate', photos, String(COUNT)], { stdio: 'inherit' });
    if (g.status !== 0) throw new Error('generating the photos failed');
    const files = readdirSync(photos)
      .sort()
      .map((f) => join(photos, f));
    const bytes = files.reduce((n, f) => n + statSync(f).size, 0);
    console.log(`generated ${files.length} photos (${mib(bytes)})`);

    // The bare loop's store, opened as the operator opens its own (one S3 client, or the directory).
    const bareStore = await openBlobStore(benchConfig(storeSettings('bare', dir)), silentLogger());
    const warmStore = await openBlobStore(benchConfig(storeSettings('warm-up', dir)), silentLogger());
    // Warm-up, not timed: libvips' first use (codecs, thread pool) and the store's first connections would
    // otherwise be charged to (a) alone.
    await bareLoop(files.slice(0, Math.min(2, files.length)), warmStore.store);
    warmStore.close();
    const bare = await timed('(a) bare sharp loop', () => bareLoop(files, bareStore.store));
    bareStore.close();
    const operator = await timed('(b) images operator on the runtime', () => operatorOnRuntime(files, photos, dir));
    const naive =
      process.env.BENCH_NAIVE === '1'
        ? await timed('(c) decode per variant (naive)', async () => {
            const limit = pLimit(CONCURRENCY);
            const opts = {
              variants: VARIANTS,
              format: 'webp' as const,
              quality: QUALITY,
              effort: EFFORT,
              maxPixels: 1e8,
            };
            await Promise.all(files.map((f) => limit(() => renderVariantsDecodingEach(readFileSync(f), opts))));
            return undefined;
          })
        : null;
    rss.stop();
    const results = [bare, operator, ...(naive ? [naive] : [])];
    const worst = Math.max(...results.map((r) => r.rss));
    report(
      'images',
      [
        `Sizes: ${COUNT} generated 12 MP photo-like JPEGs (4000x3000, ${mib(bytes)} in all), three WebP variants each (thumb 320, card 800, full 1600; quality ${QUALITY}, effort ${EFFORT}), both contenders writing to ${STORE === 's3' ? 'the S3 blob store on the local S3Proxy (each under its own prefix)' : 'the filesystem'}; image concurrency ${CONCURRENCY}, libvips threads per image 1, sharp cache off, UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE}; operator step concurrency ${STEP_CONCURRENCY}, 3 photos per listing; one run each.`,
        '',
        ...table(
          ['contender', 'images/s', 'seconds', 'peak RSS (process)'],
          results.map((r) => [r.name, fmtRate(r.rate), r.seconds.toFixed(1), mib(r.rss)]),
        ),
        '',
        `**Ratio operator / bare loop: ${(operator.rate / bare.rate).toFixed(2)}** (target >= 0.9).`,
        `Peak RSS: ${mib(worst)} (target < 1024 MiB at the default concurrency)${naive ? `; decode once / decode per variant: ${(bare.rate / naive.rate).toFixed(2)}` : ''}.`,
      ],
      { perClient: true },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (STORE === 's3') {
      // This run's objects, under <prefix>/<RUN>/ of the local bucket (a bench run writes ~100 MB).
      const where = parseBlobStore(String(storeSettings('bare', dir).blobStore));
      const runPrefix = where.kind === 's3' ? where.prefix.replace(/bare\/$/, '') : undefined;
      if (runPrefix) await removeLocalObjects(platformLayout(), runPrefix).catch(() => 0);
    }
  }
  process.exit(0);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
