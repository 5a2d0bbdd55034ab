/**
 * npm run bench:runtime: the runtime's own cost, measured side by side in one run.
 *
 * 1. Throughput: BENCH_RECORDS (default 200,000) pre-loaded RawListing records of about 1 KB (Avro, Confluent
 *    wire format) on 6 partitions, copied to a fresh output topic by
 *    (a) baseline: a bare kafkajs eachBatch loop written here, doing the same work the runtime must do:
 *        decode and re-encode the Avro, write the same output record (key, value, trace-id header),
 *        produce with acks=all (idempotent producer), commit after the acknowledgement;
 *    (b) contender: the runtime (runtime/worker.ts) running its pass-through operator.
 *    (c) traced: the same runtime with OTEL_EXPORTER_OTLP_ENDPOINT set, exporting a span per job with its
 *        children to an OTLP/HTTP sink in a child process (a collector stand-in that counts and drops).
 *    Rounds alternate a, b, c (BENCH_ROUNDS, default 2); the best of each is kept. Target: b/a >= 0.8; c/b is
 *    the cost of exported spans (BENCH_TRACING=0 leaves c out). Without an endpoint (b) nothing of the SDK loads.
 * 2. Concurrency: an operator that awaits 20 ms of simulated I/O per record, one partition, at concurrency
 *    1, 2, 4, 8, 16 (BENCH_IO_RECORDS records per unit of concurrency, default 50): throughput should grow
 *    almost linearly (ideal: concurrency x 50 records/s).
 * 3. Context: Kafka's own ProducerPerformance (1 KB records, acks=all) on the same broker, the machine's
 *    produce ceiling. Its jar (org.apache.kafka:kafka-tools) is fetched once with Maven next to the broker's
 *    jars; skipped with a note when Java or Maven is missing (BENCH_PRODUCER_PERF=0 skips it too).
 *
 * Rates are steady state: from the moment 2% of the output has arrived to the last record (bench/harness).
 * Every topic it creates is deleted at the end. `-- --write` puts the result table in docs/benchmarks.md.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from '../runtime/config';
import type { KafkaClientKind } from '../runtime/kafka-client';
import { defineOperator, emit } from '../runtime/operator';
import { passThrough } from '../runtime/passthrough';
import { sleep } from '../runtime/execute/retry';
import { createTopics, produceRecords, rawListing, testKafka, uniqueName } from '../test/support/streams';
import { type BareLoop, bareKafkajsLoop, barePlatformaticLoop } from './bare-loops';
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

const TOTAL = Number(process.env.BENCH_RECORDS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const IO_PER_UNIT = Number(process.env.BENCH_IO_RECORDS ?? 50);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const TRACING = process.env.BENCH_TRACING !== '0';
const PARTITIONS = 6;
const BARE: Record<KafkaClientKind, BareLoop> = { kafkajs: bareKafkajsLoop, platformatic: barePlatformaticLoop };
/** The clients compared (BENCH_CLIENTS, default both); the traced contender runs on the first. */
const CLIENTS = (process.env.BENCH_CLIENTS ?? 'kafkajs platformatic')
  .split(/[\s,]+/)
  .filter(Boolean) as KafkaClientKind[];
for (const c of CLIENTS)
  if (!(c in BARE)) throw new Error(`BENCH_CLIENTS: unknown client "${c}" (kafkajs, platformatic)`);
const KAFKA_VERSION = '4.1.1';
const kafka = testKafka('bench-runtime');
type Round = { bare: SteadyRate; rt: SteadyRate; bareRss: number; rtRss: number };
const created: string[] = [];
const rss = new PeakRss();

async function topics(spec: Record<string, number>): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await createTopics(admin, spec);
    created.push(...Object.keys(spec));
  } finally {
    await admin.disconnect();
  }
}

/** (b) The contender: the runtime with `operator` on one step. */
async function runtimeLoop(
  input: string,
  output: string,
  opts: {
    operator?: BenchStep['operator'];
    concurrency: number;
    count: number;
    partitions: number;
    kafkaClient?: KafkaClientKind;
  },
): Promise<SteadyRate> {
  const admin = kafka.admin();
  await admin.connect();
  const worker = await startWorker({
    input,
    inputSchema: 'RawListing',
    outputs: { out: { topic: output, schema: 'RawListing' } },
    operator: opts.operator ?? passThrough('RawListing'),
    concurrency: opts.concurrency,
    partitions: opts.partitions,
    ...(opts.kafkaClient !== undefined ? { kafkaClient: opts.kafkaClient } : {}),
  });
  const rate = await steadyRate(admin, output, opts.count);
  await worker.stop('bench done');
  await admin.disconnect();
  return rate;
}

