/**
 * npm run bench:normalize: normalize against the runtime's pass-through operator, over the same pre-loaded
 * RawListing topic, in one run. Target: normalize >= 0.8 of pass-through throughput.
 *
 * The input is BENCH_RECORDS (default 200,000) RawListing records made from the deterministic sample
 * feed (US and Canadian listings, ~3% broken, which normalize dead-letters). Each contender reads the whole
 * topic with its own consumer group; the rate is measured on its output topic from 2% to the end
 * (bench/harness steadyRate). Prints both rates and the ratio and appends them to docs/benchmarks.md.
 */
import type { OperatorDefinition } from '../runtime/operator';
import { passThrough } from '../runtime/passthrough';
import { definePipeline } from '../runtime/pipeline';
import { loadWorkerSettings } from '../runtime/settings';
import { Worker } from '../runtime/worker';
import type { RawListing, SchemaName } from '../schemas/generated/types';
import normalize from '../operators/normalize';
import { sampleListings } from '../operators/sample-feeds/generator';
import { createTopics, produceRecords, testKafka, uniqueName } from '../test/support/streams';
import { record, steadyRate } from './harness';

const TOTAL = Number(process.env.BENCH_RECORDS ?? 200_000);
const PARTITIONS = 6;
const kafka = testKafka('bench-normalize');

function silentLogger() {
  const l = { debug() {}, info() {}, warn() {}, error() {}, child: () => l };
  return l;
}

async function run(
  input: string,
  outSchema: SchemaName,
  // biome-ignore lint/suspicious/noExplicitAny: either contender.
  operator: OperatorDefinition<any, any, any, any>,
  operatorConfig: Record<string, unknown>,
  expected: number,
): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const output = uniqueName(`bench-${operator.name}-out`);
  await createTopics(admin, { [output]: PARTITIONS });
  const port = Object.keys(operator.outputs)[0]!;
  const pipeline = definePipeline({
    name: 'bench',
    topics: {
      [input]: { partitions: PARTITIONS, schema: 'RawListing' },
      [output]: { partitions: PARTITIONS, schema: outSchema },
    },
    steps: [
      {
        id: uniqueName(`bench-${operator.name}`),
        operator: operator.name,
        input,
        outputs: { [port]: output },
        concurrency: Number(process.env.BENCH_CONCURRENCY ?? 16),
        timeoutMs: 60_000,
        retry: { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 1000 },
        replicas: 1,
      },
    ],
  });
  const settings = loadWorkerSettings(
    {
      LISTFLOW_KAFKA_BROKERS: process.env.LISTFLOW_KAFKA_BROKERS,
      LISTFLOW_REGISTRY_URL: process.env.LISTFLOW_REGISTRY_URL,
      LISTFLOW_REGISTER_SCHEMAS: 'true',
      LISTFLOW_HTTP_PORT: '0',
      LISTFLOW_LOG_LEVEL: 'silent',
    },
    [],
  );
  const worker = new Worker({
    pipeline,
    step: pipeline.steps[0]!,
    operator,
    operatorConfig,
    settings,
    logger: silentLogger(),
  });
  await worker.start();
  const rate = await steadyRate(admin, output, expected);
  await worker.stop('bench done');
  await admin.disconnect();
  return rate;
}

async function main(): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const input = uniqueName('bench-normalize-in');
  await createTopics(admin, { [input]: PARTITIONS, [`${input}.dlq`]: PARTITIONS });
  await admin.disconnect();
  console.log(`preloading ${TOTAL} RawListing records from the sample feed into ${input}...`);
  const records: { key: string; value: RawListing }[] = [];
  let ok = 0;
  let i = 0;
  for (const s of sampleListings({
    seed: 5,
    count: TOTAL,
    photoUrls: ['https://img.example.com/a.jpg', 'https://img.example.com/b.jpg'],
  })) {
    const key = String(s.record.ListingKey ?? `nokey-${i}`);
    if (s.expected.stage === 'ok') ok++;
    records.push({
      key: `bench:${key}`,
      value: {
        jobId: 'bench',
        source: 'bench',
        listingKey: key,
        position: i++,
        receivedAt: new Date(0),
        defaultCountry: null,
        defaultCurrency: null,
        payload: s.unparseable ? '{"ListingKey":' : JSON.stringify(s.record),
      },
    });
  }
  await produceRecords(kafka, input, 'RawListing', records);
  records.length = 0;

  const rounds: { pass: number; norm: number }[] = [];
  for (let round = 1; round <= 2; round++) {
    const pass = await run(input, 'RawListing', passThrough('RawListing'), {}, TOTAL);
    const norm = await run(input, 'Listing', normalize, { allowFilePhotoUrls: false }, ok);
    console.log(
      `round ${round}: pass-through ${pass.toFixed(0)} records/s, normalize ${norm.toFixed(0)} records/s (ratio ${(norm / pass).toFixed(2)})`,
    );
    rounds.push({ pass, norm });
  }
  const pass = Math.max(...rounds.map((r) => r.pass));
  const norm = Math.max(...rounds.map((r) => r.norm));
  const ratio = norm / pass;
  record('bench:normalize', [
    `${TOTAL} pre-loaded RawListing records from the sample feed (${TOTAL - ok} broken, dead-lettered), ${PARTITIONS} partitions, best of 2 rounds:`,
    '',
    `- runtime pass-through operator: ${pass.toFixed(0)} records/s`,
    `- normalize: ${norm.toFixed(0)} records/s (Listing outputs counted)`,
    `- **ratio normalize/pass-through: ${ratio.toFixed(2)}** (target >= 0.8)`,
  ]);
  console.log(`\nratio normalize/pass-through: ${ratio.toFixed(2)} (target >= 0.8); written to docs/benchmarks.md`);
  process.exit(0);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
