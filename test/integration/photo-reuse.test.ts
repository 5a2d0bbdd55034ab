/**
 * No needless photo work, on the real platform: normalize and images in worker processes on the real broker
 * and schema registry, variants in the platform's S3 store (S3Proxy, as `npm run local` runs it), photos
 * served by the project's RESO test server, whose request log counts every photo fetch.
 *
 * Three listings with 6 photos (MediaKey, MediaModificationTimestamp, URLs signed per round) go through three
 * rounds: the first version fetches each photo once; a price change with the same photos under new signed
 * URLs fetches none and gives the same assets; replacing one photo (new timestamp, new bytes) and removing
 * another fetches exactly that one photo, whose asset changes while the rest stay, and the removed one leaves
 * the listing's assets. The store then holds exactly the images and media index entries that says.
 */
import { createHash, randomBytes } from 'node:crypto';
import { platformEndpoints, platformLayout } from '../../infra/layout';
import { removeLocalObjects } from '../../infra/s3proxy';
import { parseBlobStore, s3EndpointName } from '../../operators/images/blob-store/index';
import { type MediaIndexFile, type StoredImageEntry, s3Inventory } from '../../operators/images/blob-store/inventory';
import { createS3Client } from '../../operators/images/blob-store/s3';
import { imagesConfig } from '../../operators/images/config';
import { fromEnv, parseConfig } from '../../runtime/config';
import type { EnrichedListing, RawListing } from '../../schemas/generated/types';
import * as fx from '../fixtures/images/fixtures';
import { freePort } from '../support/k8s-pods';
import { connectedKafka, scratchDir } from '../support/kafka-suite';
import {
  createPipelineTopics,
  startStepWorker,
  testListingsPipeline,
  whileWorkersRun,
} from '../support/pipeline-workers';
import { PRESETS, ResoDataset, type ResoServer, startResoServer } from '../support/reso-server';
import { produceRecords, startReader, uniqueName, waitFor } from '../support/streams';

const broker = connectedKafka();
const scratch = scratchDir('itest-photo-reuse-');
// The server's source name is fixed, so the photo bytes it picks per path are the same on every run.
const SERVER_SOURCE = 'photos';
const platform = { ...platformEndpoints(platformLayout()), ...process.env };
const prefix = `it-reuse-${randomBytes(4).toString('hex')}`;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let server: ResoServer;
let dataset: ResoDataset;

beforeAll(async () => {
  // Distinct bytes per photo path: many photos, so two paths rarely share one (checked below where it matters).
  const photoBytes = await Promise.all(Array.from({ length: 96 }, (_, i) => fx.photoJpeg(240, 180, { seed: i + 1 })));
  dataset = new ResoDataset({ seed: 15, count: 3, deletes: 'status' });
  server = await startResoServer({
    sources: [{ name: SERVER_SOURCE, dataset, quirks: PRESETS.plain }],
    photoBytes,
  });
});

afterAll(async () => {
  await server?.close();
  await removeLocalObjects(platformLayout(), `${prefix}/`);
});

/** The dataset's listings as RawListing records of `source`, Media URLs signed with `sig` (a new one per round). */
function rawRecords(source: string, keys: readonly string[], round: number): { key: string; value: RawListing }[] {
  return keys.map((listingKey, position) => {
    const r = dataset.records.get(listingKey)!;
    const { Media, ...fields } = r;
    const payload = {
      ...fields,
      Media: Media.map(({ MediaPath, ...m }) => {
        const url = new URL(`${server.url}/${SERVER_SOURCE}${MediaPath}`);
        url.searchParams.set('sig', `round-${round}`);
        return { ...m, MediaURL: url.href };
      }),
    };
    return {
      key: `${source}:${listingKey}`,
      value: {
        jobId: `itest-reuse-${round}`,
        source,
        listingKey,
        position,
        receivedAt: new Date(),
        defaultCountry: null,
        defaultCurrency: null,
        payload: JSON.stringify(payload),
      },
    };
  });
}

const mediaRequests = () => server.log.filter((r) => r.kind === 'media');

/** The bytes the server serves for a photo URL, fetched outside the counted rounds. */
async function servedSha(url: string): Promise<string> {
  return sha256(Buffer.from(await (await fetch(url)).arrayBuffer()));
}

