/**
 * Shared pieces of the benchmarks: fresh topics and their clean-up, waiting for a topic to fill, peak RSS,
 * the result table, and writing it into docs/benchmarks.md.
 *
 * Benchmarks print ratios of a contender and its baseline measured side by side in one run, over the same
 * data: on a shared or busy machine the absolute rates move, the ratio much less. They never assert on time.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { operators } from '../operators';
import type { AnyOperator, Logger } from '../runtime/operator';
import { definePipeline } from '../runtime/pipeline';
import { loadWorkerSettings } from '../runtime/settings';
import { Worker } from '../runtime/worker';
import type { SchemaName } from '../schemas/generated/types';
import { delay, testClientKind, uniqueName } from '../test/support/streams';
import type { KafkaAdmin, KafkaClientKind } from '../runtime/kafka-client';

export async function topicSize(admin: KafkaAdmin, topic: string): Promise<number> {
  // A retriable error (NOT_LEADER_FOR_PARTITION right after a topic was created, seen on the shared platform)
  // is retried: it ended a whole benchmark run between two polls.
  for (let attempt = 1; ; attempt++) {
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
    } catch (e) {
      if (attempt >= 20 || (e as { retriable?: boolean }).retriable !== true) throw e;
      await delay(100);
    }
  }
}

export interface SteadyRate {
  /** Records per second from the moment 2% had arrived to the last arrival. */
  readonly rate: number;
  /** Records that arrived. */
  readonly count: number;
  /** False when the topic stopped growing before `count` was reached (the rate covers what arrived). */
  readonly complete: boolean;
}

/**
 * Waits until `topic` (or the topics together) received `count` records and returns the steady-state rate: measured from the moment 2%
 * had arrived to the last arrival, so that start-up (connecting, joining the group) is left out for every
 * contender alike. If the topic stops growing for `idleMs` (a contender that filters or dead-letters more
 * than expected), it returns the rate of what arrived, marked incomplete, instead of hanging.
 */
export async function steadyRate(
  admin: KafkaAdmin,
  topic: string | readonly string[],
  count: number,
  opts: { timeoutMs?: number; idleMs?: number } = {},
): Promise<SteadyRate> {
  // Several topics (outputs and the dead-letter topic): their records since the start are counted together.
  const topics = typeof topic === 'string' ? [topic] : topic;
  const before = await Promise.all(topics.map((t) => topicSize(admin, t)));
  const arrived = async () => {
    const sizes = await Promise.all(topics.map((t) => topicSize(admin, t)));
    return sizes.reduce((n, s, i) => n + s - before[i]!, 0);
  };
  const end = Date.now() + (opts.timeoutMs ?? 1_800_000);
  const idleMs = opts.idleMs ?? 20_000;
  const warm = Math.max(1, Math.ceil(count * 0.02));
  let warmAt: { t: number; n: number } | null = null;
  let last = { t: Date.now(), n: 0 };
  const rateOf = (n: number, t: number) => (warmAt ? ((n - warmAt.n) * 1000) / Math.max(1, t - warmAt.t) : 0);
  for (;;) {
    const n = await arrived();
    const now = Date.now();
    if (n > last.n) last = { t: now, n };
    if (!warmAt && n >= warm) warmAt = { t: now, n };
    if (n >= count && warmAt) return { rate: rateOf(n, now), count: n, complete: true };
    if (now - last.t > idleMs && n > 0) return { rate: rateOf(last.n, last.t), count: last.n, complete: false };
    if (now > end) throw new Error(`${topics.join(' + ')} did not reach ${count} records (has ${n})`);
    await delay(20);
  }
}

/** Deletes the benchmark's own topics (never anyone else's: they all carry a random suffix). */
export async function deleteTopics(admin: KafkaAdmin, topics: readonly string[]): Promise<void> {
  if (topics.length === 0) return;
  await admin.deleteTopics({ topics: [...topics], timeout: 30_000 }).catch((e: unknown) => {
    console.warn(`could not delete benchmark topics (${(e as Error).message}); they are named bench-*`);
  });
}

/** Samples this process's RSS every 20 ms; `reset` starts a new peak (one per contender). */
export class PeakRss {
  private peak = 0;
  private readonly timer = setInterval(() => this.sample(), 20);
  constructor() {
    this.timer.unref();
  }
  sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage().rss);
  }
  reset(): void {
    global.gc?.();
    this.peak = process.memoryUsage().rss;
  }
  get value(): number {
    this.sample();
    return this.peak;
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

export const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

export const fmtRate = (r: number): string =>
  r >= 100 ? Math.round(r).toLocaleString('en-US') : r.toFixed(r >= 10 ? 1 : 2);

/** A markdown table (printed to the console and written to docs/benchmarks.md as it is). */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}

export function machine(): string {
  return `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}`;
}

export function silentLogger(): Logger {
  const l: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => l };
  return l;
}

const DOC = join(__dirname, '..', '..', 'docs', 'benchmarks.md');

