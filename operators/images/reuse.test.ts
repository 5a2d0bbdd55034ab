/**
 * No needless photo work: the media identity and version of a photo, the index lookup's decision, and the
 * images operator over versions of one listing (fetches counted) on a real filesystem store.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { parseConfig } from '../../runtime/config';
import { PermanentError, RetriableError } from '../../runtime/errors';
import { collect, plainContext } from '../../runtime/operator';
import type { EnrichedListing, Photo } from '../../schemas/generated/types';
import * as fx from '../../test/fixtures/images/fixtures';
import { wrapStore } from '../../test/support/blob-stores';
import { testListing } from '../../test/support/listings';
import { type BlobStore, FsBlobStore } from './blob-store/index';
import { mediaEntryKey } from './blob-store/media-index';
import { imagesConfig, parseVariants } from './config';
import images from './index';
import { ImagesInFlight, type ImagesServices, sha256Hex } from './process';
import { decideReuse, identityOf, mediaEntry } from './reuse';

const config = parseConfig(imagesConfig, { concurrency: 2, variants: ['thumb:64', 'card:128'] }, { where: 'test' });
const SPECS = parseVariants(config.variants);
const photo = (url: string, mediaKey: string | null, stamp: string | null, order = 0): Photo => ({
  url,
  order,
  caption: null,
  mediaKey,
  mediaModificationTimestamp: stamp,
});

describe('identityOf', () => {
  const U = 'https://media.example/p.jpg?sig=1';
  const H = createHash('sha256').update(U).digest('hex');
  test.each<[string, Photo, string, string, string]>([
    [
      'key and timestamp',
      photo(U, 'M1', '2026-01-01T00:00:00.000001Z'),
      'mls',
      'key\nmls\nM1',
      'ts\n2026-01-01T00:00:00.000001Z',
    ],
    ['a key without a timestamp: the URL is the version', photo(U, 'M1', null), 'mls', 'key\nmls\nM1', `url\n${H}`],
    ['no key: the URL is identity and version', photo(U, null, 'ignored'), 'mls', `url\nmls\n${H}`, `url\n${H}`],
    [
      'fields absent (a Listing built before they existed)',
      { url: U, order: 0, caption: null },
      'mls',
      `url\nmls\n${H}`,
      `url\n${H}`,
    ],
    ['another source, same key: another identity', photo(U, 'M1', 'T'), 'other', 'key\nother\nM1', 'ts\nT'],
  ])('%s', (_what, p, source, id, version) => {
    expect(identityOf(source, p)).toEqual({ id, version });
  });

  test('a URL (which may carry a token) is never written into the index, only its hash', () => {
    for (const p of [photo(U, null, null), photo(U, 'M1', null)]) {
      const { id, version } = identityOf('mls', p);
      expect(`${id}${version}`).not.toContain('sig=1');
    }
  });

  test('the URL of a keyed photo is in neither (signed URLs change on every read)', () => {
    const a = identityOf('mls', photo('https://m.example/1.jpg?sig=a', 'M1', 'T'));
    const b = identityOf('mls', photo('https://m.example/1.jpg?sig=b', 'M1', 'T'));
    expect(a).toEqual(b);
  });

  test('timestamps a microsecond apart are different versions', () => {
    const a = identityOf('mls', photo('u', 'M1', '2026-01-01T00:00:00.000001Z'));
    const b = identityOf('mls', photo('u', 'M1', '2026-01-01T00:00:00.000002Z'));
    expect(a.version).not.toBe(b.version);
  });
});

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});
const newStore = () => {
  const root = mkdtempSync(join(tmpdir(), 'listflow-reuse-'));
  roots.push(root);
  return new FsBlobStore({ root, fsync: false });
};

const variant = (sha256: string, name: string, width: number) => ({
  name,
  width,
  height: width,
  format: 'webp',
  bytes: 1,
  uri: `file:///x/${sha256}/${name}.webp`,
});

describe('decideReuse', () => {
  const SHA = 'ab'.repeat(32);
  const media = identityOf('mls', photo('u', 'M1', 'T1'));
  const complete = [variant(SHA, 'thumb', 64), variant(SHA, 'card', 128)];
  test.each<[string, { entry?: string; manifest?: typeof complete }, string]>([
    ['no entry: fetch (new)', {}, 'fetch:new'],
    ['an entry of another version: fetch (changed)', { entry: 'ts\nT0', manifest: complete }, 'fetch:changed'],
    ['same version, image removed by gc: fetch (gone)', { entry: media.version }, 'fetch:gone'],
    [
      'same version, other variants: fetch',
      { entry: media.version, manifest: complete.slice(0, 1) },
      'fetch:other-variants',
    ],
    ['same version, image stored: reuse', { entry: media.version, manifest: complete }, 'reuse'],
  ])('%s', async (_what, state, want) => {
    const store = newStore();
    if (state.manifest) {
      await store.putManifest({
        sha256: SHA,
        width: 500,
        height: 500,
        dhash: '0'.repeat(16),
        variants: state.manifest,
      });
    }
    if (state.entry) await store.putMediaEntry({ id: media.id, version: state.entry, sha256: SHA, storedAt: '' });
    const d = await decideReuse(store, media, SPECS, 'webp');
    expect(d.kind === 'reuse' ? 'reuse' : `fetch:${d.reason}`).toBe(want);
  });

  test('reusing touches the image, so gc sees it as young', async () => {
    const store = newStore();
    await store.putManifest({ sha256: SHA, width: 500, height: 500, dhash: '0'.repeat(16), variants: complete });
    await store.putMediaEntry(mediaEntry(media, SHA, new Date()));
    const old = new Date(Date.now() - 30 * 86_400_000);
    utimesSync(store.pathOf(SHA, 'manifest.json'), old, old);
    expect((await decideReuse(store, media, SPECS, 'webp')).kind).toBe('reuse');
    expect(Date.now() - statSync(store.pathOf(SHA, 'manifest.json')).mtimeMs).toBeLessThan(60_000);
  });

  test('an entry of another identity at the same path (damaged) reads as absent', async () => {
    const store = newStore();
    await store.putMediaEntry({ id: media.id, version: media.version, sha256: SHA, storedAt: '' });
    expect(await store.getMediaEntry('key\nmls\nM2')).toBeNull();
    expect(existsSync(join(store.mediaEntryPath(media.id)))).toBe(true);
    expect(store.mediaEntryPath(media.id).endsWith(join(...mediaEntryKey(media.id).split('/')))).toBe(true);
  });
});

/** The operator over one store, with a fetcher that serves `bytes` by URL path (the query is a signature). */
async function harness() {
  const bytes = new Map<string, Buffer>();
  const fetched: string[] = [];
  const counted: string[] = [];
  const blobStore = newStore();
  const services: ImagesServices = {
    fetcher: {
      async fetch(url) {
        fetched.push(url);
        const b = bytes.get(url.split('?')[0]!);
        if (!b) throw new PermanentError('IMAGE_FETCH_FAILED', `${url} answered HTTP 404`);
        return b;
      },
    },
    blobStore,
    imageLimit: pLimit(2),
    imagesInFlight: new ImagesInFlight(),
    metrics: { count: (_item, outcome) => void counted.push(outcome) },
  };
  const enrich = async (photos: Photo[], store: BlobStore = blobStore): Promise<EnrichedListing> => {
    const [out] = await collect(
      images.process!(testListing('mls:L1', { photos }), plainContext(config, { ...services, blobStore: store })),
    );
    if (out?.kind !== 'output') throw new Error('expected an output');
    return out.value as EnrichedListing;
  };
  return { bytes, fetched, counted, blobStore, enrich };
}

