/**
 * `listflow blobs gc` against the real PostgreSQL (a schema of its own) and a filesystem blob store (then the
 * platform's S3Proxy): a photo a
 * published listing references stays, an unreferenced one older than the grace period goes (manifest and
 * variants), an unreferenced young one stays, and a dry run deletes nothing. Media index entries that point at
 * removed or never-stored images go too (a young dangling one stays: its image may be on its way), and an
 * image an images worker touched (reused) after gc listed the store is not removed.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { blobsCommands } from '../../cli/commands/blobs';
import { platformEndpoints, platformLayout } from '../../infra/layout';
import { FsBlobStore } from '../../operators/images/blob-store/fs';
import { fsInventory, s3Inventory, type StoredImageEntry } from '../../operators/images/blob-store/inventory';
import { createS3Client, S3BlobStore } from '../../operators/images/blob-store/s3';
import { imagesConfig } from '../../operators/images/config';
import { removeLocalObjects } from '../../infra/s3proxy';
import { fromEnv } from '../../runtime/config';
import { publishConfig } from '../../operators/publish/config';
import { createPgDb, type Db } from '../../operators/publish/db';
import publish from '../../operators/publish/index';
import { applyMigrations } from '../../operators/publish/migrations';
import { parseConfig } from '../../runtime/config';
import { plainContext } from '../../runtime/operator';
import type { EnrichedListing, ImageAsset } from '../../schemas/generated/types';
import { invoke } from '../support/cli-invoke';
import { testListing } from '../support/listings';

// The platform the environment names (LISTFLOW_INFRA_* ports, e.g. /work/helper-platform.sh); an exported URL wins.
const BASE = process.env.LISTFLOW_POSTGRES_URL ?? platformEndpoints(platformLayout()).LISTFLOW_POSTGRES_URL!;
const SCHEMA = `blobs_it_${randomBytes(4).toString('hex')}`;
const saved = { ...process.env };
const sha = (c: string) => c.repeat(64);
const REFERENCED = sha('a');
const OLD = sha('b');
const YOUNG = sha('c');
const DAY = 86_400_000;
let admin: pg.Client;
let db: Db;
let root: string;
let store: FsBlobStore;

/** A media index entry for `sha256`, written `ageMs` ago. */
async function storeEntry(id: string, sha256: string, ageMs: number): Promise<void> {
  await store.putMediaEntry({ id, version: 'ts\nT1', sha256, storedAt: '' });
  const t = new Date(Date.now() - ageMs);
  utimesSync(store.mediaEntryPath(id), t, t);
}

async function storeImage(sha256: string, ageMs: number): Promise<void> {
  await store.putVariant(sha256, 'card.webp', Buffer.from(`card ${sha256}`));
  await store.putManifest({ sha256, width: 10, height: 10, dhash: '0'.repeat(16), variants: [] });
  const t = new Date(Date.now() - ageMs);
  for (const f of ['card.webp', 'manifest.json']) utimesSync(store.pathOf(sha256, f), t, t);
}

const asset = (sha256: string): ImageAsset => ({
  sourceUrl: `https://photos.example/${sha256.slice(0, 4)}.jpg`,
  order: 0,
  status: 'OK',
  reasonCode: null,
  reason: null,
  sha256,
  width: 10,
  height: 10,
  dhash: '0'.repeat(16),
  variants: [],
});

