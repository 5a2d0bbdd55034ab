/**
 * The sample set `npm run local` ingests: one feed per format (JSON, NDJSON, CSV, RESO OData pages), each from
 * its own seed and under its own source, sharing generated photos plus a few deliberately broken ones (empty,
 * truncated, not an image, missing). `expectedOutcome` runs the pure ingest and normalize code over the files
 * written, so what a local run should report is derived from the generator, never typed in by hand.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseConfig } from '../runtime/config';
import { ListflowError } from '../runtime/errors';
import { collect, plainContext } from '../runtime/operator';
import type { RawListing } from '../schemas/generated/types';
import { ingestConfig } from '../operators/ingest/config';
import { filesOnlyServices } from '../operators/ingest/feed-sources';
import { ingestFeed } from '../operators/ingest/process';
import { normalizeListing } from '../operators/normalize/process';
import { writeSamplePhotos } from './images';
import { type FeedSummary, type SampleFormat, writeSampleFeed } from './writers';

export const SAMPLE_FORMATS: readonly SampleFormat[] = ['json', 'ndjson', 'csv', 'reso-odata'];

export interface SampleSetOptions {
  readonly dir: string;
  readonly seed: number;
  /** Records per feed. */
  readonly count: number;
  /** Sources are `<prefix>-<format>`; listing ids `<source>:<ListingKey>`. */
  readonly sourcePrefix: string;
  readonly badRate?: number;
  readonly pageSize?: number;
}

export interface SampleFeed extends FeedSummary {
  readonly format: SampleFormat;
  readonly source: string;
}

export interface SampleSet {
  readonly dir: string;
  readonly feeds: readonly SampleFeed[];
  readonly photoUrls: readonly string[];
  /** Broken photo URL -> the IMAGE_* code the images operator gives it. */
  readonly brokenPhotos: Readonly<Record<string, string>>;
}

/** Photos the images operator must fail, each for a different reason. */
export async function writeBrokenPhotos(dir: string, goodJpeg: string): Promise<Record<string, string>> {
  await mkdir(dir, { recursive: true });
  const jpeg = await readFile(goodJpeg);
  const files: [string, Uint8Array | null, string][] = [
    ['broken-empty.jpg', new Uint8Array(0), 'IMAGE_CORRUPT'],
    ['broken-not-an-image.png', Buffer.from('<html>404 Not Found</html>\n'), 'IMAGE_UNSUPPORTED'],
    ['broken-truncated.jpg', jpeg.subarray(0, Math.floor(jpeg.length / 3)), 'IMAGE_CORRUPT'],
    ['broken-missing.jpg', null, 'IMAGE_FETCH_FAILED'],
  ];
  const out: Record<string, string> = {};
  for (const [name, bytes, code] of files) {
    const path = join(dir, name);
    if (bytes) await writeFile(path, bytes);
    out[pathToFileURL(path).href] = code;
  }
  return out;
}

export async function writeSampleSet(opts: SampleSetOptions): Promise<SampleSet> {
  // Per seed: runs with other seeds (tests) may write their photos into the same directory meanwhile.
  const photosDir = join(opts.dir, `photos-${opts.seed}`);
  const good = await writeSamplePhotos(photosDir, 20, opts.seed);
  const brokenPhotos = await writeBrokenPhotos(photosDir, new URL(good.find((u) => u.endsWith('.jpg'))!).pathname);
  const photoUrls = [...good, ...Object.keys(brokenPhotos)];
  const feeds: SampleFeed[] = [];
  for (const [i, format] of SAMPLE_FORMATS.entries()) {
    const seed = opts.seed * 10 + i;
    const summary = await writeSampleFeed({
      dir: opts.dir,
      seed,
      count: opts.count,
      format,
      badRate: opts.badRate ?? 0.05,
      pageSize: opts.pageSize ?? Math.max(10, Math.ceil(opts.count / 3)),
      photoUrls,
      name: `sample-${seed}-${format}`,
    });
    feeds.push({ ...summary, format, source: `${opts.sourcePrefix}-${format === 'reso-odata' ? 'odata' : format}` });
  }
  return { dir: opts.dir, feeds, photoUrls, brokenPhotos };
}

export interface ExpectedOutcome {
  readonly feedRecords: number;
  readonly ingested: number;
  readonly ingestRejects: Record<string, number>;
  readonly normalized: number;
  readonly normalizeRejects: Record<string, number>;
  readonly photosOk: number;
  readonly photosFailed: Record<string, number>;
  /** Distinct listing ids that should end up in PostgreSQL. */
  readonly listingIds: readonly string[];
}

const bump = (m: Record<string, number>, k: string, n = 1) => {
  m[k] = (m[k] ?? 0) + n;
};

/** What ingest + normalize + images make of the set, computed in process with the operators' pure code. */
export async function expectedOutcome(set: SampleSet): Promise<ExpectedOutcome> {
  const config = parseConfig(ingestConfig, { fileRoot: set.dir }, { where: 'sample expectations' });
  const ctx = plainContext(config, filesOnlyServices);
  const out = {
    feedRecords: 0,
    ingested: 0,
    ingestRejects: {} as Record<string, number>,
    normalized: 0,
    normalizeRejects: {} as Record<string, number>,
    photosOk: 0,
    photosFailed: {} as Record<string, number>,
  };
  const ids = new Set<string>();
  for (const feed of set.feeds) {
    const job = {
      jobId: 'expected',
      source: feed.source,
      uri: feed.uri,
      format: 'auto' as const,
      submittedAt: new Date(0),
      defaultCountry: null,
      defaultCurrency: null,
    };
    for (const e of await collect(ingestFeed(job, ctx))) {
      if (e.kind === 'reject') {
        out.feedRecords++;
        bump(out.ingestRejects, e.code);
        continue;
      }
      if (e.port !== 'raw') continue;
      out.feedRecords++;
      out.ingested++;
      try {
        const l = normalizeListing(e.value as RawListing, { allowFilePhotoUrls: true });
        out.normalized++;
        ids.add(l.id);
        for (const p of l.photos) {
          const code = set.brokenPhotos[p.url];
          if (code) bump(out.photosFailed, code);
          else out.photosOk++;
        }
      } catch (err) {
        bump(out.normalizeRejects, err instanceof ListflowError ? err.code : 'UNEXPECTED');
      }
    }
  }
  return { ...out, listingIds: [...ids].sort() };
}
