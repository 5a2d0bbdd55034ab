/**
 * The images operator's S3 blob store against the local platform's S3Proxy (a real S3 API over jclouds'
 * filesystem store), with the settings `infra status --json` exports: objects land with their Content-Type and
 * immutable Cache-Control and are served at their uris; storing twice rewrites nothing; a crash between the variants
 * and the manifest leaves the image not stored, so it is redone; a refusal is permanent and an unreachable endpoint
 * retriable.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { platformEndpoints, platformLayout } from '../../infra/layout';
import { removeLocalObjects } from '../../infra/s3proxy';
import { imagesConfig, type ImagesConfig } from '../../operators/images/config';
import images from '../../operators/images/index';
import { type BlobStore, openBlobStore, type OpenedBlobStore } from '../../operators/images/blob-store/index';
import { S3BlobStore, VARIANT_CACHE_CONTROL } from '../../operators/images/blob-store/s3';
import { ImagesInFlight, type ImagesServices, sha256Hex } from '../../operators/images/process';
import { fromEnv, parseConfig } from '../../runtime/config';
import { PermanentError, RetriableError } from '../../runtime/errors';
import { collect, type Logger, plainContext } from '../../runtime/operator';
import type { EnrichedListing } from '../../schemas/generated/types';
import { photoJpeg } from '../fixtures/images/fixtures';
import { wrapStore } from '../support/blob-stores';
import { testListing } from '../support/listings';

// The platform's settings, as a worker started by `npm run local` gets them; the exported env wins when set.
const platform = { ...platformEndpoints(platformLayout()), ...process.env };
const PREFIX = 'LISTFLOW_IMAGES_';
const run = randomBytes(4).toString('hex');
const bucket = 'listflow';

function configFor(over: Record<string, string> = {}): ImagesConfig {
  const env = { ...platform, LISTFLOW_IMAGES_BLOB_STORE: `s3://${bucket}/it-${run}`, ...over };
  return parseConfig(imagesConfig, fromEnv(imagesConfig, env, PREFIX), { where: 'images config', envPrefix: PREFIX });
}

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

/** The operator over a store: fetches from a fixed map, so the test is about storing, not fetching. */
function servicesOn(store: BlobStore, photos: Record<string, Buffer>): ImagesServices {
  return {
    fetcher: {
      async fetch(url) {
        const b = photos[url];
        if (!b) throw new Error(`no photo ${url}`);
        return b;
      },
    },
    blobStore: store,
    imageLimit: pLimit(2),
    imagesInFlight: new ImagesInFlight(),
  };
}

async function enrich(config: ImagesConfig, services: ImagesServices, urls: string[]): Promise<EnrichedListing> {
  const listing = testListing('it:s3', { photos: urls.map((url, order) => ({ url, order, caption: null })) });
  const out = await collect(images.process!(listing, plainContext(config, services)));
  const first = out[0];
  if (first?.kind !== 'output') throw new Error('expected an output');
  return first.value as EnrichedListing;
}

const s3 = (config: ImagesConfig) =>
  new S3Client({
    endpoint: config.s3Endpoint,
    region: config.s3Region,
    forcePathStyle: true,
    credentials: {
      accessKeyId: platform.AWS_ACCESS_KEY_ID ?? '',
      secretAccessKey: platform.AWS_SECRET_ACCESS_KEY ?? '',
    },
  });

const keyOf = (uri: string) => new URL(uri).pathname.replace(`/${bucket}/`, '');

let opened: OpenedBlobStore;
let config: ImagesConfig;
let photo: Buffer;

beforeAll(async () => {
  // The SDK's credential chain reads the process environment, as in a worker.
  process.env.AWS_ACCESS_KEY_ID ??= platform.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY ??= platform.AWS_SECRET_ACCESS_KEY;
  config = configFor();
  opened = await openBlobStore(config, quiet);
  photo = await photoJpeg(1200, 900, { seed: 7, quality: 85 });
});

afterAll(async () => {
  opened?.close();
  await removeLocalObjects(platformLayout(), `it-${run}/`);
});

