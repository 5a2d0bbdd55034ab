/**
 * npm run bench:latency: per-record end-to-end latency of the listings pipeline's text path under a steady
 * offered load, per hop and in total: raw produce -> listings.normalized -> listings.enriched -> the
 * PostgreSQL row committed.
 *
 * The chain (bench/latency-chain.ts): the normalize, images and publish workers as `listflow run` runs them,
 * one child process each, on the client LISTFLOW_KAFKA_CLIENT names (default kafkajs), on the run's own
 * topics, groups and PostgreSQL schema. The bench plays ingest: it produces RawListings of the sample feed
 * (valid ones, one new listing each) to the run's listings.raw.
 *
 * Per scenario (text: listings without photos, which images passes through; then 3 photos per listing,
 * images real, photos from a local HTTP server in a child process, BENCH_PHOTOS=0 skips it):
 * 1. warm-up: a few records through the chain (connections, schema ids, first transactions), not counted;
 * 2. maximum throughput: BENCH_RECORDS (default 20,000; BENCH_PHOTO_RECORDS, default 60, with photos) produced
 *    at once, rows per second from 2% of them committed to the last;
 * 3. per load in BENCH_LOADS (default 0.5,0.8) of that maximum: records offered at that fixed rate for
 *    BENCH_SECONDS (default 30), in small sends every BENCH_TICK_MS (default 5); waits until every row is in.
 * Times: a record's hop latencies come from the CreateTime of its record on each topic (set by the producer
 * that wrote it: the bench for raw, normalize's and images' workers for the next two, all on this machine's
 * clock) and the moment the NOTIFY of its row's trigger reached the bench (PostgreSQL delivers it at commit).
 * Percentiles over every record, nearest rank (bench/latency-stats.ts). Every record must arrive: the rows
 * must be exactly the offered count. Target: p99 total <= 500 ms at 80% load (text path).
 * `-- --write` puts the results in docs/benchmarks.md. Everything it creates is removed at the end.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { KafkaClient, KafkaProducer } from '../runtime/kafka-client';
import { sleep } from '../runtime/execute/retry';
import { testClientKind, testKafka, uniqueName } from '../test/support/streams';
import { fmtRate, report, table } from './harness';
import { type Chain, startChain } from './latency-chain';
import { burstProduce, offeredRecords, pacedProduce, readTimes, SOURCE } from './latency-io';
import { startPhotoServer } from './latency-photos';
import { fmtMs, HOPS, histogramRows, hopLatencies, type RecordTimes, type Summary, summarize } from './latency-stats';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const MAX_RECORDS = Number(process.env.BENCH_RECORDS ?? 20_000);
const PHOTO_MAX_RECORDS = Number(process.env.BENCH_PHOTO_RECORDS ?? 60);
const LOADS = (process.env.BENCH_LOADS ?? '0.5,0.8').split(',').map(Number);
const PHOTOS = process.env.BENCH_PHOTOS !== '0';
const [PHOTO_W, PHOTO_H] = (process.env.BENCH_PHOTO_SIZE ?? '2048x1536').split('x').map(Number) as [number, number];
const TICK_MS = Number(process.env.BENCH_TICK_MS ?? 5);
/** A directory for each worker's whole output (the last MB), to trace duplicates and outliers to their cause. */
const WORKER_LOGS = process.env.BENCH_WORKER_LOGS;
const TARGET_P99_MS = 500;
const WARM_UP = 20;
if (LOADS.some((l) => !(l > 0 && l <= 1.5))) throw new Error(`BENCH_LOADS: loads in (0, 1.5], got ${LOADS}`);

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');

interface LevelResult {
  readonly load: number;
  readonly offered: number;
  readonly produced: number;
  readonly rowsPerSecond: number;
  readonly count: number;
  readonly rows: number;
  readonly late: number;
  /** Records beyond the first per key on listings.normalized and listings.enriched. */
  readonly duplicates: readonly [number, number];
  readonly summaries: Record<(typeof HOPS)[number], Summary>;
  readonly histogram: string[][];
  readonly loadavg: string;
}

interface ScenarioResult {
  readonly name: string;
  readonly max: number;
  readonly maxCount: number;
  readonly levels: LevelResult[];
}

/** Waits until `count` more ids than `before` have rows, or nothing new came for `idleMs`. */
async function waitForRows(chain: Chain, before: number, count: number, idleMs: number): Promise<void> {
  let seen = chain.rows.size;
  let lastNew = Date.now();
  while (chain.rows.size - before < count) {
    chain.checkWorkers();
    if (chain.rows.size > seen) {
      seen = chain.rows.size;
      lastNew = Date.now();
    }
    if (Date.now() - lastNew > idleMs) return;
    await sleep(50);
  }
}