/**
 * An OTLP/HTTP sink in a child process, so receiving spans does not share the contenders' event loop: it answers
 * every POST /v1/traces with 200 and counts the spans it was sent.
 */
async function startSpanSink(): Promise<{ endpoint: string; spans: () => Promise<number>; stop: () => void }> {
  const script = `
    let spans = 0;
    const server = require('node:http').createServer((req, res) => {
      if (req.method === 'GET') return res.end(String(spans));
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        try { spans += (Buffer.concat(chunks).toString().match(/"spanId"/g) || []).length; } catch {}
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', (code) => reject(new Error(`span sink exited (${code})`)));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    spans: async () => Number(await (await fetch(`${endpoint}/count`)).text()),
    stop: () => void child.kill(),
  };
}

/**
 * (c) The runtime with spans exported: the worker reads OTEL_EXPORTER_OTLP_ENDPOINT when it starts
 * (runtime/trace/spans.ts), so the variable is set for this contender only. Returns the rate and the spans the
 * sink received (the SDK's batch processor drops spans when its queue is full, so fewer than 4 per record).
 */
async function tracedLoop(
  input: string,
  output: string,
  endpoint: string,
  kafkaClient: KafkaClientKind,
): Promise<SteadyRate> {
  const before = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint;
  try {
    return await runtimeLoop(input, output, {
      concurrency: CONCURRENCY,
      count: TOTAL,
      partitions: PARTITIONS,
      kafkaClient,
    });
  } finally {
    if (before === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = before;
  }
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

/** The jars of ProducerPerformance: the broker's (infra/kafka) plus kafka-tools, fetched once with Maven. */
function kafkaToolsClasspath(): { cp?: string; note?: string } {
  const cache = join(__dirname, '..', '..', '.listflow', 'cache');
  const libs = join(cache, `kafka-${KAFKA_VERSION}`, 'libs');
  const tools = join(cache, `kafka-tools-${KAFKA_VERSION}`);
  if (!existsSync(libs)) return { note: `broker jars not found in ${libs} (run \`npm run infra up\` once)` };
  if (!existsSync(tools) || !readdirSync(tools).some((f) => f.startsWith('kafka-tools-'))) {
    mkdirSync(tools, { recursive: true });
    console.log(`fetching org.apache.kafka:kafka-tools:${KAFKA_VERSION} with Maven (first run only)...`);
    const r = spawnSync(
      'mvn',
      [
        '-q',
        '-B',
        'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy',
        `-Dartifact=org.apache.kafka:kafka-tools:${KAFKA_VERSION}`,
        `-DoutputDirectory=${tools}`,
      ],
      { encoding: 'utf8', timeout: 180_000 },
    );
    if (r.status !== 0) return { note: `could not fetch kafka-tools with Maven: ${r.error?.message ?? r.stderr}` };
  }
  return { cp: `${tools}/*:${libs}/*` };
}

/** Kafka's own producer benchmark on the same broker; returns its summary line, or a note why it was skipped. */
async function producerPerformance(): Promise<{ line?: string; rate?: number; note?: string }> {
  if (process.env.BENCH_PRODUCER_PERF === '0') return { note: 'skipped (BENCH_PRODUCER_PERF=0)' };
  if (spawnSync('java', ['-version']).status !== 0) return { note: 'skipped: java not found' };
  const { cp, note } = kafkaToolsClasspath();
  if (!cp) return { note: `skipped: ${note}` };
  const topic = uniqueName('bench-perf');
  await topics({ [topic]: PARTITIONS });
  const r = spawnSync(
    'java',
    [
      '-Xmx512m',
      '-cp',
      cp,
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
      'enable.idempotence=true',
    ],
    { encoding: 'utf8', timeout: 600_000 },
  );
  const line = (r.stdout ?? '')
    .trim()
    .split('\n')
    .filter((l) => /records sent/.test(l))
    .pop();
  const m = line ? /([\d.]+) records\/sec/.exec(line) : null;
  if (!line || !m) return { note: `skipped: ProducerPerformance failed: ${(r.stderr ?? '').trim().slice(0, 300)}` };
  return { line, rate: Number(m[1]) };
}

