import { mkdirSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RetriableError } from '../../../runtime/errors';
import { FsBlobStore, INCOMING_DIR } from './fs';
import { storedImage as image, sha } from '../../../test/fixtures/images/stored-image';

const tmp = () => mkdtempSync(join(tmpdir(), 'listflow-blobs-'));

describe('FsBlobStore', () => {
  test('writes content-addressed files atomically and returns file:// uris', async () => {
    const root = tmp();
    const store = new FsBlobStore({ root });
    const uri = await store.putVariant(sha, 'card.webp', Buffer.from('abc'));
    const path = join(root, 'ab', sha, 'card.webp');
    expect(uri).toBe(pathToFileURL(path).href);
    expect(readFileSync(path, 'utf8')).toBe('abc');
    await store.putVariant(sha, 'card.webp', Buffer.from('abc')); // idempotent rewrite
    expect(readdirSync(join(root, 'ab', sha))).toEqual(['card.webp']); // no temp files left behind
  });

  test('uses the public base URL when configured', async () => {
    const store = new FsBlobStore({ root: tmp(), publicBaseUrl: 'https://cdn.example/listings/', fsync: false });
    expect(await store.putVariant(sha, 'thumb.webp', Buffer.from('x'))).toBe(
      `https://cdn.example/listings/ab/${sha}/thumb.webp`,
    );
  });

  test('a manifest round-trips; absent or damaged manifests read as null', async () => {
    const root = tmp();
    const store = new FsBlobStore({ root });
    expect(await store.get(sha)).toBeNull();
    await store.putManifest(image);
    expect(await store.get(sha)).toEqual({
      ...image,
      variants: [{ ...image.variants[0]!, uri: store.uriOf(sha, 'card.webp') }],
    });
    writeFileSync(join(root, 'ab', sha, 'manifest.json'), '{"sha256": "ab');
    expect(await store.get(sha)).toBeNull();
  });

  test.each([
    ['putVariant', (s: FsBlobStore) => s.putVariant(sha, 'card.webp', Buffer.from('x'))],
    ['putManifest', (s: FsBlobStore) => s.putManifest(image)],
  ])('%s on an unwritable root is BLOBSTORE_UNAVAILABLE (retriable)', async (_n, op) => {
    const dir = tmp();
    writeFileSync(join(dir, 'file'), 'not a directory');
    const e = await op(new FsBlobStore({ root: join(dir, 'file') })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RetriableError);
    expect((e as RetriableError).code).toBe('BLOBSTORE_UNAVAILABLE');
    expect((e as RetriableError).retriable).toBe(true);
  });

  test('a stored image reads back with uris of the current public base URL, not the one it was stored under', async () => {
    const root = tmp();
    const before = new FsBlobStore({ root, fsync: false });
    const uri = await before.putVariant(sha, 'card.webp', Buffer.from('x'));
    await before.putManifest({ ...image, variants: [{ ...image.variants[0]!, uri }] });
    const after = new FsBlobStore({ root, publicBaseUrl: 'https://cdn.example/img' });
    expect((await after.get(sha))!.variants.map((v) => v.uri)).toEqual([`https://cdn.example/img/ab/${sha}/card.webp`]);
    expect((await before.get(sha))!.variants.map((v) => v.uri)).toEqual([uri]);
  });

  test('writes leave nothing in the incoming folder; a sweep removes only stale temp files', async () => {
    const root = tmp();
    const store = new FsBlobStore({ root, fsync: false });
    await store.putVariant(sha, 'card.webp', Buffer.from('x'));
    expect(readdirSync(join(root, INCOMING_DIR))).toEqual([]);
    // What a kill -9 strands: one old temp file, and one a live replica is writing right now.
    mkdirSync(join(root, INCOMING_DIR), { recursive: true });
    writeFileSync(join(root, INCOMING_DIR, '111-old.tmp'), 'half');
    writeFileSync(join(root, INCOMING_DIR, '222-new.tmp'), 'half');
    const hourAgo = (Date.now() - 2 * 60 * 60 * 1000) / 1000;
    utimesSync(join(root, INCOMING_DIR, '111-old.tmp'), hourAgo, hourAgo);
    expect(await store.sweepIncoming(60 * 60 * 1000)).toBe(1);
    expect(readdirSync(join(root, INCOMING_DIR))).toEqual(['222-new.tmp']);
    expect(readFileSync(store.pathOf(sha, 'card.webp'), 'utf8')).toBe('x');
  });
});