/** Rows per second from the moment 2% of the ids had rows to the last one (start-up left out). */
function steadyRowRate(chain: Chain, prefix: string): { rate: number; count: number } {
  const times = [...chain.rows].filter(([id]) => id.startsWith(prefix)).map(([, t]) => t);
  times.sort((a, b) => a - b);
  const warm = Math.max(1, Math.ceil(times.length * 0.02));
  const span = (times[times.length - 1]! - times[warm - 1]!) / 1000;
  return { rate: span > 0 ? (times.length - warm) / span : 0, count: times.length };
}

async function scenario(kafka: KafkaClient, name: string, photos: boolean): Promise<ScenarioResult> {
  const admin = kafka.admin();
  await admin.connect();
  const server = photos ? await startPhotoServer(PHOTO_W, PHOTO_H) : null;
  const photoBase = server ? `http://127.0.0.1:${server.port}` : undefined;
  const run = uniqueName('bench-latency');
  const chain = await startChain({
    admin,
    run,
    ...(server ? { photoHost: `127.0.0.1:${server.port}` } : {}),
    // Info level with BENCH_WORKER_LOGS: joins and restarts are what explain duplicates.
    ...(WORKER_LOGS ? { logLevel: 'info' } : {}),
  });
  const producer: KafkaProducer = kafka.producer();
  const readerGroups: string[] = [];
  try {
    await producer.connect();
    const topic = chain.topics.raw;
    console.log(
      `\n${name}: run ${run}${server ? `, photos ${PHOTO_W}x${PHOTO_H} (${Math.round(server.bytes / 1024)} KiB) from 127.0.0.1:${server.port}` : ''}`,
    );
    const idleMs = photos ? 120_000 : 60_000;

    let before = chain.rows.size;
    await burstProduce(producer, topic, await offeredRecords(topic, 'warm-', WARM_UP, photoBase));
    await waitForRows(chain, before, WARM_UP, 180_000);
    if (chain.rows.size - before < WARM_UP) throw new Error(`warm-up: only ${chain.rows.size - before} rows`);

    const maxCount = photos ? PHOTO_MAX_RECORDS : MAX_RECORDS;
    const maxPrefix = 'max-';
    const burst = await offeredRecords(topic, maxPrefix, maxCount, photoBase);
    before = chain.rows.size;
    await burstProduce(producer, topic, burst);
    burst.length = 0;
    await waitForRows(chain, before, maxCount, idleMs);
    const max = steadyRowRate(chain, `${SOURCE}:${maxPrefix}`);
    if (max.count !== maxCount) throw new Error(`saturating run: ${max.count} of ${maxCount} rows`);
    console.log(`maximum throughput: ${fmtRate(max.rate)} rows/s (${maxCount} records at once), load ${load()}`);

    const levels: LevelResult[] = [];
    for (const [n, l] of LOADS.entries()) {
      const rate = l * max.rate;
      const count = Math.max(1, Math.round(rate * SECONDS));
      const prefix = `l${n}-`;
      const keyPrefix = `${SOURCE}:${prefix}`;
      const messages = await offeredRecords(topic, prefix, count, photoBase);
      before = chain.rows.size;
      const t0 = Date.now();
      const paced = await pacedProduce(producer, topic, messages, rate, { tickMs: TICK_MS });
      await waitForRows(chain, before, count, idleMs);
      // A loop, not Math.max(...): a full-size level has ~100,000 rows, past what spreading into a call takes.
      let lastRow = 0;
      for (const [id, t] of chain.rows) if (id.startsWith(keyPrefix) && t > lastRow) lastRow = t;
      const loadNow = load();
      const [raw, normalized, enriched] = await Promise.all(
        [chain.topics.raw, chain.topics.normalized, chain.topics.enriched].map((t) =>
          readTimes(kafka, t, keyPrefix, count),
        ),
      );
      readerGroups.push(raw!.groupId, normalized!.groupId, enriched!.groupId);
      const rows = await chain.countRows(keyPrefix);
      const records: RecordTimes[] = [...raw!.first].map(([key, t]) => ({
        raw: t,
        normalized: normalized!.first.get(key) ?? null,
        enriched: enriched!.first.get(key) ?? null,
        row: chain.rows.get(key) ?? null,
      }));
      const byHop = hopLatencies(records);
      const result: LevelResult = {
        load: l,
        offered: rate,
        produced: paced.achieved,
        rowsPerSecond: (rows * 1000) / Math.max(1, lastRow - t0),
        count,
        rows,
        late: paced.late,
        duplicates: [normalized!.duplicates, enriched!.duplicates],
        summaries: Object.fromEntries(HOPS.map((h) => [h, summarize(byHop[h])])) as LevelResult['summaries'],
        histogram: histogramRows(byHop),
        loadavg: loadNow,
      };
      const again = raw!.redelivered + normalized!.redelivered + enriched!.redelivered;
      if (again > 0) console.log(`load ${l}: the reader was handed ${again} records twice (not counted as duplicates)`);
      if (rows !== count || raw!.first.size !== count)
        console.warn(`load ${l}: offered ${count}, raw ${raw!.first.size}, rows ${rows}: records missing`);
      const s = result.summaries.total;
      console.log(
        `load ${l}: offered ${fmtRate(rate)}/s, produced ${fmtRate(paced.achieved)}/s, ${rows}/${count} rows; total p50 ${fmtMs(s.p50)} ms, p99 ${fmtMs(s.p99)} ms, p99.9 ${fmtMs(s.p999)} ms; load ${loadNow}`,
      );
      levels.push(result);
    }
    return { name, max: max.rate, maxCount, levels };
  } finally {
    await producer.disconnect().catch(() => undefined);
    // What the workers warned about (a rebalance, a retried batch) explains duplicates and outliers.
    if (WORKER_LOGS) mkdirSync(WORKER_LOGS, { recursive: true });
    for (const w of chain.outputs()) {
      if (WORKER_LOGS) writeFileSync(join(WORKER_LOGS, `${name.replace(/\W+/g, '-')}-${w.step}.log`), w.output);
      const tail = w.output.trim().split('\n').slice(-8);
      if (tail[0])
        console.log(`${w.step} worker, last lines of its output:\n  ${tail.map((l) => l.slice(0, 400)).join('\n  ')}`);
    }
    await chain.stop();
    await admin.deleteGroups(readerGroups).catch(() => undefined);
    await admin.disconnect();
    server?.stop();
  }
}

