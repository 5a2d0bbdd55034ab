import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { parseConfig } from '../runtime/config';
import { ListflowError } from '../runtime/errors';
import { collect, plainContext } from '../runtime/operator';
import type { RawListing } from '../schemas/generated/types';
import { ingestConfig } from '../operators/ingest/config';
import { filesOnlyServices } from '../operators/ingest/feed-sources';
import { ingestFeed } from '../operators/ingest/process';
import { normalizeListing } from '../operators/normalize/process';
import { sampleListings, writeSampleFeed, writeSampleFeeds } from './index';

const dir = mkdtempSync(join(tmpdir(), 'sample-feeds-'));

/** Runs a feed through ingest and normalize in process and counts the outcomes by code. */
async function pipeline(uri: string) {
  const config = parseConfig(ingestConfig, { fileRoot: dir }, { where: 'test' });
  const ctx = plainContext(config, filesOnlyServices);
  const outcomes: Record<string, number> = {};
  let raw = 0;
  let listings = 0;
  const keys = new Set<string>();
  for (const e of await collect(
    ingestFeed(
      {
        jobId: 'j',
        source: 'sample',
        uri,
        format: 'auto',
        submittedAt: new Date(0),
        defaultCountry: null,
        defaultCurrency: null,
      },
      ctx,
    ),
  )) {
    if (e.kind === 'reject') outcomes[e.code] = (outcomes[e.code] ?? 0) + 1;
    else if (e.port === 'raw') {
      raw++;
      try {
        const l = normalizeListing(e.value as RawListing, { allowFilePhotoUrls: true });
        listings++;
        keys.add(l.id);
      } catch (err) {
        const code = err instanceof ListflowError ? err.code : `unexpected ${(err as Error).message}`;
        outcomes[code] = (outcomes[code] ?? 0) + 1;
      }
    }
  }
  return { raw, listings, rejects: outcomes, distinct: keys.size };
}

describe('sample feeds', () => {
  test('are deterministic from the seed', () => {
    const a = [...sampleListings({ seed: 42, count: 300 })];
    const b = [...sampleListings({ seed: 42, count: 300 })];
    const c = [...sampleListings({ seed: 43, count: 300 })];
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(a)).not.toBe(JSON.stringify(c));
  });

  test('mix US and Canadian listings with a few percent broken', () => {
    const all = [...sampleListings({ seed: 1, count: 2000 })];
    const canadian = all.filter((s) => /^[A-Z]\d[A-Z]/i.test(String(s.record.PostalCode))).length;
    const broken = all.filter((s) => s.expected.stage !== 'ok').length;
    expect(canadian / all.length).toBeGreaterThan(0.2);
    expect(canadian / all.length).toBeLessThan(0.4);
    expect(broken / all.length).toBeGreaterThan(0.01);
    expect(broken / all.length).toBeLessThan(0.06);
  });

  test.each([
    { format: 'json', gzip: false },
    { format: 'ndjson', gzip: false },
    { format: 'csv', gzip: false },
    { format: 'csv', gzip: true },
    { format: 'ndjson', gzip: true },
    { format: 'reso-odata', gzip: false },
  ] as const)(
    '$format (gzip $gzip) goes through ingest and normalize exactly as expected',
    async ({ format, gzip }) => {
      const summary = await writeSampleFeed({
        dir,
        seed: 7,
        count: 1500,
        format,
        gzip,
        pageSize: 400,
        badRate: 0.05,
        name: `f-${format}-${gzip}`,
        photoUrls: ['file:///p/1.jpg', 'https://img.example.com/2.jpg'],
      });
      const got = await pipeline(summary.uri);
      expect(got).toEqual({
        raw: summary.raw,
        listings: summary.listings,
        rejects: summary.rejects,
        distinct: summary.listings,
      });
      expect(summary.total).toBe(1500);
      expect(Object.keys(summary.rejects).sort()).toEqual([
        'INGEST_RECORD_NO_LISTING_KEY',
        'INGEST_RECORD_UNPARSEABLE',
        'NORMALIZE_MODIFIED_AT_INVALID',
        'NORMALIZE_POSTAL_CODE_INVALID',
        'NORMALIZE_PRICE_INVALID',
        'NORMALIZE_STATUS_UNKNOWN',
      ]);
      if (format === 'reso-odata') expect(summary.files).toHaveLength(4);
    },
  );

  test('writeSampleFeeds writes photos as real JPEG and PNG files and all four formats', async () => {
    const out = join(dir, 'all');
    const feeds = await writeSampleFeeds({ dir: out, seed: 3, count: 50, photos: 4 });
    expect(Object.keys(feeds)).toEqual(['json', 'ndjson', 'csv', 'reso-odata']);
    const line = readFileSync(fileURLToPath(feeds.ndjson.uri), 'utf8').split('\n')[0]!;
    const url = (JSON.parse(line) as { Media: { MediaURL: string }[] }).Media[0]!.MediaURL;
    expect(url).toMatch(/^file:\/\/.*\/photos\/photo-\d\.(jpg|png)$/);
    const formats = await Promise.all(
      [0, 1].map(async (i) => (await sharp(join(out, 'photos', `photo-${i}.${i ? 'png' : 'jpg'}`)).metadata()).format),
    );
    expect(formats).toEqual(['jpeg', 'png']);
  });
});
