import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import sharp from 'sharp';
import { parseConfig } from '../../runtime/config';
import { PermanentError, RetriableError } from '../../runtime/errors';
import { collect, plainContext } from '../../runtime/operator';
import type { EnrichedListing, Listing } from '../../schemas/generated/types';
import * as fx from '../../test/fixtures/images/fixtures';
import { type BlobStore, FsBlobStore } from './blob-store/index';
import { imagesConfig } from './config';
import type { Fetcher } from './fetcher';
import images from './index';
import { ImagesInFlight, type ImagesServices } from './process';
import { wrapStore } from '../../test/support/blob-stores';
import { testListing } from '../../test/support/listings';

const config = parseConfig(imagesConfig, { concurrency: 2 }, { where: 'test' });

function listing(urls: string[], over: Partial<Listing> = {}): Listing {
  return testListing('crea:L1', {
    geo: null,
    livingAreaSqft: null,
    livingAreaSqm: null,
    yearBuilt: null,
    photos: urls.map((url, i) => ({ url, order: i, caption: null })),
    modifiedAt: new Date('2026-01-01T00:00:00Z'),
    ...over,
  });
}

/** A fetcher serving fixed bytes by URL, counting fetches and the most fetches at once. */
function fakeFetcher(files: Record<string, Buffer>) {
  const stats = { calls: 0, inFlight: 0, maxInFlight: 0 };
  const fetcher: Fetcher = {
    async fetch(url) {
      stats.calls++;
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      try {
        await new Promise((r) => setTimeout(r, 5));
        const b = files[url];
        if (!b) throw new PermanentError('IMAGE_FETCH_FAILED', `${url} answered HTTP 404`);
        return b;
      } finally {
        stats.inFlight--;
      }
    },
  };
  return { fetcher, stats };
}

/** Wraps a store, counting writes; `writeDelayMs` stands in for a slow disk (CI's fsync), widening any race. */
function counting(inner: BlobStore, writeDelayMs = 0) {
  const counts = { variants: 0, manifests: 0 };
  const slow = () => new Promise((r) => setTimeout(r, writeDelayMs));
  const store: BlobStore = wrapStore(inner, {
    putVariant: async (s, f, b) => {
      counts.variants++;
      await slow();
      return inner.putVariant(s, f, b);
    },
    putManifest: async (m) => {
      counts.manifests++;
      await slow();
      return inner.putManifest(m);
    },
  });
  return { store, counts };
}

async function run(record: Listing, services: ImagesServices, cfg = config): Promise<EnrichedListing> {
  const out = await collect(images.process!(record, plainContext(cfg, services)));
  expect(out).toHaveLength(1);
  const e = out[0]!;
  if (e.kind !== 'output') throw new Error('expected an output');
  expect([e.port, e.key]).toEqual(['enriched', record.id]);
  return e.value as EnrichedListing;
}

let files: Record<string, Buffer>;
beforeAll(async () => {
  const photo = await fx.photoJpeg(2000, 1500, { exif: fx.gpsExif() });
  files = {
    'https://mls.example/good.jpg': photo,
    'https://cdn.example/same-photo.jpg': photo,
    'https://mls.example/rotated.jpg': await fx.photoJpeg(1200, 800, { orientation: 6 }),
    'https://mls.example/truncated.jpg': await fx.truncatedJpeg(),
    'https://mls.example/empty.jpg': fx.zeroBytes(),
    'https://mls.example/text.jpg': fx.textNamedJpg(),
    'https://mls.example/image.svg': fx.svgWithExternalRef(),
    'https://mls.example/bomb.png': fx.pngBomb(),
  };
});

