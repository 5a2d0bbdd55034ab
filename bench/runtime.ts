/**
 * npm run bench:runtime: the runtime's cost, measured side by side in one run.
 *
 * 1. Throughput: 200,000 pre-loaded RawListing records (about 1 KB each, Avro) on 6 partitions, copied to an
 *    output topic by (a) a bare kafkajs eachBatch loop written here, which decodes and re-encodes the same
 *    Avro, produces with acks=all and commits after the acknowledgement, and (b) the runtime running its
 *    pass-through operator. Target: (b)/(a) >= 0.8.
 * 2. Concurrency: an operator that awaits 20 ms of I/O per record, at concurrency 1, 2, 4, 8, 16 on one
 *    partition: throughput should rise almost linearly.
 * 3. Context: Kafka's own ProducerPerformance on the same machine, when its jars are present.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Partitioners } from 'kafkajs';
import type { RawListing } from '../schemas/generated/types';
import { defineConfig } from '../runtime/config';
import { defineOperator, emit } from '../runtime/operator';
import { passThrough } from '../runtime/passthrough';
import { definePipeline } from '../runtime/pipeline';
import { sleep } from '../runtime/retry';
import { loadWorkerSettings } from '../runtime/settings';
import { Worker } from '../runtime/worker';
import { createTopics, produceRecords, rawListing, testKafka, testSerde, uniqueName } from '../test/support/streams';
import { record, steadyRate } from './harness';

const TOTAL = Number(process.env.BENCH_RECORDS ?? 200_000);
const PARTITIONS = 6;
const kafka = testKafka('bench');

function silentLogger() {
  const l = { debug() {}, info() {}, warn() {}, error() {}, child: () => l };
  return l;
}

async function bareLoop(input: string, output: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const serde = testSerde();
  const outId = await serde.schemaIdFor(output, 'RawListing', true);
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const consumer = kafka.consumer({ groupId: uniqueName('bench-bare'), maxBytesPerPartition: 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topics: [input], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: PARTITIONS,
    eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary }) => {
      const messages = [];
      for (const m of batch.messages) {
        const d = await serde.decode<RawListing>(m.value!, 'RawListing');
        if (!d.ok) throw d.error;
        messages.push({ key: m.key, value: serde.encode(outId, 'RawListing', d.value) });
      }
      // One request per 800 KB, like the runtime, so no partition batch exceeds the broker's message.max.bytes.
      for (let i = 0; i < messages.length; i += 700) {
        await producer.send({ topic: output, acks: -1, messages: messages.slice(i, i + 700) });
      }
      const last = batch.messages[batch.messages.length - 1]!.offset;
      await commitOffsetsIfNecessary({
        topics: [
          { topic: batch.topic, partitions: [{ partition: batch.partition, offset: (BigInt(last) + 1n).toString() }] },
        ],
      });
      resolveOffset(last);
    },
  });
  const rate = await steadyRate(admin, output, TOTAL);
  await consumer.disconnect();
  await producer.disconnect();
  await admin.disconnect();
  return rate;
}

async function runtimeLoop(
  input: string,
  output: string,
  operator = passThrough('RawListing'),
  concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16),
  count = TOTAL,
  partitions = PARTITIONS,
): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const pipeline = definePipeline({
    name: 'bench',
    topics: { [input]: { partitions, schema: 'RawListing' }, [output]: { partitions, schema: 'RawListing' } },
    steps: [
      {
        id: uniqueName('bench'),
        operator: operator.name,
        input,
        outputs: { out: output },
        concurrency,
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
      LISTFLOW_MAX_IN_FLIGHT: process.env.LISTFLOW_MAX_IN_FLIGHT,
      LISTFLOW_COMMIT_INTERVAL_MS: process.env.LISTFLOW_COMMIT_INTERVAL_MS,
      LISTFLOW_MAX_BYTES_PER_PARTITION: process.env.LISTFLOW_MAX_BYTES_PER_PARTITION,
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
    operatorConfig: {},
    settings,
    logger: silentLogger(),
  });
  await worker.start();
  const rate = await steadyRate(admin, output, count);
  await worker.stop('bench done');
  await admin.disconnect();
  return rate;
}

const ioOperator = defineOperator({
  name: 'io20ms',
  summary: 'Awaits 20 ms of simulated I/O per record.',
  input: 'RawListing',
  outputs: { out: 'RawListing' },
  config: defineConfig({}),
  async process(record, ctx) {
    await sleep(20, ctx.signal);
    return [emit.output('out', ctx.input.key ?? '', record)];
  },
});

function producerPerformance(): string | undefined {
  const dir = join(__dirname, '..', '..', '.listflow', 'kafka', 'libs');
  if (!existsSync(dir) || !readdirSync(dir).some((f) => f.startsWith('kafka-tools'))) return undefined;
  const topic = uniqueName('bench-perf');
  const r = spawnSync(
    'java',
    [
      '-Xmx512m',
      '-cp',
      `${dir}/*`,
      'org.apache.kafka.tools.ProducerPerformance',
      '--topic',
      topic,
      '--num-records',
      String(TOTAL),
      '--record-size',
      '1024',
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${process.env.LISTFLOW_KAFKA_BROKERS ?? '127.0.0.1:19092'}`,
      'acks=all',
      'allow.auto.create.topics=true',
    ],
    { encoding: 'utf8', timeout: 300_000 },
  );
  const line = (r.stdout ?? '').trim().split('\n').pop();
  return line && /records\/sec/.test(line) ? line : undefined;
}

async function main(): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const input = uniqueName('bench-in');
  const payload = 'x'.repeat(950);
  await createTopics(admin, { [input]: PARTITIONS });
  console.log(`preloading ${TOTAL} records of about 1 KB into ${input}...`);
  const records = Array.from({ length: TOTAL }, (_, i) => ({
    key: `k${i % 5000}`,
    value: rawListing(`k${i % 5000}`, i, payload),
  }));
  await produceRecords(kafka, input, 'RawListing', records);

  const rounds: { bare: number; runtime: number }[] = [];
  for (let round = 1; round <= (process.env.BENCH_ONLY ? 1 : 2); round++) {
    const outBare = uniqueName('bench-bare-out');
    const outRt = uniqueName('bench-rt-out');
    await createTopics(admin, { [outBare]: PARTITIONS, [outRt]: PARTITIONS, [`${input}.dlq`]: PARTITIONS }).catch(
      () => undefined,
    );
    await createTopics(admin, { [outRt]: PARTITIONS }).catch(() => undefined);
    const bare = process.env.BENCH_ONLY === 'runtime' ? 1 : await bareLoop(input, outBare);
    if (process.env.BENCH_ONLY === 'bare') {
      console.log(`bare ${bare.toFixed(0)}`);
      process.exit(0);
    }
    console.log(`round ${round}: bare kafkajs loop ${bare.toFixed(0)} records/s`);
    const runtime = await runtimeLoop(input, outRt);
    console.log(
      `round ${round}: runtime pass-through ${runtime.toFixed(0)} records/s (ratio ${(runtime / bare).toFixed(2)})`,
    );
    rounds.push({ bare, runtime });
  }
  const bare = Math.max(...rounds.map((r) => r.bare));
  const runtime = Math.max(...rounds.map((r) => r.runtime));
  const ratio = runtime / bare;

  if (process.env.BENCH_ONLY) process.exit(0);
  console.log('I/O-bound operator (20 ms per record), one partition:');
  const scaling: string[] = [];
  let base = 0;
  for (const c of [1, 2, 4, 8, 16]) {
    const inT = uniqueName('bench-io-in');
    const outT = uniqueName('bench-io-out');
    const n = c * 50;
    await createTopics(admin, { [inT]: 1, [outT]: 1, [`${inT}.dlq`]: 1 });
    await produceRecords(
      kafka,
      inT,
      'RawListing',
      Array.from({ length: n }, (_, i) => ({ key: `io${i}`, value: rawListing(`io${i}`, i) })),
    );
    const rate = await runtimeLoop(inT, outT, ioOperator, c, n, 1);
    if (c === 1) base = rate;
    const line = `- concurrency ${c}: ${rate.toFixed(1)} records/s (${(rate / base).toFixed(1)}x of concurrency 1; ideal ${c}x)`;
    console.log(line);
    scaling.push(line);
  }
  const perf = producerPerformance();
  if (perf) console.log(`Kafka ProducerPerformance (1 KB, acks=all): ${perf}`);
  await admin.disconnect();

  const lines = [
    `Throughput over ${TOTAL} pre-loaded ~1 KB Avro records, ${PARTITIONS} partitions (best of 2 rounds each):`,
    '',
    `- bare kafkajs eachBatch loop (decode, re-encode, produce acks=all, commit): ${bare.toFixed(0)} records/s`,
    `- runtime with the pass-through operator (concurrency 16): ${runtime.toFixed(0)} records/s`,
    `- **ratio runtime/bare: ${ratio.toFixed(2)}** (target >= 0.8)`,
    '',
    'I/O-bound operator awaiting 20 ms per record, one partition:',
    '',
    ...scaling,
    ...(perf ? ['', `Kafka's own ProducerPerformance, same machine (ceiling for context): ${perf}`] : []),
  ];
  record('bench:runtime', lines);
  console.log(`\nratio runtime/bare: ${ratio.toFixed(2)} (target >= 0.8); written to docs/benchmarks.md`);
  process.exit(0);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