describe('S3 blob store on S3Proxy', () => {
  test('variants are objects with their Content-Type and an immutable Cache-Control, served at their uris', async () => {
    const client = s3(config);
    try {
      const out = await enrich(config, servicesOn(opened.store, { 'p://1': photo }), ['p://1']);
      const asset = out.images[0]!;
      expect(asset.status).toBe('OK');
      expect(asset.variants.map((v) => v.name)).toEqual(['thumb', 'card', 'full']);
      for (const v of asset.variants) {
        expect(v.uri).toBe(
          `${config.publicBaseUrl}/it-${run}/${asset.sha256!.slice(0, 2)}/${asset.sha256}/${v.name}.webp`,
        );
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: keyOf(v.uri) }));
        expect([head.ContentType, head.CacheControl, head.ContentLength]).toEqual([
          'image/webp',
          VARIANT_CACHE_CONTROL,
          v.bytes,
        ]);
        // Served without credentials, as a browser would fetch it.
        const res = await fetch(v.uri);
        expect([res.status, res.headers.get('content-type')]).toEqual([200, 'image/webp']);
        expect((await res.arrayBuffer()).byteLength).toBe(v.bytes);
      }
      const manifest = await client.send(
        new HeadObjectCommand({
          Bucket: bucket,
          Key: `it-${run}/${asset.sha256!.slice(0, 2)}/${asset.sha256}/manifest.json`,
        }),
      );
      expect(manifest.ContentType).toBe('application/json');
      expect(
        (await fetch(`${config.publicBaseUrl}/it-${run}/${asset.sha256!.slice(0, 2)}/${asset.sha256}/manifest.json`))
          .status,
      ).toBe(403);
    } finally {
      client.destroy();
    }
  });

  test('storing the same variant twice is idempotent: the object is not rewritten', async () => {
    const client = s3(config);
    const sha = 'aa'.padEnd(64, '1'); // the prefix is this run's own, so the key is new
    try {
      const uri = await opened.store.putVariant(sha, 'card.webp', Buffer.from('same bytes'));
      const before = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: keyOf(uri) }));
      await sleep(1100); // S3Proxy's filesystem store keeps whole seconds: a rewrite would move LastModified
      expect(await opened.store.putVariant(sha, 'card.webp', Buffer.from('same bytes'))).toBe(uri);
      const after = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: keyOf(uri) }));
      expect([after.ETag, after.LastModified]).toEqual([before.ETag, before.LastModified]);
      // Other bytes under the same key (the variant settings changed) replace it.
      await opened.store.putVariant(sha, 'card.webp', Buffer.from('other bytes'));
      const replaced = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: keyOf(uri) }));
      expect(replaced.ETag).not.toBe(before.ETag);
    } finally {
      client.destroy();
    }
  });

  test('a crash between the variants and the manifest leaves the image not stored, and it is redone', async () => {
    const other = await photoJpeg(1000, 800, { seed: 11, quality: 85 });
    const crashing: BlobStore = wrapStore(opened.store, {
      putManifest: async () => {
        throw new RetriableError('BLOBSTORE_UNAVAILABLE', 'killed before the manifest');
      },
    });
    await expect(enrich(config, servicesOn(crashing, { 'p://2': other }), ['p://2'])).rejects.toThrow(
      'killed before the manifest',
    );
    const sha = sha256Hex(other);
    expect(await opened.store.get(sha)).toBeNull(); // the variants are there, but nothing reads as stored
    let puts = 0;
    const counting: BlobStore = wrapStore(opened.store, {
      putVariant: (s, f, b) => {
        puts++;
        return opened.store.putVariant(s, f, b);
      },
    });
    const redone = await enrich(config, servicesOn(counting, { 'p://2': other }), ['p://2']);
    expect(redone.images[0]!.status).toBe('OK');
    expect(puts).toBe(3);
    expect((await opened.store.get(sha))!.variants.map((v) => v.uri)).toEqual(
      redone.images[0]!.variants.map((v) => v.uri),
    );
    // And once stored, a replay writes nothing.
    puts = 0;
    await enrich(config, servicesOn(counting, { 'p://2': other }), ['p://2']);
    expect(puts).toBe(0);
  });

  test('wrong credentials are BLOBSTORE_ACCESS_DENIED (permanent), naming bucket, endpoint and fix', async () => {
    const client = new S3Client({
      endpoint: config.s3Endpoint,
      region: config.s3Region,
      forcePathStyle: true,
      credentials: { accessKeyId: 'nobody', secretAccessKey: 'wrong' },
    });
    const store = new S3BlobStore({
      client,
      target: { bucket, prefix: `it-${run}/`, region: config.s3Region, endpoint: config.s3Endpoint! },
    });
    try {
      const e = await store.putVariant('bb'.padEnd(64, '2'), 'card.webp', Buffer.from('x')).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(PermanentError);
      expect((e as PermanentError).code).toBe('BLOBSTORE_ACCESS_DENIED');
      expect((e as PermanentError).message).toContain(`at ${config.s3Endpoint} was refused: InvalidAccessKeyId`);
      expect((e as PermanentError).message).toContain(`Fix: check that bucket ${bucket} exists`);
    } finally {
      client.destroy();
    }
  });

  test('a bucket that does not exist stops the worker at startup with BLOBSTORE_ACCESS_DENIED', async () => {
    const e = await openBlobStore(configFor({ LISTFLOW_IMAGES_BLOB_STORE: `s3://no-such-bucket-${run}` }), quiet).catch(
      (x: unknown) => x,
    );
    expect((e as PermanentError).code).toBe('BLOBSTORE_ACCESS_DENIED');
    expect((e as PermanentError).message).toContain(`NoSuchBucket`);
    expect((e as PermanentError).message).toContain(`bucket no-such-bucket-${run} exists`);
  });

  test('an endpoint that does not answer is BLOBSTORE_UNAVAILABLE (retriable)', async () => {
    const down = await openBlobStore(
      configFor({ LISTFLOW_IMAGES_S3_ENDPOINT: 'http://127.0.0.1:9', LISTFLOW_IMAGES_S3_TIMEOUT_MS: '1000' }),
      quiet,
    );
    try {
      const e = await down.store
        .putVariant('cc'.padEnd(64, '3'), 'card.webp', Buffer.from('x'))
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(RetriableError);
      expect((e as RetriableError).code).toBe('BLOBSTORE_UNAVAILABLE');
      expect((e as RetriableError).message).toContain('at http://127.0.0.1:9 failed');
    } finally {
      down.close();
    }
  });
});