function lines(s: ScenarioResult): string[] {
  const out = [
    `**${s.name}**: maximum ${fmtRate(s.max)} rows/s (${s.maxCount.toLocaleString('en-US')} records produced at once).`,
    '',
    ...table(
      [
        'load',
        'offered records/s',
        'produced records/s',
        'rows/s',
        'records',
        'rows',
        'late sends',
        'duplicates (normalized, enriched)',
        'load average',
      ],
      s.levels.map((l) => [
        `${Math.round(l.load * 100)}%`,
        fmtRate(l.offered),
        fmtRate(l.produced),
        fmtRate(l.rowsPerSecond),
        l.count.toLocaleString('en-US'),
        `${l.rows.toLocaleString('en-US')}${l.rows === l.count ? ' (all)' : ' (MISSING)'}`,
        String(l.late),
        l.duplicates.join(', '),
        l.loadavg,
      ]),
    ),
    '',
  ];
  for (const l of s.levels) {
    out.push(
      `At ${Math.round(l.load * 100)}% load (ms, over all ${l.count.toLocaleString('en-US')} records):`,
      '',
      ...table(
        ['hop', 'p50', 'p99', 'p99.9', 'max'],
        HOPS.map((h) => {
          const x = l.summaries[h];
          return [h, fmtMs(x.p50), fmtMs(x.p99), fmtMs(x.p999), fmtMs(x.max)];
        }),
      ),
      '',
      ...table(['latency', ...HOPS.map((h) => `${h} (records)`), 'total, cumulative'], l.histogram),
      '',
    );
  }
  return out;
}

async function main(): Promise<void> {
  const kind = testClientKind();
  const kafka = testKafka('bench-latency');
  const startLoad = load();
  console.log(
    `latency bench: client ${kind}, ${SECONDS} s per load at ${LOADS.join(', ')} of the maximum, send every ${TICK_MS} ms, load average ${startLoad}`,
  );
  const scenarios = [await scenario(kafka, 'Text path (no photos)', false)];
  if (PHOTOS) scenarios.push(await scenario(kafka, `3 photos per listing (${PHOTO_W}x${PHOTO_H} JPEG)`, true));
  const text = scenarios[0]!;
  const at80 = text.levels.find((l) => l.load === 0.8);
  const p99 = at80?.summaries.total.p99;
  const verdict =
    p99 === undefined ? 'no 80% level in this run' : `${fmtMs(p99)} ms: ${p99 <= TARGET_P99_MS ? 'met' : 'NOT met'}`;
  report(
    'latency',
    [
      `Chain: normalize, images and publish workers (one process each, the listings pipeline's steps: concurrency, threads, batching as deployed) on the run's own topics and PostgreSQL schema; the bench produces the RawListings. ${SECONDS} s per load level, sends every ${TICK_MS} ms. Load average at the start: ${startLoad}.`,
      '',
      ...scenarios.flatMap(lines),
      `**Text path, p99 total at 80% load: ${verdict}** (target <= ${TARGET_P99_MS} ms).`,
    ],
    { perClient: true },
  );
  process.exit(0);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