/** True when the run should write its results into docs/benchmarks.md (`-- --write` or BENCH_WRITE=1). */
export const shouldWrite = (): boolean => process.argv.includes('--write') || process.env.BENCH_WRITE === '1';

/**
 * Prints the result block and, with `--write`, replaces the block between `<!-- results:<id> -->` and
 * `<!-- /results:<id> -->` in docs/benchmarks.md, so a rerun at full size on a quiet machine replaces the
 * numbers in place instead of appending another copy.
 */
export interface ReportOptions {
  /**
   * The benchmark runs on the Kafka client LISTFLOW_KAFKA_CLIENT names (its workers and its own reads): the
   * client is named in the results, and one other than the default kafkajs gets its own section
   * (`<id>-<client>`), so the figures of both clients stand side by side in docs/benchmarks.md.
   */
  readonly perClient?: boolean;
}

export function report(id: string, lines: readonly string[], options: ReportOptions = {}): void {
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const client = options.perClient ? testClientKind() : undefined;
  if (client !== undefined && client !== 'kafkajs') id = `${id}-${client}`;
  const on = client === undefined ? '' : `, Kafka client ${client}`;
  const block = [`Measured ${when} UTC on ${machine()}${on}.`, '', ...lines];
  console.log(`\n${block.join('\n')}`);
  if (!shouldWrite()) {
    console.log(
      `\n(not written; rerun with \`-- --write\` or BENCH_WRITE=1 to replace the ${id} results in docs/benchmarks.md)`,
    );
    return;
  }
  const start = `<!-- results:${id} -->`;
  const end = `<!-- /results:${id} -->`;
  const doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '# Benchmarks\n';
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  const body = `${start}\n${block.join('\n')}\n${end}`;
  const next = i >= 0 && j > i ? doc.slice(0, i) + body + doc.slice(j + end.length) : `${doc.trimEnd()}\n\n${body}\n`;
  writeFileSync(DOC, next);
  console.log(`\nwritten to docs/benchmarks.md (${id})`);
}

export interface BenchStep {
  readonly input: string;
  readonly inputSchema: SchemaName;
  /** Output port -> topic and schema. */
  readonly outputs: Record<string, { readonly topic: string; readonly schema: SchemaName }>;
  readonly operator: AnyOperator;
  readonly operatorConfig?: unknown;
  /** Injected services (otherwise the operator's factory builds them). */
  readonly services?: unknown;
  readonly concurrency: number;
  readonly partitions: number;
  readonly timeoutMs?: number;
  /** The step's `threads` (operator threads); omitted runs `process` on the event loop. */
  readonly threads?: number;
  /** The worker's Kafka client (LISTFLOW_KAFKA_CLIENT); omitted, the environment's. */
  readonly kafkaClient?: KafkaClientKind;
}

/**
 * Starts the real runtime (runtime/worker.ts) on one step, in this process, with the worker settings a
 * deployment would use (LISTFLOW_* from the environment, so a tuning can be tried without editing code).
 * The topics must exist (input, outputs, `<input>.dlq`).
 */
export async function startWorker(s: BenchStep): Promise<Worker> {
  const topics: Record<string, { partitions: number; schema: SchemaName }> = {
    [s.input]: { partitions: s.partitions, schema: s.inputSchema },
  };
  for (const o of Object.values(s.outputs)) topics[o.topic] = { partitions: s.partitions, schema: o.schema };
  const pipeline = definePipeline({
    name: 'bench',
    topics,
    steps: [
      {
        id: uniqueName(`bench-${s.operator.name}`),
        operator: s.operator.name,
        input: s.input,
        outputs: Object.fromEntries(Object.entries(s.outputs).map(([port, o]) => [port, o.topic])),
        concurrency: s.concurrency,
        ...(s.threads !== undefined ? { threads: s.threads } : {}),
        timeoutMs: s.timeoutMs ?? 60_000,
        retry: { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 1000 },
        replicas: 1,
      },
    ],
  });
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('LISTFLOW_') && !k.startsWith('LISTFLOW_POSTGRES') && !k.startsWith('LISTFLOW_NODE')) env[k] = v;
  }
  const settings = loadWorkerSettings(
    {
      ...env,
      ...(s.kafkaClient !== undefined ? { LISTFLOW_KAFKA_CLIENT: s.kafkaClient } : {}),
      LISTFLOW_REGISTER_SCHEMAS: 'true',
      LISTFLOW_HTTP_PORT: '0',
      LISTFLOW_LOG_LEVEL: 'silent',
    },
    // Every operator's settings are left to its own config (the benchmark passes it): the platform's
    // environment carries the images step's (LISTFLOW_IMAGES_*), which another step's worker would refuse.
    [...new Set([s.operator.name, ...Object.keys(operators)])],
  );
  const worker = new Worker({
    pipeline,
    step: pipeline.steps[0]!,
    operator: s.operator,
    operatorConfig: s.operatorConfig ?? {},
    ...(s.services !== undefined ? { services: s.services } : {}),
    settings,
    logger: silentLogger(),
  });
  await worker.start();
  return worker;
}
