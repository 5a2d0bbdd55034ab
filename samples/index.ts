/**
 * Sample MLS feeds for tests, benchmarks and local runs: deterministic from a seed, US and Canadian listings
 * with a few percent deliberately broken, in JSON, NDJSON, CSV (optionally gzipped) and RESO OData pages,
 * with photos as file:// URLs of small generated JPEG/PNG images. The CLI calls `writeSampleFeeds`.
 */
import { join } from 'node:path';
import { writeSamplePhotos } from './images';
import { type FeedSummary, type SampleFormat, writeSampleFeed } from './writers';

export {
  prng,
  sampleListings,
  varyFieldNames,
  type Expected,
  type SampleOptions,
  type SampleRecord,
} from './generator';
export { writeSamplePhotos } from './images';
export { CSV_COLUMNS, type FeedSummary, type SampleFormat, type WriteFeedOptions, writeSampleFeed } from './writers';

export interface SampleFeedsOptions {
  readonly dir: string;
  readonly seed: number;
  readonly count: number;
  readonly formats?: readonly SampleFormat[];
  readonly gzip?: boolean;
  readonly badRate?: number;
  /** Generated photos to draw from (default 8; 0 for none). */
  readonly photos?: number;
  readonly pageSize?: number;
}

/** Writes photos once, then one feed per format, all from the same seed. */
export async function writeSampleFeeds(opts: SampleFeedsOptions): Promise<Record<SampleFormat, FeedSummary>> {
  const photoCount = opts.photos ?? 8;
  const photoUrls = photoCount > 0 ? await writeSamplePhotos(join(opts.dir, 'photos'), photoCount, opts.seed) : [];
  const out: Partial<Record<SampleFormat, FeedSummary>> = {};
  for (const format of opts.formats ?? (['json', 'ndjson', 'csv', 'reso-odata'] as const)) {
    out[format] = await writeSampleFeed({
      dir: opts.dir,
      seed: opts.seed,
      count: opts.count,
      format,
      gzip: opts.gzip,
      badRate: opts.badRate,
      pageSize: opts.pageSize,
      photoUrls,
      name: `sample-${opts.seed}-${format}`,
    });
  }
  return out as Record<SampleFormat, FeedSummary>;
}