async function main(): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const input = uniqueName('bench-runtime-in');
    await topics({ [input]: PARTITIONS, [`${input}.dlq`]: PARTITIONS });
    const payload = 'x'.repeat(950);
    console.log(`preloading ${TOTAL} RawListing records of about 1 KB into ${input} (${PARTITIONS} partitions)...`);
    const records = Array.from({ length: TOTAL }, (_, i) => ({
      key: `k${i % 5000}`,
      value: rawListing(`k${i % 5000}`, i, payload),
    }));
    await produceRecords(kafka, input, 'RawListing', records);
    records.length = 0;

    const sink = TRACING ? await startSpanSink() : undefined;
    // Per client, per round: its bare loop and the runtime on it; the traced runtime on the first client.
    const rounds = Object.fromEntries(CLIENTS.map((c) => [c, [] as Round[]])) as Record<KafkaClientKind, Round[]>;
    const traced: { rate: SteadyRate; rss: number; spans: number; untraced: number }[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const client of CLIENTS) {
        const outBare = uniqueName(`bench-bare-${client}-out`);
        const outRt = uniqueName(`bench-rt-${client}-out`);
        await topics({ [outBare]: PARTITIONS, [outRt]: PARTITIONS });
        rss.reset();
        const bare = await BARE[client](input, outBare, TOTAL, PARTITIONS);
        const bareRss = rss.value;
        rss.reset();
        const rt = await runtimeLoop(input, outRt, {
          concurrency: CONCURRENCY,
          count: TOTAL,
          partitions: PARTITIONS,
          kafkaClient: client,
        });
        const rtRss = rss.value;
        console.log(
          `round ${round}, ${client}: bare loop ${fmtRate(bare.rate)} records/s, runtime pass-through ${fmtRate(rt.rate)} records/s, ratio ${(rt.rate / bare.rate).toFixed(2)}`,
        );
        if (!bare.complete || !rt.complete)
          console.warn(`round ${round}, ${client}: incomplete (bare ${bare.count}, runtime ${rt.count})`);
        rounds[client].push({ bare, rt, bareRss, rtRss });
      }
      if (sink) {
        const client = CLIENTS[0]!;
        const outTraced = uniqueName('bench-traced-out');
        await topics({ [outTraced]: PARTITIONS });
        const spansBefore = await sink.spans();
        rss.reset();
        const rate = await tracedLoop(input, outTraced, sink.endpoint, client);
        const tracedRss = rss.value;
        const spans = (await sink.spans()) - spansBefore;
        const untraced = rounds[client]!.at(-1)!.rt.rate;
        console.log(
          `round ${round}, ${client}: runtime with spans exported ${fmtRate(rate.rate)} records/s, traced / untraced ${(rate.rate / untraced).toFixed(2)} (${spans.toLocaleString('en-US')} spans received)`,
        );
        traced.push({ rate, rss: tracedRss, spans, untraced });
      }
    }
    sink?.stop();
    const best = Object.fromEntries(
      CLIENTS.map((c) => {
        const rs = rounds[c]!;
        return [
          c,
          {
            bare: rs.reduce((a, b) => (b.bare.rate > a.bare.rate ? b : a)),
            rt: rs.reduce((a, b) => (b.rt.rate > a.rt.rate ? b : a)),
            perRound: rs.map((r) => (r.rt.rate / r.bare.rate).toFixed(2)).join(', '),
          },
        ];
      }),
    ) as Record<KafkaClientKind, { bare: Round; rt: Round; perRound: string }>;
    const bestTraced = traced.length ? traced.reduce((a, b) => (b.rate.rate > a.rate.rate ? b : a)) : undefined;
    const tracedPerRound = traced.map((t) => (t.rate.rate / t.untraced).toFixed(2)).join(', ');

    console.log('\nI/O-bound operator (20 ms per record), one partition:');
    const scaling: string[][] = [];
    let base = 0;
    for (const c of [1, 2, 4, 8, 16]) {
      const inT = uniqueName('bench-io-in');
      const outT = uniqueName('bench-io-out');
      const n = c * IO_PER_UNIT;
      await topics({ [inT]: 1, [outT]: 1, [`${inT}.dlq`]: 1 });
      await produceRecords(
        kafka,
        inT,
        'RawListing',
        Array.from({ length: n }, (_, i) => ({ key: `io${i}`, value: rawListing(`io${i}`, i) })),
      );
      const { rate } = await runtimeLoop(inT, outT, { operator: ioOperator, concurrency: c, count: n, partitions: 1 });
      if (c === 1) base = rate;
      const row = [String(c), String(n), fmtRate(rate), `${(rate / base).toFixed(1)}x`, `${c}x (${c * 50} records/s)`];
      console.log(`- concurrency ${c}: ${fmtRate(rate)} records/s, ${(rate / base).toFixed(1)}x of concurrency 1`);
      scaling.push(row);
    }

    console.log('\nKafka ProducerPerformance (1 KB records, acks=all)...');
    const perf = await producerPerformance();
    console.log(perf.line ?? perf.note);

    const mibOf = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
    const both = best.kafkajs && best.platformatic;
    report('runtime', [
      `Sizes: ${TOTAL.toLocaleString('en-US')} pre-loaded RawListing records of ~1 KB (Avro), ${PARTITIONS} partitions, runtime concurrency ${CONCURRENCY}, best of ${ROUNDS} alternating rounds (clients: ${CLIENTS.join(', ')}); I/O sweep ${IO_PER_UNIT} records per unit of concurrency.`,
      '',
      ...table(
        ['contender', 'records/s', 'peak RSS (process)'],
        [
          ...CLIENTS.flatMap((c) => [
            [
              `(a) baseline: bare ${c} loop (decode, re-encode, produce acks=all, commit)`,
              fmtRate(best[c].bare.bare.rate),
              mibOf(best[c].bare.bareRss),
            ],
            [`(b) runtime on ${c}, pass-through operator`, fmtRate(best[c].rt.rt.rate), mibOf(best[c].rt.rtRss)],
          ]),
          ...(bestTraced
            ? [
                [
                  `(c) runtime on ${CLIENTS[0]}, pass-through, spans exported (OTLP/HTTP to a sink in a child process)`,
                  fmtRate(bestTraced.rate.rate),
                  mibOf(bestTraced.rss),
                ],
              ]
            : []),
          ...(perf.rate
            ? [['Kafka ProducerPerformance, 1 KB, acks=all (produce-only ceiling)', fmtRate(perf.rate), 'JVM']]
            : []),
        ],
      ),
      '',
      ...CLIENTS.map(
        (c) =>
          `**Ratio runtime / bare loop on ${c}: ${(best[c].rt.rt.rate / best[c].bare.bare.rate).toFixed(2)}** (target >= 0.85; per round: ${best[c].perRound}).`,
      ),
      ...(both
        ? [
            `**Runtime on platformatic / runtime on kafkajs: ${(best.platformatic.rt.rt.rate / best.kafkajs.rt.rt.rate).toFixed(2)}** (target >= 2.0; bare loops: ${(best.platformatic.bare.bare.rate / best.kafkajs.bare.bare.rate).toFixed(2)}).`,
          ]
        : []),
      ...(bestTraced
        ? [
            `**Tracing: spans exported / none: ${(bestTraced.rate.rate / bestTraced.untraced).toFixed(2)}** (per round: ${tracedPerRound}; spans received per round: ${traced.map((t) => t.spans.toLocaleString('en-US')).join(', ')} of 4 per record, the rest dropped by the SDK's batch queue). Without an endpoint (b) the SDK is not loaded.`,
          ]
        : []),
      ...(perf.rate
        ? [
            `Runtime / ProducerPerformance: ${CLIENTS.map((c) => `${c} ${(best[c].rt.rt.rate / perf.rate!).toFixed(2)}`).join(', ')} (context only: that one produces and never consumes).`,
          ]
        : [`Kafka ProducerPerformance: ${perf.note}.`]),
      '',
      'I/O-bound operator awaiting 20 ms per record, one partition (target: near-linear growth):',
      '',
      ...table(['concurrency', 'records', 'records/s', 'vs concurrency 1', 'ideal'], scaling),
    ]);
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
