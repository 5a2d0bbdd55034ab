/**
 * Writes sample feeds to disk in the four formats ingest reads (optionally gzipped), streaming, so a
 * 500,000-record feed is written in bounded memory. Returns the feed's URI and the expected outcome.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createGzip } from 'node:zlib';
import type { Writable } from 'node:stream';
import { type SampleOptions, type SampleRecord, sampleListings, varyFieldNames } from './generator';

export type SampleFormat = 'json' | 'ndjson' | 'csv' | 'reso-odata';

export interface WriteFeedOptions extends SampleOptions {
  readonly dir: string;
  readonly format: SampleFormat;
  readonly gzip?: boolean;
  /** Records per OData page (default 1000). */
  readonly pageSize?: number;
  /** File name without extension (default `sample-<seed>`). */
  readonly name?: string;
}

export interface FeedSummary {
  /** The URI to submit (the first page for OData). */
  readonly uri: string;
  readonly files: string[];
  /** Records in the feed, broken ones included. */
  readonly total: number;
  /** Records ingest should emit as RawListing. */
  readonly raw: number;
  /** Records normalize should turn into a Listing. */
  readonly listings: number;
  /** Expected rejects by code, ingest's and normalize's. */
  readonly rejects: Record<string, number>;
}

export const CSV_COLUMNS = [
  'ListingKey',
  'ListingId',
  'StandardStatus',
  'PropertyType',
  'ListPrice',
  'StreetNumber',
  'StreetDirPrefix',
  'StreetName',
  'StreetSuffix',
  'UnitNumber',
  'City',
  'StateOrProvince',
  'PostalCode',
  'Country',
  'Latitude',
  'Longitude',
  'LivingArea',
  'LivingAreaUnits',
  'BedroomsTotal',
  'BathroomsTotalInteger',
  'YearBuilt',
  'PublicRemarks',
  'ModificationTimestamp',
  'Media',
];

const csvField = (v: unknown): string => {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
};

class Sink {
  private readonly file;
  private readonly out: Writable;
  constructor(
    readonly path: string,
    gzip: boolean,
  ) {
    this.file = createWriteStream(path);
    if (gzip) {
      const gz = createGzip();
      gz.pipe(this.file);
      this.out = gz;
    } else this.out = this.file;
  }
  async write(s: string): Promise<void> {
    if (!this.out.write(s)) await once(this.out, 'drain');
  }
  async close(): Promise<void> {
    this.out.end();
    await once(this.file, 'close');
  }
}

function text(s: SampleRecord, position: number, format: SampleFormat): string {
  if (s.unparseable) {
    // A record ingest cannot read, in the way each format breaks.
    return format === 'csv'
      ? `${csvField(s.record.ListingKey)},only-two-fields`
      : `{"ListingKey": "${String(s.record.ListingKey)}", "ListPrice": tru}`;
  }
  if (format === 'csv') return CSV_COLUMNS.map((c) => csvField(s.record[c])).join(',');
  return JSON.stringify(varyFieldNames(s.record, position));
}

export async function writeSampleFeed(opts: WriteFeedOptions): Promise<FeedSummary> {
  await mkdir(opts.dir, { recursive: true });
  const name = opts.name ?? `sample-${opts.seed}`;
  const gz = opts.gzip ? '.gz' : '';
  const ext = opts.format === 'csv' ? 'csv' : opts.format === 'ndjson' ? 'ndjson' : 'json';
  const counts = { total: 0, raw: 0, listings: 0 };
  const rejects: Record<string, number> = {};
  const files: string[] = [];
  const pageSize = opts.pageSize ?? 1000;
  const pagePath = (n: number) => join(opts.dir, `${name}-page-${n}.json${gz}`);
  let page = 1;
  let inPage = 0;
  let sink = new Sink(opts.format === 'reso-odata' ? pagePath(1) : join(opts.dir, `${name}.${ext}${gz}`), !!opts.gzip);
  files.push(sink.path);
  const open = () =>
    opts.format === 'json'
      ? '[\n'
      : opts.format === 'reso-odata'
        ? '{"@odata.context":"$metadata#Property","value":[\n'
        : opts.format === 'csv'
          ? `${CSV_COLUMNS.join(',')}\r\n`
          : '';
  await sink.write(open());
  for (const s of sampleListings(opts)) {
    if (opts.format === 'reso-odata' && inPage === pageSize) {
      const next = pagePath(page + 1)
        .split('/')
        .pop()!;
      await sink.write(`\n],"@odata.nextLink":${JSON.stringify(next)}}\n`);
      await sink.close();
      page++;
      inPage = 0;
      sink = new Sink(pagePath(page), !!opts.gzip);
      files.push(sink.path);
      await sink.write(open());
    }
    const sep = inPage > 0 && (opts.format === 'json' || opts.format === 'reso-odata') ? ',\n' : '';
    const eol = opts.format === 'csv' ? '\r\n' : opts.format === 'ndjson' ? '\n' : '';
    await sink.write(sep + text(s, counts.total, opts.format) + eol);
    inPage++;
    counts.total++;
    if (s.expected.stage === 'ok') {
      counts.raw++;
      counts.listings++;
    } else {
      if (s.expected.stage === 'normalize') counts.raw++;
      rejects[s.expected.code] = (rejects[s.expected.code] ?? 0) + 1;
    }
  }
  await sink.write(opts.format === 'json' ? '\n]\n' : opts.format === 'reso-odata' ? '\n]}\n' : '');
  await sink.close();
  return { uri: pathToFileURL(files[0]!).href, files, ...counts, rejects };
}
