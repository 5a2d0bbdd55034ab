/**
 * npm run bench:normalize: normalize against the runtime's pass-through operator, over the same pre-loaded
 * RawListing topic, in one run. Target: normalize >= 0.8 of pass-through throughput.
 *
 * The input is BENCH_RECORDS (default 200,000) RawListing records made from the deterministic sample
 * feed (US and Canadian listings, ~3% broken, which normalize dead-letters). Each contender reads the whole
 * topic with its own consumer group. The rate is input records processed per second, from 2% to the end
 * (bench/harness steadyRate): the records arriving on the contender's output topic, plus for normalize the
 * dead letters of the records it rejects, since every input ends as exactly one of the two.
 *
 * Three contenders, alternating in each round (BENCH_ROUNDS, default 2), best of each kept: the pass-through;
 * normalize as the listings pipeline runs it (its step's `threads`, BENCH_THREADS overrides), the headline;
 * and normalize on the event loop (threads: 0), for comparison. All three run at the normalize step's
 * concurrency (BENCH_CONCURRENCY overrides). Prints the rates and ratios; `-- --write`
 * puts them in docs/benchmarks.md. Topics are deleted at the end.
 */
import listings from '../pipelines/listings';
import { passThrough } from '../runtime/passthrough';
import type { SchemaName } from '../schemas/generated/types';
import { operators } from '../operators';
import { normalizeConfig } from '../operators/normalize/config';
import { normalizeListing } from '../operators/normalize/process';
import { parseConfig } from '../runtime/config';
import { createTopics, produceRecords, testKafka, uniqueName } from '../test/support/streams';
import {
  type BenchStep,
  deleteTopics,
  fmtRate,
  PeakRss,
  report,
  type SteadyRate,
  startWorker,
  steadyRate,
  table,
} from './harness';
import { sampleRawListings } from './fixtures';

const TOTAL = Number(process.env.BENCH_RECORDS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
/** normalize's step in the listings pipeline: its concurrency (for every contender) and threads. */
const STEP = listings.steps.find((s) => s.operator === 'normalize')!;
/** From the registry, as a worker gets it: its threads load the operator through that registry. */
const normalize = operators.normalize!;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? STEP.concurrency);
const THREADS = Number(process.env.BENCH_THREADS ?? STEP.threads ?? 0);
const PARTITIONS = 6;
const PROFILE = process.env.BENCH_PROFILE;
const kafka = testKafka('bench-normalize');
const created: string[] = [];
const rss = new PeakRss();

async function run(
  input: string,
  outSchema: SchemaName,
  operator: BenchStep['operator'],
  operatorConfig: unknown,
  expected: number,
  threads?: number,
): Promise<SteadyRate & { rss: number }> {
  const admin = kafka.admin();
  await admin.connect();
  const output = uniqueName(`bench-${operator.name}-out`);
  await createTopics(admin, { [output]: PARTITIONS });
  created.push(output);
  rss.reset();
  const worker = await startWorker({
    input,
    inputSchema: 'RawListing',
    outputs: { [Object.keys(operator.outputs)[0]!]: { topic: output, schema: outSchema } },
    operator,
    operatorConfig,
    concurrency: CONCURRENCY,
    partitions: PARTITIONS,
    ...(threads !== undefined ? { threads } : {}),
  });
  // Every input ends as an output or a dead letter: both count, so the rate is input records processed per second.
  const rate = await steadyRate(admin, [output, `${input}.dlq`], expected);
  await worker.stop('bench done');
  await admin.disconnect();
  return { ...rate, rss: rss.value };
}

