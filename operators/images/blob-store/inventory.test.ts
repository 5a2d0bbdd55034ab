/**
 * The filesystem inventory `blobs gc` works from: images and media index entries are told apart, a damaged
 * entry names no image, and an image touched since it was listed is not removed. (S3: test/integration/blobs-gc.)
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsBlobStore } from './fs';
import { fsInventory, type MediaIndexFile, type StoredImageEntry } from './inventory';
import { mediaEntryKey } from './media-index';

const sha = (c: string) => c.repeat(64);
let root: string;
let store: FsBlobStore;

beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'listflow-inventory-'));
  store = new FsBlobStore({ root, fsync: false });
  for (const s of [sha('a'), sha('b')]) {
    await store.putVariant(s, 'card.webp', Buffer.from(`card ${s}`));
    await store.putManifest({ sha256: s, width: 1, height: 1, dhash: '0'.repeat(16), variants: [] });
  }
  await store.putMediaEntry({ id: 'key\nmls\nM1', version: 'ts\nT', sha256: sha('a'), storedAt: '' });
  await store.putMediaEntry({
    id: 'url\nmls\nhttps://x/1.jpg',
    version: 'url\nhttps://x/1.jpg',
    sha256: sha('c'),
    storedAt: '',
  });
  // Damaged: not JSON. And a stray file that is no entry at all.
  const damaged = join(root, ...mediaEntryKey('key\nmls\nM2').split('/'));
  mkdirSync(join(damaged, '..'), { recursive: true });
  writeFileSync(damaged, '{"id":');
  writeFileSync(join(root, 'media', 'README.txt'), 'not an entry');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test('images and media index entries are listed apart; a damaged entry names no image', async () => {
  const inventory = fsInventory(root);
  expect((await all(inventory.list())).map((i) => i.sha256)).toEqual([sha('a'), sha('b')]);
  const entries = await all(inventory.listMediaEntries());
  const bySha = (e: MediaIndexFile) => e.sha256 ?? 'damaged';
  expect(entries.map(bySha).sort()).toEqual([sha('a'), sha('c'), 'damaged'].sort());
  for (const e of entries) expect(e.file).toMatch(/^media\/[0-9a-f]{2}\/[0-9a-f]{64}\.json$/);
  await inventory.removeMediaEntry(entries.find((e) => e.sha256 === null)!);
  expect((await all(inventory.listMediaEntries())).map(bySha).sort()).toEqual([sha('a'), sha('c')].sort());
});

test.each<[string, boolean, boolean]>([
  // what, touched after the listing, removed
  ['untouched since listed: removed', false, true],
  ['touched (reused) since listed: kept', true, false],
])('remove: %s', async (_what, touch, removed) => {
  const old = new Date(Date.now() - 86_400_000);
  for (const f of ['card.webp', 'manifest.json']) utimesSync(store.pathOf(sha('b'), f), old, old);
  const inventory = fsInventory(root);
  const listed = (await all(inventory.list())).find((i) => i.sha256 === sha('b')) as StoredImageEntry;
  if (touch) expect(await store.touch(sha('b'))).toBe(true);
  expect(await inventory.remove(listed)).toBe(removed);
  expect((await store.get(sha('b'))) === null).toBe(removed);
  // A touch never brings a removed image back.
  if (removed) expect(await store.touch(sha('b'))).toBe(false);
});