beforeAll(async () => {
  admin = new pg.Client({ connectionString: BASE });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${SCHEMA}`);
  const u = new URL(BASE);
  u.searchParams.set('options', `-c search_path=${SCHEMA}`);
  const url = u.toString();
  db = createPgDb({ url, poolSize: 2, statementTimeoutMs: 10_000, connectTimeoutMs: 5_000 });
  await applyMigrations(db);
  const listing = testListing('it:gc');
  await publish.processBatch!(
    [
      {
        record: { listing, images: [asset(REFERENCED)], enrichedAt: new Date() } as EnrichedListing,
        input: { topic: 'listings.enriched', partition: 0, offset: '0', key: listing.id, headers: {}, timestamp: '0' },
      },
    ],
    plainContext(parseConfig(publishConfig, { postgresUrl: url }, { where: 'test' }), { db }),
  );
  root = mkdtempSync(join(tmpdir(), 'blobs-gc-'));
  store = new FsBlobStore({ root, fsync: false });
  await storeImage(REFERENCED, 30 * DAY);
  await storeImage(OLD, 30 * DAY);
  await storeImage(YOUNG, DAY);
  await storeEntry('key\nit\nM-referenced', REFERENCED, 30 * DAY);
  await storeEntry('key\nit\nM-old', OLD, 30 * DAY);
  await storeEntry('key\nit\nM-dangling', sha('d'), 30 * DAY);
  await storeEntry('key\nit\nM-on-its-way', sha('e'), 0);
  process.env.LISTFLOW_POSTGRES_URL = url;
  process.env.LISTFLOW_IMAGES_BLOB_STORE = 'file';
  process.env.LISTFLOW_IMAGES_BLOB_ROOT = root;
});

afterAll(async () => {
  for (const k of [
    'LISTFLOW_POSTGRES_URL',
    'LISTFLOW_IMAGES_BLOB_STORE',
    'LISTFLOW_IMAGES_BLOB_ROOT',
    'LISTFLOW_IMAGES_S3_ENDPOINT',
    'LISTFLOW_IMAGES_S3_FORCE_PATH_STYLE',
    'LISTFLOW_IMAGES_S3_REGION',
  ]) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  await db?.close();
  await admin?.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await admin?.end();
  rmSync(root, { recursive: true, force: true });
});

const present = (s: string) => existsSync(store.pathOf(s, 'manifest.json')) && existsSync(store.pathOf(s, 'card.webp'));
const entries = () =>
  ['referenced', 'old', 'dangling', 'on-its-way'].filter((n) => existsSync(store.mediaEntryPath(`key\nit\nM-${n}`)));

test('a dry run lists the old unreferenced photo and deletes nothing', async () => {
  const r = await invoke(blobsCommands, ['blobs', 'gc', '--dry-run', '--json']);
  expect(r.error).toBeUndefined();
  const out = JSON.parse(r.stdout) as {
    removed: Array<{ sha256: string; files: number }>;
    referenced: number;
    mediaEntries: number;
    mediaEntriesRemoved: number;
  };
  expect(out.removed).toEqual([expect.objectContaining({ sha256: OLD, files: 2 })]);
  expect(out.referenced).toBe(1);
  expect([out.mediaEntries, out.mediaEntriesRemoved]).toEqual([4, 2]);
  expect([present(REFERENCED), present(OLD), present(YOUNG)]).toEqual([true, true, true]);
  expect(entries()).toEqual(['referenced', 'old', 'dangling', 'on-its-way']);
});

test('gc removes the old unreferenced photo only; the grace period keeps the young one', async () => {
  const r = await invoke(blobsCommands, ['blobs', 'gc', '--grace', '7d']);
  expect(r.error).toBeUndefined();
  expect(r.stdout).toContain(`removed ${OLD}`);
  expect([present(REFERENCED), present(OLD), present(YOUNG)]).toEqual([true, false, true]);
  expect(existsSync(join(root, OLD.slice(0, 2), OLD))).toBe(false);
  // The entries of the removed image and of one never stored went; the referenced one's and a young one stay.
  expect(entries()).toEqual(['referenced', 'on-its-way']);
  // A shorter grace period lets the young one go too; the referenced one never goes.
  const again = await invoke(blobsCommands, ['blobs', 'gc', '--grace', '1h']);
  expect(again.error).toBeUndefined();
  expect([present(REFERENCED), present(YOUNG)]).toEqual([true, false]);
});

test('an image reused (touched) after gc listed the store is not removed', async () => {
  const TOUCHED = sha('f');
  await storeImage(TOUCHED, 30 * DAY);
  const inventory = fsInventory(root);
  const listed: StoredImageEntry[] = [];
  for await (const i of inventory.list()) if (i.sha256 === TOUCHED) listed.push(i);
  expect(listed).toHaveLength(1);
  expect(await store.touch(TOUCHED)).toBe(true); // an images worker reuses it now
  expect(await inventory.remove(listed[0]!)).toBe(false);
  expect(present(TOUCHED)).toBe(true);
  // Listed again, it is young: within any grace period of more than a few seconds.
  const again: StoredImageEntry[] = [];
  for await (const i of inventory.list()) if (i.sha256 === TOUCHED) again.push(i);
  expect(Date.now() - again[0]!.modifiedAt).toBeLessThan(60_000);
  expect(await inventory.remove(again[0]!)).toBe(true);
  expect(present(TOUCHED)).toBe(false);
});

// S3 (the platform's S3Proxy): LastModified cannot be set back, so the grace period is shown by a long one
// keeping both fresh images and a zero one letting the unreferenced one go.
test('on S3: dry run keeps all, the grace period keeps fresh photos, then only the unreferenced one goes', async () => {
  const platform = { ...platformEndpoints(platformLayout()), ...process.env };
  const prefix = `it-gc-${randomBytes(4).toString('hex')}`;
  const env = { ...platform, LISTFLOW_IMAGES_BLOB_STORE: `s3://listflow/${prefix}` };
  process.env.AWS_ACCESS_KEY_ID ??= platform.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY ??= platform.AWS_SECRET_ACCESS_KEY;
  const config = parseConfig(imagesConfig, fromEnv(imagesConfig, env, 'LISTFLOW_IMAGES_'), {
    where: 'test',
    envPrefix: 'LISTFLOW_IMAGES_',
  });
  const client = createS3Client(config);
  const s3 = new S3BlobStore({
    client,
    target: { bucket: 'listflow', prefix: `${prefix}/`, region: config.s3Region, endpoint: String(config.s3Endpoint) },
  });
  try {
    for (const s of [REFERENCED, OLD]) {
      await s3.putVariant(s, 'card.webp', Buffer.from(`card ${s}`));
      await s3.putManifest({ sha256: s, width: 10, height: 10, dhash: '0'.repeat(16), variants: [] });
      await s3.putMediaEntry({ id: `key\nit\n${s}`, version: 'ts\nT1', sha256: s, storedAt: '' });
    }
    process.env.LISTFLOW_IMAGES_BLOB_STORE = `s3://listflow/${prefix}`;
    for (const k of [
      'LISTFLOW_IMAGES_S3_ENDPOINT',
      'LISTFLOW_IMAGES_S3_FORCE_PATH_STYLE',
      'LISTFLOW_IMAGES_S3_REGION',
    ]) {
      if (platform[k] !== undefined) process.env[k] = platform[k];
    }
    const removed = async (argv: string[]) => {
      const r = await invoke(blobsCommands, ['blobs', 'gc', '--json', ...argv]);
      expect(r.error).toBeUndefined();
      return (JSON.parse(r.stdout) as { removed: Array<{ sha256: string }> }).removed.map((i) => i.sha256);
    };
    expect(await removed(['--grace', '0s', '--dry-run'])).toEqual([OLD]);
    expect(await removed(['--grace', '1h'])).toEqual([]);
    // An image touched (reused by an images worker) after gc listed the store stays: the touch is a copy of
    // the manifest onto itself, which moves its LastModified (whole seconds on S3, hence the pause).
    const TOUCHED = sha('f');
    await s3.putVariant(TOUCHED, 'card.webp', Buffer.from('card f'));
    await s3.putManifest({ sha256: TOUCHED, width: 10, height: 10, dhash: '0'.repeat(16), variants: [] });
    const inventory = s3Inventory(client, { bucket: 'listflow', prefix: `${prefix}/`, endpoint: 'S3Proxy' });
    const listed: StoredImageEntry[] = [];
    for await (const i of inventory.list()) if (i.sha256 === TOUCHED) listed.push(i);
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await s3.touch(TOUCHED)).toBe(true);
    expect(await inventory.remove(listed[0]!)).toBe(false);
    expect((await s3.get(TOUCHED))?.sha256).toBe(TOUCHED);
    expect(await s3.touch(sha('9'))).toBe(false); // a missing image is never recreated by a touch
    expect(await s3.get(sha('9'))).toBeNull();

    expect((await removed(['--grace', '0s'])).sort()).toEqual([OLD, TOUCHED].sort());
    expect([await s3.get(REFERENCED), await s3.get(OLD)].map((m) => m?.sha256 ?? null)).toEqual([REFERENCED, null]);
    // The removed image's index entry went with it; the referenced one's stays.
    const entryOf = async (s: string) => (await s3.getMediaEntry(`key\nit\n${s}`))?.sha256 ?? null;
    expect([await entryOf(REFERENCED), await entryOf(OLD)]).toEqual([REFERENCED, null]);
    expect(await removed(['--grace', '0s'])).toEqual([]);
  } finally {
    client.destroy();
    await removeLocalObjects(platformLayout(), `${prefix}/`);
  }
});
