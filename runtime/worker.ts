/**
 * The worker: runs one pipeline step (one operator) as one consumer-group member. This file is its
 * lifecycle (connect, check topics and schemas, start, stop, health); the consumer-group side (partitions,
 * ordering, backpressure, commits) is runtime/consumer-group.ts, and what happens to each job (decode,
 * process, retries, dead letters, encode) is the step executor's, runtime/execute/.
 *
 * Guarantees (see ../shared/design/kafkajs-pitfalls.md for the kafkajs traps each line answers):
 * - At-least-once. autoCommit is off; a message's offset becomes committable only after Kafka acknowledged
 *   all of its outputs, or its dead letter. Per partition the commit is the contiguous finished prefix + 1,
 *   never moves backwards, has one commit in flight, and is dropped when the partition changed generation.
 * - One consumer per partition; inside a partition up to `concurrency` jobs run at once, jobs of the same key
 *   never overlap and run in offset order, and at most `window` jobs are taken but uncommitted (backpressure:
 *   the batch loop waits, so nothing more is fetched for that partition).
 * - Heartbeats run on a timer while a batch drains. Each job attempt has a deadline (AbortSignal).
 * - Retriable errors: capped, jittered backoff, bounded attempts, then a dead letter. Permanent errors and bugs:
 *   a dead letter at once. Undecodable input is permanent. If a dead letter cannot be written, nothing is
 *   committed and the batch fails loudly (the client restarts the consumer, which refetches from the commit).
 * - Rebalance: stop starting jobs, let in-flight ones finish (abort them past half the rebalance timeout),
 *   commit what is done, rethrow so the client rejoins.
 * - SIGTERM: stop starting jobs, finish in-flight ones within the grace period, commit, leave the group.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { SchemaName } from '../schemas/generated/types';
import { GroupMember, type Liveness } from './consumer-group';
import { ListflowError, PermanentError } from './errors';
import { type Codec, StepExecutor, type ThreadRunner } from './execute/executor';
import { createKafka } from './kafka';
import type { KafkaAdmin, KafkaClient, KafkaConsumer } from './kafka-client';
import { createLogger, type HealthState, itemMetrics, startHealthServer, WorkerMetrics } from './observability';
import { type AnyContext, type AnyOperator, type Clock, type Logger, registryModuleOf } from './operator';
import { OperatorThreads } from './operator-threads';
import { dlqTopic, groupId, type PipelineSpec, type StepSpec } from './pipeline';
import { assertValidStep } from './pipeline-validation';
import { OutputBatcher } from './producer';
import { AvroSerde, createRegistry } from './serde';
import type { WorkerSettings } from './settings';
import { type JobTracer, jobTracer } from './trace/spans';

export { SendFailedError } from './execute/executor';

export interface WorkerOptions {
  readonly pipeline: PipelineSpec;
  readonly step: StepSpec;
  readonly operator: AnyOperator;
  /** Parsed operator config. */
  readonly operatorConfig: unknown;
  readonly settings: WorkerSettings;
  /** Injected services (tests); otherwise the operator's `services` factory builds them. */
  readonly services?: unknown;
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly random?: () => number;
  /** Unique consumer client id suffix (tests run several workers in one process). */
  readonly instanceId?: string;
}

export class Worker {
  readonly metrics: WorkerMetrics;
  readonly logger: Logger;
  private readonly kafka: KafkaClient;
  private readonly serde: AvroSerde;
  private readonly batcher: OutputBatcher;
  private readonly member: GroupMember;
  private consumer: KafkaConsumer | null = null;
  private server: Server | null = null;
  private services: unknown;
  /** The operator's threads when the step has `threads` > 0; otherwise `process` runs on the event loop. */
  private threads: OperatorThreads | null = null;
  /** Exports job spans when OTEL_EXPORTER_OTLP_ENDPOINT is set (the SDK's own variable); else propagation only. */
  private readonly tracer: JobTracer;
  private readonly outputIds = new Map<string, { topic: string; schema: SchemaName; id: number }>();
  private readonly dlq: string;
  /** Partition count per topic written to, filled at startup (checkTopics) and read by the output batcher. */
  private readonly partitionCounts = new Map<string, number>();
  private readonly concurrency: number;
  private readonly liveness: Liveness = { inFlight: 0, lastProgressAt: Date.now() };
  private crashed: string | undefined;
  private draining = false;
  private readonly stallMs: number;
  private resolveDone!: (code: number) => void;
  /** Resolves with the exit code when the worker has stopped (graceful stop or unrecoverable crash). */
  readonly done: Promise<number> = new Promise((r) => (this.resolveDone = r));

