/**
 * npm run bench:images: the images operator's cost, measured side by side in one run on the same photos.
 *
 * Photos: BENCH_IMAGES (default 24) generated 12 MP photo-like JPEGs (4000x3000), on local disk.
 * Contenders, all at the same image concurrency (BENCH_CONCURRENCY, default = cores) with libvips threads
 * per image = 1 and sharp's cache off:
 *   (a) bare loop: sharp written here, one decode (shrink-on-load) per photo, three WebP variants, files
 *       written; the ceiling;
 *   (b) decode per variant: the naive pipeline, one full decode for each variant;
 *   (c) the operator: images' `process` with its real services (file:// fetcher, filesystem blob store,
 *       worker-wide limit), fed listings of 3 photos with 4 listings in flight, like the runtime's step.
 * Prints images/s of each, the ratios (c)/(a) (target >= 0.9) and (a)/(b), and peak RSS (target < 1 GiB).
 * It never asserts on time. `--record` appends the results to docs/benchmarks.md.
 *
 * Kafka is not involved: the runtime's own overhead is measured by bench:runtime; here the photo work
 * dominates by orders of magnitude (about 1 s of CPU per photo against well under 1 ms per record).
 */
import { availableParallelism } from 'node:os';

// libuv's pool runs sharp's jobs and fs calls; size it before anything uses it.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, availableParallelism() + 2));

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pLimit from 'p-limit';
import sharp from 'sharp';
import { parseConfig } from '../runtime/config';
import { collect, plainContext } from '../runtime/operator';
import type { Listing } from '../schemas/generated/types';
import images from '../operators/images/index';
import { imagesConfig, parseVariants } from '../operators/images/config';
import { sha256Hex } from '../operators/images/process';
import { renderVariantsDecodingEach } from '../operators/images/variants';
import { photoJpeg } from '../test/fixtures/images/fixtures';
import { machine, record } from './harness';

const COUNT = Number(process.env.BENCH_IMAGES ?? 24);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? availableParallelism());
const VARIANTS = parseVariants(['thumb:320', 'card:800', 'full:1600']);
const QUALITY = 80;
const EFFORT = 2;

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 20);

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

async function timed(name: string, fn: () => Promise<void>): Promise<{ name: string; rate: number; rss: number }> {
  global.gc?.();
  peakRss = process.memoryUsage().rss;
  const t0 = performance.now();
  await fn();
  const s = (performance.now() - t0) / 1000;
  const rate = COUNT / s;
  console.log(
    `${name.padEnd(28)} ${rate.toFixed(2).padStart(7)} images/s  (${s.toFixed(1)} s, peak RSS ${mib(peakRss)})`,
  );
  return { name, rate, rss: peakRss };
}

async function main(): Promise<void> {
  sharp.cache(false);
  sharp.concurrency(1);
  const dir = mkdtempSync(join(tmpdir(), 'listflow-bench-images-'));
  const photos = join(dir, 'photos');
  mkdirSync(photos);
  console.log(`images bench: ${COUNT} photos of 4000x3000, concurrency ${CONCURRENCY}, ${machine()}`);
  const files: string[] = [];
  for (let i = 0; i < COUNT; i++) {
    const f = join(photos, `p${i}.jpg`);
    writeFileSync(f, await photoJpeg(4000, 3000, { seed: i + 1, quality: 90 }));
    files.push(f);
  }
  console.log(`generated ${COUNT} photos (${mib(files.reduce((n, f) => n + readFileSync(f).length, 0))})`);

  const bare = await timed('(a) bare sharp loop', async () => {
    const out = mkdtempSync(join(dir, 'bare-'));
    const limit = pLimit(CONCURRENCY);
    await Promise.all(
      files.map((f) =>
        limit(async () => {
          const input = readFileSync(f);
          const sha = sha256Hex(input);
          const { data, info } = await sharp(input, { failOn: 'error', autoOrient: true })
            .resize({ width: 1600, withoutEnlargement: true })
            .toColourspace('srgb')
            .raw()
            .toBuffer({ resolveWithObject: true });
          for (const v of VARIANTS) {
            const webp = await sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
              .resize({ width: v.width, withoutEnlargement: true })
              .webp({ quality: QUALITY, effort: EFFORT })
              .toBuffer();
            writeFileSync(join(out, `${sha}-${v.name}.webp`), webp);
          }
        }),
      ),
    );
  });

  const naive = await timed('(b) decode per variant', async () => {
    const limit = pLimit(CONCURRENCY);
    const opts = { variants: VARIANTS, format: 'webp' as const, quality: QUALITY, effort: EFFORT, maxPixels: 1e8 };
    await Promise.all(files.map((f) => limit(() => renderVariantsDecodingEach(readFileSync(f), opts))));
  });

  const operator = await timed('(c) images operator', async () => {
    const config = parseConfig(
      imagesConfig,
      {
        blobRoot: mkdtempSync(join(dir, 'blobs-')),
        fileRoot: photos,
        concurrency: CONCURRENCY,
        quality: QUALITY,
        effort: EFFORT,
        vipsThreads: 1,
      },
      { where: 'bench' },
    );
    const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
    const services = await images.services!(config, silent);
    const listings: Listing[] = [];
    for (let i = 0; i < files.length; i += 3) {
      listings.push({
        id: `bench:${i}`,
        photos: files.slice(i, i + 3).map((f, order) => ({ url: pathToFileURL(f).href, order, caption: null })),
        status: 'ACTIVE',
      } as Listing);
    }
    const jobs = pLimit(4); // the images step's concurrency in pipelines/listings.ts
    const results = await Promise.all(
      listings.map((l) => jobs(() => collect(images.process!(l, plainContext(config, services))))),
    );
    const failed = results.flat().flatMap((e) => (e.kind === 'output' ? (e.value?.images ?? []) : []));
    const bad = failed.filter((a) => a.status !== 'OK');
    if (bad.length > 0)
      throw new Error(`operator failed ${bad.length} photos: ${bad[0]!.reasonCode} ${bad[0]!.reason}`);
  });

  clearInterval(sampler);
  rmSync(dir, { recursive: true, force: true });
  const lines = [
    `| contender | images/s | peak RSS |`,
    `| --- | --- | --- |`,
    ...[bare, naive, operator].map((r) => `| ${r.name} | ${r.rate.toFixed(2)} | ${mib(r.rss)} |`),
    '',
    `- operator / bare loop: **${(operator.rate / bare.rate).toFixed(2)}** (target >= 0.9)`,
    `- decode once / decode per variant: **${(bare.rate / naive.rate).toFixed(2)}**`,
    `- peak RSS: ${mib(Math.max(bare.rss, naive.rss, operator.rss))} (target < 1024 MiB); ${COUNT} photos of 12 MP, concurrency ${CONCURRENCY}, UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE}, libvips threads per image 1`,
  ];
  console.log(`\n${lines.join('\n')}`);
  if (process.argv.includes('--record')) record('images', lines);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