const M = (n: number) => `https://media.example/L1-${n}.jpg`;

describe('versions of one listing', () => {
  test('unchanged photos are not fetched (even under new signed URLs); a changed one is, once; a removed one leaves', async () => {
    const h = await harness();
    for (const n of [1, 2, 3]) h.bytes.set(M(n), await fx.photoJpeg(200, 150, { seed: n }));
    const v1 = await h.enrich([1, 2, 3].map((n) => photo(`${M(n)}?sig=a`, `M${n}`, 'T1', n - 1)));
    expect([h.fetched.length, h.counted]).toEqual([3, ['ok', 'ok', 'ok']]);

    // A price change: same media, the source signed the URLs again.
    h.fetched.length = 0;
    h.counted.length = 0;
    const v2 = await h.enrich([1, 2, 3].map((n) => photo(`${M(n)}?sig=b`, `M${n}`, 'T1', n - 1)));
    expect([h.fetched, h.counted]).toEqual([[], ['reused', 'reused', 'reused']]);
    const strip = (e: EnrichedListing) => e.images.map(({ sourceUrl: _u, ...rest }) => rest);
    expect(strip(v2)).toEqual(strip(v1));
    expect(v2.images.map((a) => a.sourceUrl)).toEqual([1, 2, 3].map((n) => `${M(n)}?sig=b`));

    // Photo 2 replaced: a new timestamp and new bytes. Only it is fetched; it is another image now.
    h.bytes.set(M(2), await fx.photoJpeg(200, 150, { seed: 22 }));
    h.fetched.length = 0;
    const v3 = await h.enrich([1, 2, 3].map((n) => photo(`${M(n)}?sig=c`, `M${n}`, n === 2 ? 'T2' : 'T1', n - 1)));
    expect(h.fetched).toEqual([`${M(2)}?sig=c`]);
    expect(v3.images[1]!.sha256).toBe(sha256Hex(h.bytes.get(M(2))!));
    expect(v3.images[1]!.sha256).not.toBe(v1.images[1]!.sha256);
    expect([v3.images[0], v3.images[2]].map((a) => a!.sha256)).toEqual([v1.images[0]!.sha256, v1.images[2]!.sha256]);

    // Photo 3 left the listing's Media: no asset for it, nothing fetched.
    h.fetched.length = 0;
    const v4 = await h.enrich([1, 2].map((n) => photo(`${M(n)}?sig=d`, `M${n}`, n === 2 ? 'T2' : 'T1', n - 1)));
    expect(h.fetched).toEqual([]);
    expect(v4.images.map((a) => a.sha256)).toEqual([v1.images[0]!.sha256, v3.images[1]!.sha256]);
  });

  test.each<[string, string, string, number]>([
    // what, URL of version 1, URL of version 2, fetches of version 2
    ['no key, same URL: reused', M(1), M(1), 0],
    ['no key, new URL: fetched', M(1), `${M(1)}?v=2`, 1],
  ])('%s', async (_what, first, second, fetches) => {
    const h = await harness();
    h.bytes.set(M(1), await fx.photoJpeg(200, 150, { seed: 5 }));
    await h.enrich([photo(first, null, null)]);
    h.fetched.length = 0;
    await h.enrich([photo(second, null, null)]);
    expect(h.fetched.length).toBe(fetches);
  });

  test('an image gc removed is fetched again, and the entry rewritten', async () => {
    const h = await harness();
    h.bytes.set(M(1), await fx.photoJpeg(200, 150, { seed: 6 }));
    const v1 = await h.enrich([photo(M(1), 'M1', 'T1')]);
    const sha = v1.images[0]!.sha256!;
    rmSync(join(h.blobStore.pathOf(sha, 'manifest.json'), '..'), { recursive: true });
    h.fetched.length = 0;
    const v2 = await h.enrich([photo(M(1), 'M1', 'T1')]);
    expect([h.fetched.length, v2.images[0]!.status, v2.images[0]!.sha256]).toEqual([1, 'OK', sha]);
    h.fetched.length = 0;
    await h.enrich([photo(M(1), 'M1', 'T1')]);
    expect(h.fetched.length).toBe(0);
  });

  test('a failed index write costs the next version one download, never the listing', async () => {
    const h = await harness();
    h.bytes.set(M(1), await fx.photoJpeg(200, 150, { seed: 7 }));
    const lossy = wrapStore(h.blobStore, {
      putMediaEntry: async () => {
        throw new RetriableError('BLOBSTORE_UNAVAILABLE', 'blob store: writing the entry: EIO');
      },
    });
    const v1 = await h.enrich([photo(M(1), 'M1', 'T1')], lossy);
    expect(v1.images[0]!.status).toBe('OK');
    h.fetched.length = 0;
    await h.enrich([photo(M(1), 'M1', 'T1')]);
    expect(h.fetched.length).toBe(1);
    h.fetched.length = 0;
    await h.enrich([photo(M(1), 'M1', 'T1')]);
    expect(h.fetched.length).toBe(0);
  });

  test('a failed photo writes no entry: the next version tries it again', async () => {
    const h = await harness();
    await h.enrich([photo(M(9), 'M9', 'T1')]);
    expect(h.counted).toEqual(['failed']);
    expect(await h.blobStore.getMediaEntry(identityOf('mls', photo(M(9), 'M9', 'T1')).id)).toBeNull();
    h.fetched.length = 0;
    await h.enrich([photo(M(9), 'M9', 'T1')]);
    expect(h.fetched.length).toBe(1);
  });
});