  constructor(private readonly opts: WorkerOptions) {
    const { step, operator, settings } = opts;
    this.logger = opts.logger ?? createLogger(settings.logLevel, { operator: operator.name, step: step.id });
    this.metrics = new WorkerMetrics(step.id);
    this.tracer = jobTracer(step.id);
    const recordsOut = new Map(
      Object.values(step.outputs).map((t) => [t, this.metrics.recordsOut.labels(step.id, t)] as const),
    );
    this.kafka = createKafka(settings, `${step.id}-${opts.instanceId ?? process.pid}`, this.logger);
    this.serde = new AvroSerde(
      createRegistry({
        url: settings.registryUrl,
        username: settings.registryUsername,
        password: settings.registryPassword,
      }),
    );
    this.batcher = new OutputBatcher(
      () => this.kafka.producer({ idempotent: true }),
      {
        maxRecords: settings.produceMaxRecords,
        maxBytesPerPartition: settings.produceMaxBytesPerPartition,
        maxBytes: settings.produceMaxBytes,
        maxRequests: settings.produceMaxRequests,
        partitionCounts: this.partitionCounts,
      },
      (records) => {
        this.liveness.lastProgressAt = Date.now();
        // One counter update per topic and request, not per record.
        let topic: string | null = null;
        let n = 0;
        for (const r of records) {
          if (r.topic !== topic) {
            if (topic !== null) recordsOut.get(topic)?.inc(n);
            topic = r.topic;
            n = 0;
          }
          n++;
        }
        if (topic !== null) recordsOut.get(topic)?.inc(n);
      },
    );
    this.dlq = dlqTopic(step.input);
    this.concurrency = settings.concurrency ?? step.concurrency;
    this.stallMs = step.timeoutMs + step.retry.maxBackoffMs + 60_000;
    this.member = new GroupMember({
      stepId: step.id,
      input: step.input,
      settings,
      concurrency: this.concurrency,
      window: Math.max(settings.maxInFlight, this.concurrency),
      batchMode: operator.processBatch !== undefined,
      metrics: this.metrics,
      logger: this.logger,
      liveness: this.liveness,
    });
  }

  /** Connects, checks topics and schemas, starts consuming and serving health. */
  async start(): Promise<void> {
    const { pipeline, step, operator, settings } = this.opts;
    assertValidStep(pipeline, step.id, operator);
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await this.checkTopics(admin);
    } finally {
      await admin.disconnect();
    }
    for (const [port, topic] of Object.entries(step.outputs)) {
      const schema = operator.outputs[port] as SchemaName;
      const id = await this.serde.schemaIdFor(topic, schema, settings.registerSchemas);
      this.outputIds.set(port, { topic, schema, id });
    }
    this.services =
      this.opts.services !== undefined
        ? this.opts.services
        : await operator.services?.(
            this.opts.operatorConfig as AnyContext['config'],
            this.logger,
            itemMetrics(this.metrics),
          );
    if ((step.threads ?? 0) > 0) {
      const registry = registryModuleOf(operator);
      if (!registry)
        throw new PermanentError(
          'PIPELINE_INVALID',
          `step ${step.id} runs ${operator.name} on threads, but the operator comes from no registry a thread can load. Fix: declare the registry with defineRegistry (operators/index.ts).`,
        );
      this.threads = new OperatorThreads({
        operator: operator.name,
        registry,
        step: step.id,
        config: this.opts.operatorConfig,
        threads: step.threads!,
        logLevel: settings.logLevel,
        logger: this.logger,
        outputs: Object.fromEntries(
          [...this.outputIds].map(([port, o]) => [port, { schema: o.schema, schemaId: o.id }]),
        ),
      });
    }
    this.member.use(this.executor());
    await this.batcher.start();

