/**
 * npm run bench:ingest: ingest streams a 500,000-record feed in bounded memory.
 *
 * Writes a sample feed (BENCH_RECORDS, default 500,000; BENCH_FORMATS, default ndjson,csv,json) with the
 * sample-feed generator, then runs ingest's process over it in this process, draining the emits as the
 * runtime would (it sends them in chunks), and samples the heap and RSS every 1,000 records. Prints the
 * records per second and the peak memory, and compares the peak with the feed's size: bounded memory means
 * the peak stays flat however large the feed is. No broker needed.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../runtime/config';
import { plainContext } from '../runtime/operator';
import { ingestConfig } from '../operators/ingest/config';
import { nodeFiles } from '../operators/ingest/feed-sources';
import { ingestFeed } from '../operators/ingest/process';
import { type SampleFormat, writeSampleFeed } from '../operators/sample-feeds/writers';
import { record } from './harness';

const TOTAL = Number(process.env.BENCH_RECORDS ?? 500_000);
const FORMATS = (process.env.BENCH_FORMATS ?? 'ndjson,csv,json').split(',') as SampleFormat[];
const MB = 1024 * 1024;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ingest-'));
  const lines: string[] = [];
  try {
    for (const format of FORMATS) {
      const feed = await writeSampleFeed({
        dir,
        seed: 11,
        count: TOTAL,
        format,
        gzip: format === 'csv',
        name: `bench-${format}`,
      });
      const bytes = feed.files.reduce((n, f) => n + statSync(f).size, 0);
      global.gc?.();
      const baseHeap = process.memoryUsage().heapUsed;
      const config = parseConfig(ingestConfig, { fileRoot: dir, progressEvery: 50_000 }, { where: 'bench' });
      const ctx = plainContext(config, { fetch: async () => new Response('', { status: 500 }), files: nodeFiles });
      let peakHeap = 0;
      let peakRss = 0;
      let outputs = 0;
      let rejects = 0;
      const started = process.hrtime.bigint();
      const job = {
        jobId: 'bench',
        source: 'bench',
        uri: feed.uri,
        format: 'auto' as const,
        submittedAt: new Date(),
        defaultCountry: null,
        defaultCurrency: null,
      };
      for await (const e of ingestFeed(job, ctx)) {
        if (e.kind === 'reject') rejects++;
        else if (e.port === 'raw') outputs++;
        if ((outputs + rejects) % 1000 === 0) {
          const m = process.memoryUsage();
          peakHeap = Math.max(peakHeap, m.heapUsed - baseHeap);
          peakRss = Math.max(peakRss, m.rss);
        }
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const line = `- ${format}${format === 'csv' ? ' (gzip)' : ''}: ${TOTAL} records (${(bytes / MB).toFixed(0)} MB on disk) -> ${outputs} RawListing + ${rejects} rejects in ${seconds.toFixed(1)} s (${Math.round(TOTAL / seconds)} records/s); peak heap growth ${(peakHeap / MB).toFixed(1)} MB, peak RSS ${(peakRss / MB).toFixed(0)} MB`;
      console.log(line);
      lines.push(line);
      if (outputs + rejects !== TOTAL) throw new Error(`expected ${TOTAL} outcomes, got ${outputs + rejects}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  record('bench:ingest', [
    `ingest over sample feeds of ${TOTAL} records, in process (no broker), emits drained one by one:`,
    '',
    ...lines,
  ]);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
