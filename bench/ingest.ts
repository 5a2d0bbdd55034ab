/**
 * npm run bench:ingest: ingest streams a 500,000-record feed in bounded memory, near the speed of a bare parser.
 *
 * Writes a sample feed (BENCH_RECORDS, default 500,000; BENCH_FORMATS, default ndjson,csv,json) with the
 * sample-feed generator, then, per format, side by side on the same file:
 *   (a) baseline: a bare parser written here, the least work that yields the same records: ndjson is
 *       readline + JSON.parse; csv is gunzip + readline + a naive split on commas (no quoting, so a ceiling);
 *       json is the same per line (the sample writer puts one record per line; ingest must scan the text);
 *       each record becomes a RawListing-shaped object with its payload, like ingest's output;
 *   (b) contender: ingest's process (operators/ingest/process.ts) with its real file services, draining the
 *       emits one by one as the runtime does.
 * Prints records/s of both, the ratio, and peak heap growth / RSS (sampled every 1,000 records): bounded
 * memory means ingest's peak stays flat however large the feed is. No broker needed.
 */
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { parseConfig } from '../runtime/config';
import { plainContext } from '../runtime/operator';
import { ingestConfig } from '../operators/ingest/config';
import { filesOnlyServices } from '../operators/ingest/feed-sources';
import { ingestFeed } from '../operators/ingest/process';
import { type SampleFormat, writeSampleFeed } from '../samples/writers';
import { fmtRate, report, table } from './harness';

const TOTAL = Number(process.env.BENCH_RECORDS ?? 500_000);
const FORMATS = (process.env.BENCH_FORMATS ?? 'ndjson,csv,json').split(',') as SampleFormat[];
const MB = 1024 * 1024;

interface Measured {
  readonly rate: number;
  readonly seconds: number;
  readonly records: number;
  readonly peakHeap: number;
  readonly peakRss: number;
}

/** Drains `items`, counting records and sampling memory every 1,000. */
async function measure(items: () => AsyncIterable<unknown>): Promise<Measured> {
  global.gc?.();
  const baseHeap = process.memoryUsage().heapUsed;
  let peakHeap = 0;
  let peakRss = process.memoryUsage().rss;
  let records = 0;
  const started = performance.now();
  for await (const _ of items()) {
    if (++records % 1000 === 0) {
      const m = process.memoryUsage();
      peakHeap = Math.max(peakHeap, m.heapUsed - baseHeap);
      peakRss = Math.max(peakRss, m.rss);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  return { rate: records / seconds, seconds, records, peakHeap, peakRss };
}

const rawOf = (listingKey: unknown, position: number, payload: string) => ({
  jobId: 'bench',
  source: 'bench',
  listingKey: String(listingKey ?? ''),
  position,
  receivedAt: new Date(),
  defaultCountry: null,
  defaultCurrency: null,
  payload,
});

/** (a) The least work that yields the same records from each format. */
async function* bareParse(format: SampleFormat, file: string): AsyncGenerator<unknown> {
  let position = 0;
  const input = createReadStream(file);
  const lines = createInterface({ input: format === 'csv' ? input.pipe(createGunzip()) : input, crlfDelay: Infinity });
  let header: string[] | null = null;
  for await (const line of lines) {
    if (line === '') continue;
    if (format === 'csv') {
      const cells = line.split(',');
      if (!header) {
        header = cells;
        continue;
      }
      const r: Record<string, string> = {};
      header.forEach((h, i) => {
        r[h] = cells[i] ?? '';
      });
      yield rawOf(r['ListingKey'], position++, JSON.stringify(r));
    } else {
      // json: the sample writer puts one record per line ("[", "{...},", "]"): a line-oriented ceiling.
      const text = format === 'json' ? line.replace(/^\[/, '').replace(/,?\]?$/, '') : line;
      if (text === '') continue;
      let r: Record<string, unknown> | null = null;
      try {
        r = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // counted like ingest's rejects: one outcome per line
      }
      yield rawOf(r?.['ListingKey'], position++, text);
    }
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ingest-'));
  const rows: string[][] = [];
  const ratios: string[] = [];
  try {
    for (const format of FORMATS) {
      const gzip = format === 'csv';
      const feed = await writeSampleFeed({ dir, seed: 11, count: TOTAL, format, gzip, name: `bench-${format}` });
      const bytes = feed.files.reduce((n, f) => n + statSync(f).size, 0);
      const label = `${format}${gzip ? ' (gzip)' : ''}, ${(bytes / MB).toFixed(0)} MB`;

      const bare = await measure(() => bareParse(format, feed.files[0]!));

      const config = parseConfig(ingestConfig, { fileRoot: dir, progressEvery: 50_000 }, { where: 'bench' });
      const ctx = plainContext(config, filesOnlyServices);
      const job = {
        jobId: 'bench',
        source: 'bench',
        uri: feed.uri,
        format: 'auto' as const,
        submittedAt: new Date(),
        defaultCountry: null,
        defaultCurrency: null,
      };
      let outputs = 0;
      let rejects = 0;
      const ingest = await measure(async function* () {
        for await (const e of ingestFeed(job, ctx)) {
          if (e.kind === 'reject') rejects++;
          else if (e.port === 'raw') outputs++;
          else continue; // job-status events are not records
          yield e;
        }
      });
      if (outputs + rejects !== TOTAL)
        throw new Error(`${format}: expected ${TOTAL} outcomes, got ${outputs + rejects}`);
      const ratio = ingest.rate / bare.rate;
      console.log(
        `${label}: bare ${fmtRate(bare.rate)} records/s, ingest ${fmtRate(ingest.rate)} records/s (${outputs} RawListing + ${rejects} rejects), ratio ${ratio.toFixed(2)}; ingest peak heap growth ${(ingest.peakHeap / MB).toFixed(1)} MB, RSS ${(ingest.peakRss / MB).toFixed(0)} MB`,
      );
      rows.push(
        [
          label,
          '(a) bare parser',
          fmtRate(bare.rate),
          '',
          `${(bare.peakHeap / MB).toFixed(1)} MB`,
          `${(bare.peakRss / MB).toFixed(0)} MB`,
        ],
        [
          label,
          '(b) ingest',
          fmtRate(ingest.rate),
          `**${ratio.toFixed(2)}**`,
          `${(ingest.peakHeap / MB).toFixed(1)} MB`,
          `${(ingest.peakRss / MB).toFixed(0)} MB`,
        ],
      );
      ratios.push(`${format} ${ratio.toFixed(2)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  report('ingest', [
    `Sizes: sample feeds of ${TOTAL.toLocaleString('en-US')} records (seed 11, ~1% rejects), in process, no broker; bare parser first, then ingest, on the same file. Peak heap growth and RSS are sampled every 1,000 records (RSS is the whole process, so it carries earlier formats' garbage).`,
    '',
    ...table(['feed', 'contender', 'records/s', 'ratio b/a', 'peak heap growth', 'peak RSS'], rows),
    '',
    `Ratios ingest / bare parser: ${ratios.join(', ')}. The json baseline relies on the sample writer's one-record-per-line layout and the csv one ignores quoting: both are ceilings, not general parsers.`,
  ]);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