    const consumer = this.kafka.consumer({
      groupId: groupId(pipeline, step),
      sessionTimeout: settings.sessionTimeoutMs,
      rebalanceTimeout: settings.rebalanceTimeoutMs,
      heartbeatInterval: settings.heartbeatIntervalMs,
      maxBytesPerPartition: settings.maxBytesPerPartition,
      maxBytes: settings.fetchMaxBytes ?? settings.maxBytesPerPartition * 8,
      retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 10_000 },
    });
    this.consumer = consumer;
    consumer.on('join', ({ assignment }) => this.member.onJoin(assignment));
    consumer.on('crash', ({ error, restart }) => {
      this.logger.error({ err: error, restart }, 'consumer crashed');
      if (!restart) {
        this.crashed = `consumer crashed: ${error.message}`;
        void this.stop('crash').then(() => undefined);
      }
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [step.input], fromBeginning: true });
    const partitions = pipeline.topics[step.input]?.partitions ?? 1;
    await consumer.run({
      autoResolve: false,
      partitionsConsumedConcurrently: partitions,
      eachBatch: (payload) => this.member.handleBatch(payload),
    });
    this.server = await startHealthServer(settings.httpPort, this.metrics, this.health());
    this.logger.info({ input: step.input, outputs: step.outputs, concurrency: this.concurrency }, 'worker started');
  }

  /** The step executor over the registry-backed serde, the output batcher and (when the step has them) threads. */
  private executor(): StepExecutor {
    const { step, operator } = this.opts;
    const serde = this.serde;
    const input = operator.input as SchemaName;
    const codec: Codec = {
      decodeCached: (bytes) => serde.decodeCached(bytes, input),
      decode: (bytes) => serde.decode(bytes, input),
      encode: (port, value) => {
        const out = this.outputIds.get(port)!;
        return serde.encode(out.id, out.schema, value);
      },
    };
    const pool = this.threads;
    const threads: ThreadRunner | null = pool && {
      async process(value, meta, attempt, deadlineAt, abort) {
        const writer = serde.writerOf(value) ?? (await serde.fetchWriterOf(value));
        return pool.process(value, writer, meta, attempt, deadlineAt, abort);
      },
    };
    const m = this.metrics;
    return new StepExecutor({
      step,
      operator,
      config: this.opts.operatorConfig,
      services: this.services,
      codec,
      send: (records) => this.batcher.send(records),
      dlq: this.dlq,
      clock: this.opts.clock ?? { now: () => new Date() },
      logger: this.logger,
      random: this.opts.random ?? Math.random,
      threads,
      tracer: this.tracer,
      hooks: {
        failed: (code) => m.recordsFailed.inc({ step: step.id, code }),
        retried: (code) => m.retries.inc({ step: step.id, code }),
        deadLettered: (code, n) => m.deadLetters.inc({ step: step.id, code }, n),
        progress: () => {
          this.liveness.lastProgressAt = Date.now();
        },
      },
    });
  }

  /** The HTTP server, once started (tests read its port). */
  get httpServer(): Server | null {
    return this.server;
  }

  private stopping: Promise<number> | null = null;

  /**
   * Graceful stop: stop starting jobs, let in-flight ones finish within the grace period, commit, leave the
   * group. Past the grace period, in-flight jobs are aborted (their offsets stay uncommitted) and the exit
   * code is 1. Never hangs: disconnect() is raced against the deadline (kafkajs #571).
   */
  stop(reason: string): Promise<number> {
    if (!this.stopping) this.stopping = this.doStop(reason);
    return this.stopping;
  }

  private async doStop(reason: string): Promise<number> {
    const grace = this.opts.settings.shutdownGraceMs;
    this.logger.info({ reason, graceMs: grace, inFlight: this.liveness.inFlight }, 'stopping');
    this.draining = true;
    this.member.drain();
    let timedOut = false;
    const graceTimer = setTimeout(() => {
      timedOut = true;
      this.logger.warn({ inFlight: this.liveness.inFlight }, 'grace period over: aborting in-flight jobs');
      this.member.abortAll(new ListflowError('JOB_TIMEOUT', 'aborted: shutdown grace period over'));
    }, grace);
    const margin = Math.min(5000, grace);
    const deadline = new Promise<'deadline'>((r) => setTimeout(() => r('deadline'), grace + margin).unref());
    const disconnected = (this.consumer ? this.consumer.disconnect() : Promise.resolve()).then(
      () => 'ok' as const,
      (e: unknown) => {
        this.logger.error({ err: e }, 'consumer disconnect failed');
        return 'error' as const;
      },
    );
    const outcome = await Promise.race([disconnected, deadline]);
    clearTimeout(graceTimer);
    await Promise.race([this.batcher.stop().catch(() => undefined), new Promise((r) => setTimeout(r, margin).unref())]);
    await this.threads?.close();
    await Promise.race([
      this.tracer.shutdown().catch((e: unknown) => this.logger.warn({ err: e }, 'exporting spans failed')),
      new Promise((r) => setTimeout(r, margin).unref()),
    ]);
    if (this.opts.operator.closeServices && this.opts.services === undefined && this.services !== undefined) {
      await this.opts.operator
        .closeServices(this.services)
        .catch((e: unknown) => this.logger.warn({ err: e }, 'closing services failed'));
    }
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    const code = outcome === 'ok' && !timedOut && !this.crashed ? 0 : 1;
    this.logger.info({ code, outcome, timedOut }, 'stopped');
    this.resolveDone(code);
    return code;
  }

  private health(): HealthState {
    return {
      ready: () => this.member.hasJoined && !this.draining && !this.crashed,
      deadReason: () => {
        if (this.crashed) return this.crashed;
        const { inFlight, lastProgressAt } = this.liveness;
        const idleFor = Date.now() - lastProgressAt;
        if (inFlight > 0 && idleFor > this.stallMs)
          return `no job finished for ${idleFor} ms with ${inFlight} in flight`;
        return undefined;
      },
    };
  }

  /** Fails when a topic is missing; records the partition count of every topic written to (see kafka-client/murmur2.ts). */
  private async checkTopics(admin: KafkaAdmin): Promise<void> {
    const { step } = this.opts;
    const existing = new Set(await admin.listTopics());
    const needed = [step.input, this.dlq, ...Object.values(step.outputs)];
    const missing = needed.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      throw new PermanentError(
        'PIPELINE_INVALID',
        `topics missing: ${missing.join(', ')}. Fix: run \`listflow topics apply\`.`,
      );
    }
    const written = [this.dlq, ...Object.values(step.outputs)];
    const { topics } = await admin.fetchTopicMetadata({ topics: written });
    for (const t of topics) if (t.partitions.length > 0) this.partitionCounts.set(t.name, t.partitions.length);
  }
}

export const newTraceId = (): string => randomUUID();