async function main(): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const input = uniqueName('bench-normalize-in');
  await createTopics(admin, { [input]: PARTITIONS, [`${input}.dlq`]: PARTITIONS });
  created.push(input, `${input}.dlq`);
  console.log(`preloading ${TOTAL} RawListing records from the sample feed into ${input}...`);
  const records = sampleRawListings(TOTAL);
  // BENCH_PROFILE=<name>: every record names that source profile (pipelines/profiles), as a source's records do.
  if (PROFILE) for (const r of records) r.value.profile = PROFILE;
  await produceRecords(kafka, input, 'RawListing', records);
  // Context, not a contender: normalize's pure function alone on this thread, no Kafka, no runtime.
  const config = parseConfig(normalizeConfig, {}, { where: 'bench' });
  const t0 = performance.now();
  let thrown = 0;
  for (const r of records) {
    try {
      normalizeListing(r.value, config);
    } catch {
      thrown++;
    }
  }
  const alone = records.length / ((performance.now() - t0) / 1000);
  console.log(`normalizeListing alone, in process: ${fmtRate(alone)} records/s (${thrown} thrown)`);
  records.length = 0;

  try {
    type Rate = SteadyRate & { rss: number };
    const rounds: { pass: Rate; loop: Rate; threaded: Rate }[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const pass = await run(input, 'RawListing', passThrough('RawListing'), {}, TOTAL);
      const loop = await run(input, 'Listing', normalize, config, TOTAL, 0);
      const threaded = await run(input, 'Listing', normalize, config, TOTAL, THREADS);
      console.log(
        `round ${round}: pass-through ${fmtRate(pass.rate)} records/s, normalize on the event loop ${fmtRate(loop.rate)} (ratio ${(loop.rate / pass.rate).toFixed(2)}), normalize with threads: ${THREADS} ${fmtRate(threaded.rate)} (ratio ${(threaded.rate / pass.rate).toFixed(2)})`,
      );
      for (const [name, r] of [
        ['event loop', loop],
        ['threads', threaded],
      ] as const) {
        if (!r.complete)
          console.warn(
            `round ${round}: normalize (${name}) emitted ${r.count} Listings and dead letters, expected ${TOTAL}`,
          );
      }
      rounds.push({ pass, loop, threaded });
    }
    const best = (k: 'pass' | 'loop' | 'threaded') =>
      rounds.map((r) => r[k]).reduce((a, b) => (b.rate > a.rate ? b : a));
    const pass = best('pass');
    const loop = best('loop');
    const threaded = best('threaded');
    const perRound = (k: 'loop' | 'threaded') => rounds.map((r) => (r[k].rate / r.pass.rate).toFixed(2)).join(', ');
    const mib = (r: Rate) => `${Math.round(r.rss / 2 ** 20)} MiB`;
    report(
      'normalize',
      [
        `Sizes: ${TOTAL.toLocaleString('en-US')} pre-loaded RawListing records from the sample feed (${PROFILE ? `source profile ${PROFILE}` : 'no source profile: reso-dd-2.0'}; seed 5; ${thrown.toLocaleString('en-US')} that normalize rejects and the runtime dead-letters), ${PARTITIONS} partitions, concurrency ${CONCURRENCY} (the normalize step's) for every contender, best of ${ROUNDS} alternating rounds. Every contender runs on the runtime over the same input topic, each with its own consumer group; a rate counts input records processed per second: records on the output topic, plus for normalize the dead letters of the records it rejects (${thrown.toLocaleString('en-US')}), since every input ends as one or the other.`,
        '',
        ...table(
          ['contender', 'records/s', 'ratio to (a)', 'peak RSS (process)'],
          [
            ['(a) baseline: runtime pass-through operator', fmtRate(pass.rate), '1.00', mib(pass)],
            [
              `(b) normalize as the listings pipeline runs it (threads: ${THREADS})`,
              fmtRate(threaded.rate),
              (threaded.rate / pass.rate).toFixed(2),
              mib(threaded),
            ],
            [
              '(c) normalize on the event loop (threads: 0)',
              fmtRate(loop.rate),
              (loop.rate / pass.rate).toFixed(2),
              mib(loop),
            ],
          ],
        ),
        '',
        `**Ratio normalize / pass-through: ${(threaded.rate / pass.rate).toFixed(2)}** with threads: ${THREADS} (target >= 0.8; per round: ${perRound('threaded')}); on the event loop ${(loop.rate / pass.rate).toFixed(2)} (per round: ${perRound('loop')}).`,
        `Context: normalize's pure function alone, on one thread with no Kafka and no runtime, over the same records: ${fmtRate(alone)} records/s (${thrown} thrown).`,
      ],
      { perClient: true },
    );
  } finally {
    rss.stop();
    await deleteTopics(admin, created);
    await admin.disconnect();
  }
  process.exit(0);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