test('unchanged photos are not fetched again, a changed one once, a removed one leaves (S3 store)', async () => {
  const source = uniqueName('reuse').replace('-', '');
  const keys = [...dataset.records.keys()];
  const photosPer = keys.map((k) => dataset.records.get(k)!.Media.length);
  expect(photosPer).toEqual([1, 2, 3]);
  const bigKey = keys[2]!;

  const p = testListingsPipeline(scratch.path);
  await createPipelineTopics(broker.admin, p);
  const enriched = await startReader<EnrichedListing>(broker.kafka, p.topics.enriched, 'EnrichedListing');
  const dlqs = await Promise.all(['normalize', 'images'].map((s) => startReader<never>(broker.kafka, p.dlq(s))));
  const metricsPort = await freePort();
  // The platform's S3 settings (endpoint, path style, public-read, public base URL, S3Proxy's identity).
  const s3Env = Object.fromEntries(
    Object.entries(platformEndpoints(platformLayout())).filter(
      ([k]) => k.startsWith('LISTFLOW_IMAGES_') || k.startsWith('AWS_'),
    ),
  );
  const imagesEnv = {
    ...s3Env,
    LISTFLOW_IMAGES_BLOB_STORE: `s3://listflow/${prefix}`,
    LISTFLOW_IMAGES_ALLOW_HOSTS: new URL(server.url).host,
    LISTFLOW_IMAGES_CONCURRENCY: '2',
    LISTFLOW_HTTP_PORT: String(metricsPort),
  };
  const workers = [startStepWorker(p, 'normalize', {}), startStepWorker(p, 'images', imagesEnv)];
  // A listing may be processed twice (at-least-once: a rebalance or a retry re-runs a job), so rounds are told
  // apart by their signed URLs (sig=round-N), not by counting enriched records.
  const ofRound = (e: EnrichedListing, n: number) => e.images.every((i) => i.sourceUrl.includes(`sig=round-${n}`));
  const latest = (n: number) => {
    const byKey = new Map<string, EnrichedListing>();
    for (const r of enriched.records) if (ofRound(r.value!, n)) byKey.set(r.key!, r.value!);
    return byKey;
  };
  const round = async (records: { key: string; value: RawListing }[], n: number) => {
    const before = mediaRequests().length;
    await produceRecords(broker.kafka, p.topics.raw, 'RawListing', records);
    const done = await waitFor(() => latest(n).size >= records.length, 120_000, 100);
    if (!done) for (const w of workers) console.log(w.output().slice(-3000));
    expect(done).toBe(true);
    return mediaRequests().slice(before);
  };
  const photoCounts = async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const of = (outcome: string) =>
      Number(
        new RegExp(`^listflow_items_total\\{[^}]*item="photo"[^}]*outcome="${outcome}"[^}]*\\} (\\d+)`, 'm').exec(
          text,
        )?.[1] ?? 0,
      );
    return { ok: of('ok'), reused: of('reused'), failed: of('failed') };
  };

  try {
    await whileWorkersRun(workers, async () => {
      // Round 1: every photo fetched once.
      const first = await round(rawRecords(source, keys, 1), 1);
      expect(first.map((r) => r.status)).toEqual(Array(6).fill(200));
      expect(new Set(first.map((r) => r.target.split('?')[0])).size).toBe(6);
      const v1 = latest(1);
      // Counted per attempt: a job run twice reuses what its first run stored (reused may then be above 0).
      const c1 = await photoCounts();
      expect({ ok: c1.ok, failed: c1.failed }).toEqual({ ok: 6, failed: 0 });

      // Round 2: a price change on each listing; the photos are the same, their URLs signed anew.
      for (const k of keys) dataset.changePrice(k, 777_000);
      expect(await round(rawRecords(source, keys, 2), 2)).toEqual([]);
      const v2 = latest(2);
      const c2 = await photoCounts();
      expect({ ok: c2.ok, failed: c2.failed }).toEqual({ ok: 6, failed: 0 });
      expect(c2.reused - c1.reused).toBeGreaterThanOrEqual(6);
      for (const k of keys) {
        const a = v1.get(`${source}:${k}`)!;
        const b = v2.get(`${source}:${k}`)!;
        expect(b.listing.price.amountMinor).toBe(77_700_000);
        expect(b.images.map((i) => i.sourceUrl).every((u) => u.includes('sig=round-2'))).toBe(true);
        // The same assets: same content hashes and the same variant URLs.
        const strip = (e: EnrichedListing) => e.images.map(({ sourceUrl: _u, ...rest }) => rest);
        expect(strip(b)).toEqual(strip(a));
        expect(b.images.every((i) => i.status === 'OK')).toBe(true);
      }

      // Round 3: the big listing's first photo is replaced (new MediaModificationTimestamp, new path) and its
      // last removed; the other two listings come again unchanged.
      const beforeChange = dataset.records.get(bigKey)!.Media.map((m) => m.MediaKey);
      dataset.changePhotos(bigKey, { replace: true, removeLast: true });
      const big = dataset.records.get(bigKey)!;
      expect(big.Media.map((m) => m.MediaKey)).toEqual(beforeChange.slice(0, 2));
      const third = await round(rawRecords(source, keys, 3), 3);
      // Path and version of a photo request (the query's encoding aside).
      const photoOf = (target: string) => {
        const u = new URL(target, 'http://x');
        return `${u.pathname} v=${u.searchParams.get('v')}`;
      };
      expect(third.map((r) => photoOf(r.target))).toEqual([photoOf(`/${SERVER_SOURCE}${big.Media[0]!.MediaPath}`)]);
      expect(third[0]!.status).toBe(200);
      const v3 = latest(3);
      // Round 3's 5 photos: 4 reused, the replaced one fetched (once: the server saw one request above).
      const c3 = await photoCounts();
      expect({ ok: c3.ok, failed: c3.failed }).toEqual({ ok: 7, failed: 0 });
      expect(c3.reused - c2.reused).toBeGreaterThanOrEqual(4);

      const oldBig = v1.get(`${source}:${bigKey}`)!.images;
      const newBig = v3.get(`${source}:${bigKey}`)!.images;
      expect(newBig).toHaveLength(2);
      const changedSha = await servedSha(newBig[0]!.sourceUrl);
      expect(changedSha).not.toBe(oldBig[0]!.sha256); // the replaced photo really has other bytes
      expect(newBig.map((i) => i.sha256)).toEqual([changedSha, oldBig[1]!.sha256]);
      expect(newBig[0]!.variants.map((v) => v.uri)).not.toEqual(oldBig[0]!.variants.map((v) => v.uri));
      expect(newBig[1]!.variants).toEqual(oldBig[1]!.variants);
      for (const k of keys.slice(0, 2)) {
        expect(v3.get(`${source}:${k}`)!.images.map((i) => i.sha256)).toEqual(
          v1.get(`${source}:${k}`)!.images.map((i) => i.sha256),
        );
      }
    });
  } finally {
    await Promise.all([enriched.stop(), ...dlqs.map((d) => d.stop())]);
  }
  expect(dlqs.map((d) => d.records.length)).toEqual([0, 0]);

  // The store: one image per distinct photo ever stored (6 + the replacement), each complete, and every
  // variant URL an asset names is one of its objects; one index entry per MediaKey, the replaced photo's
  // pointing at its new image.
  const env = { ...platform, LISTFLOW_IMAGES_BLOB_STORE: `s3://listflow/${prefix}` };
  const config = parseConfig(imagesConfig, fromEnv(imagesConfig, env, 'LISTFLOW_IMAGES_'), {
    where: 'test',
    envPrefix: 'LISTFLOW_IMAGES_',
  });
  const location = parseBlobStore(config.blobStore);
  if (location.kind !== 's3') throw new Error('expected the S3 store');
  process.env.AWS_ACCESS_KEY_ID ??= platform.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY ??= platform.AWS_SECRET_ACCESS_KEY;
  const inventory = s3Inventory(createS3Client(config), {
    bucket: location.bucket,
    prefix: location.prefix,
    endpoint: s3EndpointName(config),
  });
  try {
    const stored: StoredImageEntry[] = [];
    for await (const i of inventory.list()) stored.push(i);
    const entries: MediaIndexFile[] = [];
    for await (const e of inventory.listMediaEntries()) entries.push(e);
    const all = [...latest(3).values()].flatMap((e) => e.images);
    const everAssets = enriched.records.flatMap((r) => r.value!.images);
    const distinct = new Set(everAssets.map((a) => a.sha256!));
    expect(distinct.size).toBe(7);
    expect(new Set(stored.map((i) => i.sha256))).toEqual(distinct);
    for (const i of stored) {
      const names = i.files.map((f) => f.slice(f.lastIndexOf('/') + 1)).sort();
      expect(names).toEqual(['card.webp', 'full.webp', 'manifest.json', 'thumb.webp']);
    }
    const objectKeys = new Set(stored.flatMap((i) => i.files));
    for (const a of all)
      for (const v of a.variants) expect(objectKeys.has(new URL(v.uri).pathname.replace('/listflow/', ''))).toBe(true);
    // One entry per MediaKey ever seen (the removed photo's stays until gc finds its image gone); the
    // replaced photo's entry now names its new image, so no entry names the old one.
    expect(entries).toHaveLength(6);
    const [oldFirst, newFirst] = [latest(1), latest(3)].map((m) => m.get(`${source}:${bigKey}`)!.images[0]!.sha256);
    expect(entries.filter((e) => e.sha256 === newFirst)).toHaveLength(1);
    expect(entries.filter((e) => e.sha256 === oldFirst)).toHaveLength(0);
  } finally {
    inventory.close();
  }
});