describe('images operator', () => {
  test('one bad photo fails only its asset; the listing goes on with every asset in order', async () => {
    const root = mkdtempSync(join(tmpdir(), 'listflow-images-'));
    const { fetcher } = fakeFetcher(files);
    const services = {
      fetcher,
      blobStore: new FsBlobStore({ root }),
      imageLimit: pLimit(2),
      imagesInFlight: new ImagesInFlight(),
    };
    const urls = [
      'https://mls.example/good.jpg',
      'https://mls.example/truncated.jpg',
      'https://mls.example/empty.jpg',
      'https://mls.example/text.jpg',
      'https://mls.example/image.svg',
      'https://mls.example/bomb.png',
      'https://mls.example/gone.jpg',
      'https://mls.example/rotated.jpg',
    ];
    const out = await run(listing(urls), services);
    expect(out.images.map((a) => [a.order, a.status, a.reasonCode])).toEqual([
      [0, 'OK', null],
      [1, 'FAILED', 'IMAGE_CORRUPT'],
      [2, 'FAILED', 'IMAGE_CORRUPT'],
      [3, 'FAILED', 'IMAGE_UNSUPPORTED'],
      [4, 'FAILED', 'IMAGE_UNSUPPORTED'],
      [5, 'FAILED', 'IMAGE_TOO_LARGE'],
      [6, 'FAILED', 'IMAGE_FETCH_FAILED'],
      [7, 'OK', null],
    ]);
    expect(out.images[6]!.reason).toBe('https://mls.example/gone.jpg answered HTTP 404');
    expect(out.enrichedAt).toEqual(new Date('2026-01-01T00:00:00Z'));

    const good = out.images[0]!;
    expect([good.width, good.height, good.sourceUrl]).toEqual([2000, 1500, 'https://mls.example/good.jpg']);
    expect(good.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(good.dhash).toMatch(/^[0-9a-f]{16}$/);
    expect(good.variants.map((v) => [v.name, v.width, v.height, v.format])).toEqual([
      ['thumb', 320, 240, 'webp'],
      ['card', 800, 600, 'webp'],
      ['full', 1600, 1200, 'webp'],
    ]);
    for (const v of good.variants) {
      const path = fileURLToPath(v.uri);
      expect(path).toBe(join(root, good.sha256!.slice(0, 2), good.sha256!, `${v.name}.webp`));
      const bytes = readFileSync(path);
      expect(bytes.length).toBe(v.bytes);
      const m = await sharp(bytes).metadata();
      expect([m.format, m.width, m.height, m.exif, m.icc]).toEqual(['webp', v.width, v.height, undefined, undefined]);
      expect(bytes.includes('ListflowCam')).toBe(false); // the GPS-tagged camera EXIF is gone
    }
    const rotated = out.images[7]!;
    expect([rotated.width, rotated.height, rotated.variants[2]!.width, rotated.variants[2]!.height]).toEqual([
      800, 1200, 800, 1200,
    ]);
  }, 30_000);

  test('the same photo under two URLs is processed and stored once; a replay stores nothing', async () => {
    const root = mkdtempSync(join(tmpdir(), 'listflow-images-'));
    // Writes slower than a fetch: the second URL's bytes arrive while the first's variants are still being stored.
    const { store, counts } = counting(new FsBlobStore({ root }), 100);
    const { fetcher } = fakeFetcher(files);
    const services = { fetcher, blobStore: store, imageLimit: pLimit(1), imagesInFlight: new ImagesInFlight() };
    const record = listing(['https://mls.example/good.jpg', 'https://cdn.example/same-photo.jpg']);
    const first = await run(record, services);
    expect(counts).toEqual({ variants: 3, manifests: 1 });
    expect(first.images[0]!.variants).toEqual(first.images[1]!.variants);
    expect(first.images.map((a) => a.sourceUrl)).toEqual(record.photos.map((p) => p.url));
    const sha = first.images[0]!.sha256!;
    expect(readdirSync(join(root, sha.slice(0, 2), sha)).sort()).toEqual([
      'card.webp',
      'full.webp',
      'manifest.json',
      'thumb.webp',
    ]);
    const again = await run(record, services);
    expect(counts).toEqual({ variants: 3, manifests: 1 });
    expect(again.images).toEqual(first.images);
  }, 30_000);

  test.each([
    ['one at a time', 1],
    ['two at once', 2],
  ])(
    'the same photo on two listings in flight together is rendered and stored once (%s)',
    async (_name, limit) => {
      const root = mkdtempSync(join(tmpdir(), 'listflow-images-'));
      const { store, counts } = counting(new FsBlobStore({ root }), 100);
      const imagesInFlight = new ImagesInFlight();
      const services = {
        fetcher: fakeFetcher(files).fetcher,
        blobStore: store,
        imageLimit: pLimit(limit),
        imagesInFlight,
      };
      const [a, b] = await Promise.all([
        run(listing(['https://mls.example/good.jpg']), services),
        run(listing(['https://cdn.example/same-photo.jpg'], { id: 'crea:L2' }), services),
      ]);
      expect(counts).toEqual({ variants: 3, manifests: 1 });
      expect([a.images[0]!.status, b.images[0]!.status]).toEqual(['OK', 'OK']);
      expect(b.images[0]!.variants).toEqual(a.images[0]!.variants);
      expect(imagesInFlight.size).toBe(0);
    },
    30_000,
  );

  test('a photo sharing bytes with one that fails fails the same way, and nothing stays claimed', async () => {
    const { store, counts } = counting(new FsBlobStore({ root: mkdtempSync(join(tmpdir(), 'listflow-images-')) }));
    const imagesInFlight = new ImagesInFlight();
    const twin = { ...files, 'https://cdn.example/truncated-copy.jpg': files['https://mls.example/truncated.jpg']! };
    const services = { fetcher: fakeFetcher(twin).fetcher, blobStore: store, imageLimit: pLimit(2), imagesInFlight };
    const out = await run(
      listing(['https://mls.example/truncated.jpg', 'https://cdn.example/truncated-copy.jpg']),
      services,
    );
    expect(out.images.map((a) => [a.status, a.reasonCode])).toEqual([
      ['FAILED', 'IMAGE_CORRUPT'],
      ['FAILED', 'IMAGE_CORRUPT'],
    ]);
    expect(out.images[1]!.reason).toBe(out.images[0]!.reason);
    expect(counts).toEqual({ variants: 0, manifests: 0 });
    expect(imagesInFlight.size).toBe(0);
  }, 30_000);

  test('a stored image is processed again when the configured variants change', async () => {
    const root = mkdtempSync(join(tmpdir(), 'listflow-images-'));
    const { store, counts } = counting(new FsBlobStore({ root }));
    const services = {
      fetcher: fakeFetcher(files).fetcher,
      blobStore: store,
      imageLimit: pLimit(1),
      imagesInFlight: new ImagesInFlight(),
    };
    const record = listing(['https://mls.example/good.jpg']);
    await run(record, services);
    const jpegCfg = parseConfig(imagesConfig, { format: 'jpeg', variants: 'thumb:200' }, { where: 'test' });
    const out = await run(record, services, jpegCfg);
    expect(counts).toEqual({ variants: 4, manifests: 2 });
    expect(out.images[0]!.variants.map((v) => [v.name, v.width, v.format])).toEqual([['thumb', 200, 'jpeg']]);
    expect(existsSync(fileURLToPath(out.images[0]!.variants[0]!.uri))).toBe(true);
  }, 30_000);

  test('photos run under the worker-wide image limit', async () => {
    const { fetcher, stats } = fakeFetcher(files);
    const services = {
      fetcher,
      blobStore: new FsBlobStore({ root: mkdtempSync(join(tmpdir(), 'listflow-images-')) }),
      imageLimit: pLimit(2),
      imagesInFlight: new ImagesInFlight(),
    };
    const urls = Array.from({ length: 6 }, (_, i) => `https://mls.example/missing-${i}.jpg`);
    // Two listings at once share one limit.
    await Promise.all([run(listing(urls), services), run(listing(urls, { id: 'crea:L2' }), services)]);
    expect(stats.calls).toBe(12);
    expect(stats.maxInFlight).toBe(2);
  });

  test('a blob-store outage fails the listing with a retriable error', async () => {
    const eio = async (): Promise<never> => {
      throw new RetriableError('BLOBSTORE_UNAVAILABLE', 'blob store: reading the manifest: EIO');
    };
    const down: BlobStore = {
      get: eio,
      putVariant: async () => 'never',
      putManifest: async () => undefined,
      touch: eio,
      getMediaEntry: eio,
      putMediaEntry: async () => undefined,
    };
    const services = {
      fetcher: fakeFetcher(files).fetcher,
      blobStore: down,
      imageLimit: pLimit(2),
      imagesInFlight: new ImagesInFlight(),
    };
    const e = await collect(
      images.process!(listing(['https://mls.example/good.jpg']), plainContext(config, services)),
    ).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RetriableError);
    expect((e as RetriableError).code).toBe('BLOBSTORE_UNAVAILABLE');
  });

  test('a deleted listing passes through without fetching its photos', async () => {
    const { fetcher, stats } = fakeFetcher(files);
    const services = {
      fetcher,
      blobStore: counting(new FsBlobStore({ root: tmpdir() })).store,
      imageLimit: pLimit(1),
      imagesInFlight: new ImagesInFlight(),
    };
    const out = await run(listing(['https://mls.example/good.jpg'], { status: 'DELETE' }), services);
    expect([out.images, stats.calls]).toEqual([[], 0]);
  });
});

describe('images config', () => {
  test('defaults', () => {
    const c = parseConfig(imagesConfig, {}, { where: 'images config' });
    expect([c.variants, c.format, c.quality, c.vipsThreads, c.maxRedirects]).toEqual([
      ['thumb:320', 'card:800', 'full:1600'],
      'webp',
      80,
      1,
      3,
    ]);
    expect(c.concurrency).toBeGreaterThanOrEqual(1);
  });

  test.each([
    [
      { variants: 'thumb:320,huge' },
      'Expected name:width items (e.g. card:800) for LISTFLOW_IMAGES_VARIANTS but received "huge". Fix: set LISTFLOW_IMAGES_VARIANTS=thumb:320,card:800,full:1600.',
    ],
    [{ variants: 'a:100,a:200' }, 'Variant names must be unique in LISTFLOW_IMAGES_VARIANTS'],
    [
      { format: 'gif' },
      'Expected one of webp, avif, jpeg for LISTFLOW_IMAGES_FORMAT but received "gif" of type string.',
    ],
  ])('%j is refused', (raw, message) => {
    expect(() => parseConfig(imagesConfig, raw, { where: 'images config', envPrefix: 'LISTFLOW_IMAGES_' })).toThrow(
      message,
    );
  });
});
