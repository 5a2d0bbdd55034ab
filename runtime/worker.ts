/**
 * The worker: runs one pipeline step (one operator) as one consumer-group member.
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
 *   committed and the batch fails loudly (kafkajs restarts the consumer, which refetches from the commit).
 * - Rebalance: stop starting jobs, let in-flight ones finish (abort them past half the rebalance timeout),
 *   commit what is done, rethrow so kafkajs rejoins.
 * - SIGTERM: stop starting jobs, finish in-flight ones within the grace period, commit, leave the group.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import {
  type Admin,
  type Batch,
  type Consumer,
  type EachBatchPayload,
  type IHeaders,
  type Kafka,
  type KafkaMessage,
  Partitioners,
} from 'kafkajs';
import type { SchemaName } from '../schemas/generated/types';
import { type ClassifiedError, classifyError, ListflowError, PermanentError } from './errors';
import { createKafka } from './kafka';
import { deadLetter, headersToStrings, TRACE_HEADER } from './dead-letter';
import { CommitCoalescer, PartitionOffsets } from './offsets';
import type { AnyContext, AnyEmit, AnyOperator, BatchItem, Clock, InputMeta, Logger } from './operator';
import { createLogger, type HealthState, startHealthServer, WorkerMetrics } from './observability';
import { type EncodedEmit, OperatorThreads } from './operator-threads';
import { dlqTopic, groupId, type PipelineSpec, type StepSpec } from './pipeline';
import { type OutRecord, OutputBatcher } from './producer';
import { backoffMs, sleep } from './execute/retry';
import { KeyedScheduler } from './scheduler';
import { AvroSerde, createRegistry } from './serde';
import type { WorkerSettings } from './settings';

type Emit = AnyEmit;

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

/** Outcome of one message's job. `skipped`: not processed because the worker is stopping; never committed. */
type JobOutcome = { readonly skipped: true } | { readonly skipped: false; readonly ack: Promise<void> };
const SKIPPED: JobOutcome = { skipped: true };

/** Rebalance errors from heartbeats/commits: the member must rejoin. */
const isRebalancing = (e: unknown): boolean => {
  const t = (e as { type?: string }).type;
  return (
    t === 'REBALANCE_IN_PROGRESS' ||
    t === 'NOT_COORDINATOR_FOR_GROUP' ||
    t === 'ILLEGAL_GENERATION' ||
    t === 'UNKNOWN_MEMBER_ID'
  );
};

const STREAM_CHUNK = 500;

/**
 * One job attempt's deadline: aborts after `ms`, or when the batch aborts (shutdown, rebalance). Created
 * lazily: a job that returns its outputs synchronously and never looks at `ctx.signal` (normalize, the
 * pass-through) costs no timer, controller or listener, which matters at tens of thousands of records/s.
 */
class JobDeadline {
  private controller: AbortController | null = null;
  private timer: NodeJS.Timeout | undefined;
  private onParent: (() => void) | undefined;
  private abortedPromise: Promise<never> | null = null;

  constructor(
    private readonly ms: number,
    private readonly parent: AbortSignal,
  ) {}

  get signal(): AbortSignal {
    if (!this.controller) {
      const controller = new AbortController();
      this.controller = controller;
      this.timer = setTimeout(
        () => controller.abort(new DOMException(`job exceeded its ${this.ms} ms deadline`, 'TimeoutError')),
        this.ms,
      );
      const parent = this.parent;
      this.onParent = () => controller.abort(parent.reason);
      if (parent.aborted) this.onParent();
      else parent.addEventListener('abort', this.onParent, { once: true });
    }
    return this.controller.signal;
  }

  /** Rejects when the deadline passes. */
  get aborted(): Promise<never> {
    this.abortedPromise ??= abortPromise(this.signal);
    return this.abortedPromise;
  }

  clear(): void {
    if (!this.controller) return;
    clearTimeout(this.timer);
    if (this.onParent) this.parent.removeEventListener('abort', this.onParent);
  }
}

/** Rejects when `signal` aborts. Marked handled up front: a deadline firing after the job finished must not crash the process. */
function abortPromise(signal: AbortSignal): Promise<never> {
  const p = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  p.catch(() => undefined);
  return p;
}

export class Worker {
  readonly metrics: WorkerMetrics;
  readonly logger: Logger;
  private readonly kafka: Kafka;
  private readonly serde: AvroSerde;
  private readonly batcher: OutputBatcher;
  private consumer: Consumer | null = null;
  private server: Server | null = null;
  private services: unknown;
  /** The operator's threads when the step has `threads` > 0; otherwise `process` runs on the event loop. */
  private threads: OperatorThreads | null = null;
  private readonly outputIds = new Map<string, { topic: string; schema: SchemaName; id: number }>();
  private readonly dlq: string;
  /** Partition count per topic written to, filled at startup (checkTopics) and read by the output batcher. */
  private readonly partitionCounts = new Map<string, number>();
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly concurrency: number;
  private readonly window: number;

  private generation = 0;
  private assignment = new Set<number>();
  private readonly trackers = new Map<number, PartitionOffsets>();
  private readonly commits = new CommitCoalescer();
  private readonly batchAborts = new Set<AbortController>();
  private draining = false;
  private joined = false;
  private crashed: string | undefined;
  private inFlight = 0;
  private lastProgressAt = Date.now();
  private readonly stallMs: number;
  /** Metric children for this step, resolved once: label lookups per record are measurable at full speed. */
  private readonly hot: {
    readonly recordsIn: { inc(): void };
    /** Set from `inFlight` on the commit timer, not per job: a gauge update per record costs a label hash each. */
    readonly inFlight: { set(v: number): void };
    readonly processing: { observe(v: number): void };
    readonly recordsOut: Map<string, { inc(n?: number): void }>;
  };
  private resolveDone!: (code: number) => void;
  /** Resolves with the exit code when the worker has stopped (graceful stop or unrecoverable crash). */
  readonly done: Promise<number> = new Promise((r) => (this.resolveDone = r));

  constructor(private readonly opts: WorkerOptions) {
    const { step, operator, settings } = opts;
    this.logger = opts.logger ?? createLogger(settings.logLevel, { operator: operator.name, step: step.id });
    this.metrics = new WorkerMetrics(step.id);
    this.hot = {
      recordsIn: this.metrics.recordsIn.labels(step.id),
      inFlight: this.metrics.inFlight.labels(step.id),
      processing: this.metrics.processing.labels(step.id),
      recordsOut: new Map(Object.values(step.outputs).map((t) => [t, this.metrics.recordsOut.labels(step.id, t)])),
    };
    this.kafka = createKafka(settings, `${step.id}-${opts.instanceId ?? process.pid}`, this.logger);
    this.serde = new AvroSerde(
      createRegistry({
        url: settings.registryUrl,
        username: settings.registryUsername,
        password: settings.registryPassword,
      }),
    );
    this.batcher = new OutputBatcher(
      () =>
        this.kafka.producer({
          idempotent: true,
          maxInFlightRequests: 1,
          allowAutoTopicCreation: false,
          createPartitioner: Partitioners.DefaultPartitioner,
        }),
      {
        maxRecords: 5000,
        // Each partition's share stays under the broker's default message.max.bytes (1 MiB); a request carries
        // up to several partitions' worth, so a worker writing to many partitions sends fewer, fuller requests.
        maxBytesPerPartition: 800 * 1024,
        maxBytes: 4 * 1024 * 1024,
        maxRequests: 2,
        partitionCounts: this.partitionCounts,
      },
      (records) => {
        this.lastProgressAt = Date.now();
        // One counter update per topic and request, not per record.
        let topic: string | null = null;
        let n = 0;
        for (const r of records) {
          if (r.topic !== topic) {
            if (topic !== null) this.hot.recordsOut.get(topic)?.inc(n);
            topic = r.topic;
            n = 0;
          }
          n++;
        }
        if (topic !== null) this.hot.recordsOut.get(topic)?.inc(n);
      },
    );
    this.dlq = dlqTopic(step.input);
    this.clock = opts.clock ?? { now: () => new Date() };
    this.random = opts.random ?? Math.random;
    this.concurrency = settings.concurrency ?? step.concurrency;
    this.window = Math.max(settings.maxInFlight, this.concurrency);
    this.stallMs = step.timeoutMs + step.retry.maxBackoffMs + 60_000;
  }

  /** Connects, checks topics and schemas, starts consuming and serving health. */
  async start(): Promise<void> {
    const { pipeline, step, operator, settings } = this.opts;
    this.checkWiring();
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
        : await operator.services?.(this.opts.operatorConfig as AnyContext['config'], this.logger);
    if ((step.threads ?? 0) > 0) {
      this.threads = new OperatorThreads({
        operator: operator.name,
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
    await this.batcher.start();

    const consumer = this.kafka.consumer({
      groupId: groupId(pipeline, step),
      sessionTimeout: settings.sessionTimeoutMs,
      rebalanceTimeout: settings.rebalanceTimeoutMs,
      heartbeatInterval: settings.heartbeatIntervalMs,
      maxBytesPerPartition: settings.maxBytesPerPartition,
      maxBytes: settings.maxBytesPerPartition * 8,
      allowAutoTopicCreation: false,
      retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 10_000 },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.generation++;
      if (this.joined) this.metrics.rebalances.inc({ step: step.id });
      this.joined = true;
      this.assignment = new Set(payload.memberAssignment[step.input] ?? []);
      for (const p of [...this.trackers.keys()]) if (!this.assignment.has(p)) this.trackers.delete(p);
      this.logger.info({ generation: this.generation, partitions: [...this.assignment] }, 'joined consumer group');
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.logger.error({ err: payload.error, restart: payload.restart }, 'consumer crashed');
      if (!payload.restart) {
        this.crashed = `consumer crashed: ${payload.error.message}`;
        void this.stop('crash').then(() => undefined);
      }
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [step.input], fromBeginning: true });
    const partitions = pipeline.topics[step.input]?.partitions ?? 1;
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: partitions,
      eachBatch: (payload) => this.handleBatch(payload),
    });
    this.server = await startHealthServer(settings.httpPort, this.metrics, this.health());
    this.logger.info({ input: step.input, outputs: step.outputs, concurrency: this.concurrency }, 'worker started');
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
    this.logger.info({ reason, graceMs: grace, inFlight: this.inFlight }, 'stopping');
    this.draining = true;
    let timedOut = false;
    const graceTimer = setTimeout(() => {
      timedOut = true;
      this.logger.warn({ inFlight: this.inFlight }, 'grace period over: aborting in-flight jobs');
      for (const c of this.batchAborts)
        c.abort(new ListflowError('JOB_TIMEOUT', 'aborted: shutdown grace period over'));
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
      ready: () => this.joined && !this.draining && !this.crashed,
      deadReason: () => {
        if (this.crashed) return this.crashed;
        const idleFor = Date.now() - this.lastProgressAt;
        if (this.inFlight > 0 && idleFor > this.stallMs)
          return `no job finished for ${idleFor} ms with ${this.inFlight} in flight`;
        return undefined;
      },
    };
  }

  /** The pipeline and the operator must agree on schemas and ports. */
  private checkWiring(): void {
    const { pipeline, step, operator } = this.opts;
    const input = pipeline.topics[step.input];
    if (!input)
      throw new PermanentError('PIPELINE_INVALID', `step ${step.id}: input topic ${step.input} is not declared`);
    if (input.schema !== operator.input) {
      throw new PermanentError(
        'PIPELINE_INVALID',
        `step ${step.id}: topic ${step.input} carries ${input.schema} but operator ${operator.name} reads ${operator.input}`,
      );
    }
    if ((step.threads ?? 0) > 0 && !operator.cpuBound) {
      throw new PermanentError(
        'PIPELINE_INVALID',
        `step ${step.id}: operator ${operator.name} cannot run on threads (threads: ${step.threads}); only cpuBound operators can`,
      );
    }
    for (const [port, schema] of Object.entries(operator.outputs as Record<string, string>)) {
      const topic = step.outputs[port];
      if (!topic)
        throw new PermanentError(
          'PIPELINE_INVALID',
          `step ${step.id}: output port ${port} of ${operator.name} is not mapped to a topic`,
        );
      const t = pipeline.topics[topic];
      if (!t || t.schema !== schema) {
        throw new PermanentError(
          'PIPELINE_INVALID',
          `step ${step.id}: port ${port} writes ${schema} but topic ${topic} carries ${t?.schema ?? '(undeclared)'}`,
        );
      }
    }
  }

  /** Fails when a topic is missing; records the partition count of every topic written to (see partitioning.ts). */
  private async checkTopics(admin: Admin): Promise<void> {
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

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, heartbeat, isRunning, isStale } = payload;
    if (this.draining || !isRunning() || isStale()) return;
    const gen = this.generation;
    const partition = batch.partition;
    let tracker = this.trackers.get(partition);
    if (!tracker || tracker.generation !== gen) {
      tracker = new PartitionOffsets(gen, (offset) => this.commit(payload, gen, offset));
      this.trackers.set(partition, tracker);
    }
    const abort = new AbortController();
    this.batchAborts.add(abort);
    let rebalance: unknown = null;
    let fatal: unknown = null;
    let drainTimer: NodeJS.Timeout | undefined;
    const stopStarting = () =>
      this.draining || rebalance !== null || fatal !== null || !isRunning() || isStale() || gen !== this.generation;
    const beat = setInterval(
      () => {
        heartbeat().catch((e: unknown) => {
          if (isRebalancing(e) && rebalance === null) {
            rebalance = e;
            this.logger.info({ partition }, 'rebalance: finishing in-flight jobs before rejoining');
            drainTimer = setTimeout(
              () => abort.abort(new ListflowError('JOB_TIMEOUT', 'aborted: rebalance drain time over')),
              this.opts.settings.rebalanceTimeoutMs / 2,
            );
          } else if (!isRebalancing(e)) {
            this.logger.warn({ err: e, partition }, 'heartbeat failed');
          }
        });
      },
      Math.max(250, this.opts.settings.heartbeatIntervalMs / 2),
    );

    const committer = setInterval(() => {
      this.hot.inFlight.set(this.inFlight);
      tracker.flush().catch((e: unknown) => this.onCommitError(e, partition));
    }, this.opts.settings.commitIntervalMs);
    const ctx: BatchRun = { batch, tracker, abort: abort.signal, stopStarting };
    try {
      if (this.opts.operator.processBatch) await this.runBatchOperator(ctx);
      else await this.runPerMessage(ctx);
    } catch (e) {
      fatal = e;
    } finally {
      clearInterval(beat);
      clearInterval(committer);
      clearTimeout(drainTimer);
      this.hot.inFlight.set(this.inFlight);
      this.batchAborts.delete(abort);
    }
    try {
      await tracker.flush();
    } catch (e) {
      if (isRebalancing(e)) rebalance ??= e;
      else if (!(e instanceof StaleGenerationError))
        this.logger.warn({ err: e, partition }, 'commit failed; the uncommitted messages will be processed again');
    }
    if (fatal) {
      this.logger.error(
        { err: fatal, partition },
        'batch failed; its unfinished messages stay uncommitted and are fetched again',
      );
      throw fatal;
    }
    if (rebalance) throw rebalance;
  }

  /**
   * Commits `offset` for the batch's partition, unless the partition moved to another generation (checked
   * now and again when the shared request is built). Goes through the function handed to eachBatch.
   */
  private async commit(payload: EachBatchPayload, gen: number, offset: string): Promise<void> {
    const { topic, partition } = payload.batch;
    const valid = () => gen === this.generation && this.assignment.has(partition);
    if (!valid()) throw new StaleGenerationError(partition);
    await this.commits.commit(topic, partition, offset, {
      valid,
      stale: () => new StaleGenerationError(partition),
      send: (offsets) => payload.commitOffsetsIfNecessary(offsets),
    });
    // Keep kafkajs's fetch position in step: what is committed is also resolved.
    payload.resolveOffset((BigInt(offset) - 1n).toString());
    const labels = { step: this.opts.step.id, topic, partition: String(partition) };
    this.metrics.committedOffset.set(labels, Number(offset));
    this.metrics.lag.set(labels, Math.max(0, Number(payload.batch.highWatermark) - Number(offset)));
  }

  private async runPerMessage(run: BatchRun): Promise<void> {
    const { batch, tracker } = run;
    const scheduler = new KeyedScheduler(this.concurrency);
    const completions: Promise<void>[] = [];
    const failed = { error: null as unknown };
    for (const message of batch.messages) {
      while (tracker.uncommitted >= this.window && failed.error === null) {
        // Backpressure: nothing more is taken from this partition until commits free the window.
        await tracker.flush().catch((e: unknown) => this.onCommitError(e, batch.partition));
        if (tracker.uncommitted >= this.window) await sleep(5);
      }
      // Queue only a little ahead of the running jobs: a whole fetch batch of waiting closures costs GC time.
      await scheduler.whenPendingBelow(this.concurrency * 2);
      if (failed.error !== null || run.stopStarting()) break;
      tracker.begin(message.offset);
      completions.push(this.completeMessage(run, scheduler, message, failed));
    }
    await Promise.all(completions);
    if (failed.error !== null) throw failed.error;
  }

  /** Runs one message's job in its key's turn, waits for Kafka's acknowledgement, then marks the offset finished. */
  private async completeMessage(
    run: BatchRun,
    scheduler: KeyedScheduler,
    message: KafkaMessage,
    failed: { error: unknown },
  ): Promise<void> {
    const m = this.hot;
    this.inFlight++;
    const started = performance.now();
    try {
      const meta = this.inputMeta(run.batch, message);
      const outcome = await scheduler.schedule(meta.key, () => this.runJob(run.batch, message, meta, run));
      if (outcome.skipped) return;
      await outcome.ack;
      run.tracker.finish(message.offset);
      this.lastProgressAt = Date.now();
      m.processing.observe((performance.now() - started) / 1000);
      // Commit early when half the window is done, so the batch loop rarely waits for the timer.
      if (run.tracker.committableCount * 2 >= this.window)
        run.tracker.flush().catch((e: unknown) => this.onCommitError(e, run.batch.partition));
    } catch (e) {
      failed.error ??= e;
    } finally {
      this.inFlight--;
    }
  }

  private onCommitError(e: unknown, partition: number): void {
    if (e instanceof StaleGenerationError || isRebalancing(e)) return;
    this.logger.warn({ err: e, partition }, 'commit failed; will retry with the next one');
  }

  /**
   * One message: decode, process with retries, encode, hand outputs to the producer. Resolves when the job
   * is done (outputs queued), with `ack` resolving when Kafka acknowledged them: the slot is free while the
   * acknowledgement is pending, which is what lets many jobs share one produce request.
   */
  private async runJob(batch: Batch, message: KafkaMessage, meta: InputMeta, run: BatchRun): Promise<JobOutcome> {
    if (run.stopStarting()) return SKIPPED;
    const { step } = this.opts;
    this.hot.recordsIn.inc();
    if (message.value === null) {
      this.metrics.skipped.inc({ step: step.id, reason: 'tombstone' });
      return { skipped: false, ack: Promise.resolve() };
    }
    const value = message.value;
    const trace = meta.headers[TRACE_HEADER] ?? traceIdFor(meta);
    const firstFailure = { at: null as Date | null };
    let attempt = 0;
    for (;;) {
      attempt++;
      const deadline = new JobDeadline(step.timeoutMs, run.abort);
      try {
        const records: OutRecord[] = [];
        if (this.threads) {
          // The thread decodes, processes and encodes; the pool enforces the deadline and the abort.
          const writer = this.serde.writerOf(value) ?? (await this.serde.fetchWriterOf(value));
          const emits = await this.threads.process(
            value,
            writer,
            meta,
            attempt,
            Date.now() + step.timeoutMs,
            run.abort,
          );
          for (const e of emits) records.push(this.toRecord(e, meta, message, trace));
          return { skipped: false, ack: this.send(records, meta) };
        }
        const input = this.opts.operator.input;
        const decoded = this.serde.decodeCached(value, input) ?? (await this.serde.decode(value, input));
        if (!decoded.ok) throw decoded.error;
        const result = this.opts.operator.process!(decoded.value, this.context(meta, attempt, deadline));
        if (result && typeof result === 'object' && Symbol.asyncIterator in result) {
          // Streaming job (a feed): send in chunks and wait for each, so memory stays bounded.
          for await (const e of result as AsyncIterable<Emit>) {
            if (deadline.signal.aborted) throw deadline.signal.reason;
            records.push(this.toRecord(e, meta, message, trace));
            if (records.length >= STREAM_CHUNK)
              await Promise.race([this.send(records.splice(0), meta), deadline.aborted]);
          }
        } else {
          const emits = Array.isArray(result)
            ? (result as Emit[])
            : await Promise.race([
                Promise.resolve(result as Iterable<Emit> | Promise<Iterable<Emit>>),
                deadline.aborted,
              ]);
          for (const e of emits) records.push(this.toRecord(e, meta, message, trace));
        }
        deadline.clear();
        return { skipped: false, ack: this.send(records, meta) };
      } catch (thrown) {
        deadline.clear();
        if (thrown instanceof SendFailedError) throw thrown; // Kafka did not take outputs: fail the batch, commit nothing more
        if (run.abort.aborted) return SKIPPED; // stopping: leave it uncommitted, do not dead-letter
        const c = classifyError(thrown);
        const now = this.clock.now();
        firstFailure.at ??= now;
        this.metrics.recordsFailed.inc({ step: step.id, code: c.code });
        if (c.kind === 'retriable' && attempt < step.retry.maxAttempts) {
          const wait = backoffMs(step.retry, attempt, this.random);
          this.metrics.retries.inc({ step: step.id, code: c.code });
          this.logger.warn(
            { ...logMeta(meta), code: c.code, attempt, waitMs: wait, err: c.error },
            'retriable failure; backing off',
          );
          try {
            await sleep(wait, run.abort);
          } catch {
            return SKIPPED;
          }
          continue;
        }
        this.logger.error(
          { ...logMeta(meta), code: c.code, kind: c.kind, attempt, err: c.error },
          'dead-lettering message',
        );
        return { skipped: false, ack: this.deadLetterFailure(batch, message, c, attempt, firstFailure.at, now) };
      }
    }
  }

  /**
   * processBatch operators (sinks): the batch's decodable records go to the operator in chunks, in offset
   * order, with retries; a chunk that keeps failing is split to isolate the poison record.
   */
  private async runBatchOperator(run: BatchRun): Promise<void> {
    const { batch, tracker } = run;
    const { step } = this.opts;
    const items: ChunkItem[] = [];
    const letters: Promise<void>[] = [];
    for (const message of batch.messages) {
      if (run.stopStarting()) break;
      tracker.begin(message.offset);
      this.metrics.recordsIn.inc({ step: step.id });
      if (message.value === null) {
        this.metrics.skipped.inc({ step: step.id, reason: 'tombstone' });
        tracker.finish(message.offset);
        continue;
      }
      const meta = this.inputMeta(batch, message);
      const decoded = await this.decodeWithRetry(message.value, meta, run);
      if (decoded === SKIPPED_DECODE) break;
      if (!decoded.ok) {
        const c = classifyError(decoded.error);
        const now = this.clock.now();
        letters.push(this.deadLetterFailure(batch, message, c, 1, now, now).then(() => tracker.finish(message.offset)));
        continue;
      }
      items.push({ message, item: { record: decoded.value, input: meta } });
    }
    this.inFlight += items.length;
    try {
      for (let i = 0; i < items.length; i += BATCH_CHUNK) {
        if (!(await this.processChunk(batch, items.slice(i, i + BATCH_CHUNK), run))) break;
        this.lastProgressAt = Date.now();
      }
    } finally {
      this.inFlight -= items.length;
    }
    await Promise.all(letters);
  }

  private async decodeWithRetry(value: Buffer, meta: InputMeta, run: BatchRun) {
    for (let attempt = 1; ; attempt++) {
      const d = await this.serde.decode(value, this.opts.operator.input);
      if (d.ok || !d.error.retriable || attempt >= this.opts.step.retry.maxAttempts) return d;
      this.logger.warn({ ...logMeta(meta), code: d.error.code, attempt }, 'registry unavailable; backing off');
      try {
        await sleep(backoffMs(this.opts.step.retry, attempt, this.random), run.abort);
      } catch {
        return SKIPPED_DECODE;
      }
    }
  }

  /** Returns false when the worker is stopping and the chunk was left unprocessed. */
  private async processChunk(batch: Batch, items: ChunkItem[], run: BatchRun): Promise<boolean> {
    const { step, operator } = this.opts;
    const firstFailure = { at: null as Date | null };
    for (let attempt = 1; ; attempt++) {
      const deadline = new JobDeadline(step.timeoutMs, run.abort);
      try {
        const ctx = this.context(items[0]!.item.input, attempt, deadline);
        const results = await Promise.race([
          operator.processBatch!(
            items.map((i) => i.item),
            ctx,
          ),
          deadline.aborted,
        ]);
        deadline.clear();
        const records: OutRecord[] = [];
        items.forEach((it, i) => {
          const trace = it.item.input.headers[TRACE_HEADER] ?? traceIdFor(it.item.input);
          for (const e of results[i] ?? []) records.push(this.toRecord(e as Emit, it.item.input, it.message, trace));
        });
        await this.send(records, items[0]!.item.input);
        for (const it of items) run.tracker.finish(it.message.offset);
        return true;
      } catch (thrown) {
        deadline.clear();
        if (run.abort.aborted) return false;
        if (thrown instanceof SendFailedError) throw thrown;
        const c = classifyError(thrown);
        const now = this.clock.now();
        firstFailure.at ??= now;
        this.metrics.recordsFailed.inc({ step: step.id, code: c.code });
        if (c.kind === 'retriable' && attempt < step.retry.maxAttempts) {
          this.metrics.retries.inc({ step: step.id, code: c.code });
          const wait = backoffMs(step.retry, attempt, this.random);
          this.logger.warn(
            { code: c.code, attempt, waitMs: wait, records: items.length, err: c.error },
            'batch failed; backing off',
          );
          try {
            await sleep(wait, run.abort);
          } catch {
            return false;
          }
          continue;
        }
        if (items.length > 1) {
          // Isolate the record that fails: process the halves separately.
          const mid = Math.ceil(items.length / 2);
          return (
            (await this.processChunk(batch, items.slice(0, mid), run)) &&
            (await this.processChunk(batch, items.slice(mid), run))
          );
        }
        const only = items[0]!;
        await this.deadLetterFailure(batch, only.message, c, attempt, firstFailure.at, now);
        run.tracker.finish(only.message.offset);
        return true;
      }
    }
  }

  private send(records: OutRecord[], meta: InputMeta): Promise<void> {
    return this.batcher.send(records).catch((e: unknown) => {
      throw new SendFailedError(
        `producing outputs of ${meta.topic}/${meta.partition}@${meta.offset} failed: ${(e as Error).message}`,
        e,
      );
    });
  }

  /**
   * Dead-letters one input that failed for good: its original bytes and headers, plus what failed (the error,
   * its details as `listflow.detail.*`), where and how often. Resolves once Kafka acknowledged the letter.
   */
  private deadLetterFailure(
    batch: Batch,
    message: KafkaMessage,
    c: ClassifiedError,
    attempts: number,
    firstFailure: Date,
    lastFailure: Date,
  ): Promise<void> {
    const letter = deadLetter(this.dlq, this.failedInput(batch, message), {
      step: this.opts.step.id,
      operator: this.opts.operator.name,
      error: { ...c, stack: c.error.stack },
      detail: c.error instanceof ListflowError ? c.error.detail : undefined,
      attempts,
      firstFailure,
      lastFailure,
    });
    return this.sendDeadLetters([letter], c);
  }

  private async sendDeadLetters(letters: OutRecord[], c: ClassifiedError): Promise<void> {
    try {
      await this.batcher.send(letters);
      this.metrics.deadLetters.inc({ step: this.opts.step.id, code: c.code }, letters.length);
    } catch (e) {
      throw new SendFailedError(
        `DLQ_WRITE_FAILED: dead letter to ${this.dlq} not acknowledged: ${(e as Error).message}`,
        e,
      );
    }
  }

  private toRecord(e: Emit | EncodedEmit, meta: InputMeta, message: KafkaMessage, trace: string): OutRecord {
    if (e.kind === 'reject') {
      const now = this.clock.now();
      const c = { code: e.code, kind: 'permanent' as const, message: e.message };
      this.metrics.recordsFailed.inc({ step: this.opts.step.id, code: e.code });
      return deadLetter(
        this.dlq,
        {
          ...this.failedInputFromMeta(meta, message),
          value: e.payload === null ? message.value : Buffer.isBuffer(e.payload) ? e.payload : Buffer.from(e.payload),
        },
        {
          step: this.opts.step.id,
          operator: this.opts.operator.name,
          error: c,
          attempts: 1,
          firstFailure: now,
          lastFailure: now,
          detail: e.detail,
        },
      );
    }
    const out = this.outputIds.get(e.port);
    if (!out)
      throw new ListflowError('OPERATOR_BUG', `operator ${this.opts.operator.name} emitted to unknown port ${e.port}`);
    // Outputs from operator threads arrive encoded already.
    const value =
      e.kind === 'encoded' || e.value === null
        ? (e.value as Buffer | null)
        : this.serde.encode(out.id, out.schema, e.value);
    return {
      topic: out.topic,
      message: { key: e.key, value, headers: { ...(e.headers ?? {}), [TRACE_HEADER]: trace } },
    };
  }

  private context(meta: InputMeta, attempt: number, deadline: JobDeadline): AnyContext {
    return new JobContext(this.opts.operatorConfig, this.services, this.clock, attempt, meta, deadline, this.logger);
  }

  private inputMeta(batch: Batch, m: KafkaMessage): InputMeta {
    return {
      topic: batch.topic,
      partition: batch.partition,
      offset: m.offset,
      key: m.key ? m.key.toString('utf8') : null,
      headers: headersToStrings(m.headers),
      timestamp: m.timestamp,
    };
  }

  private failedInput(batch: Batch, m: KafkaMessage) {
    return {
      topic: batch.topic,
      partition: batch.partition,
      offset: m.offset,
      key: m.key,
      value: m.value,
      headers: m.headers as IHeaders,
    };
  }

  private failedInputFromMeta(meta: InputMeta, m: KafkaMessage) {
    return {
      topic: meta.topic,
      partition: meta.partition,
      offset: meta.offset,
      key: m.key,
      value: m.value,
      headers: m.headers as IHeaders,
    };
  }
}

/** The `ctx` handed to `process`: plain fields, with the deadline signal and the logger made on first use. */
class JobContext {
  private childLogger: Logger | null = null;
  constructor(
    readonly config: unknown,
    readonly services: unknown,
    readonly clock: Clock,
    readonly attempt: number,
    readonly input: InputMeta,
    private readonly deadline: JobDeadline,
    private readonly baseLogger: Logger,
  ) {}
  get signal(): AbortSignal {
    return this.deadline.signal;
  }
  get logger(): Logger {
    this.childLogger ??= this.baseLogger.child(logMeta(this.input));
    return this.childLogger;
  }
}

interface BatchRun {
  readonly batch: Batch;
  readonly tracker: PartitionOffsets;
  /** Aborted on shutdown past the grace period, or on a rebalance past its drain time. */
  readonly abort: AbortSignal;
  readonly stopStarting: () => boolean;
}

const SKIPPED_DECODE = Symbol('skipped');
/** Records handed to processBatch at once; bounds one transaction of a sink. */
const BATCH_CHUNK = 500;

interface ChunkItem {
  readonly message: KafkaMessage;
  readonly item: BatchItem<unknown>;
}

/** Outputs or dead letters were not acknowledged: the batch fails without committing them. */
export class SendFailedError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'SendFailedError';
  }
}

class StaleGenerationError extends Error {
  constructor(partition: number) {
    super(`partition ${partition} changed generation; commit dropped`);
  }
}

const logMeta = (m: InputMeta) => ({ topic: m.topic, partition: m.partition, offset: m.offset, key: m.key });

/** Deterministic trace id for inputs that carry none: a replay gets the same id. */
function traceIdFor(m: InputMeta): string {
  return `${m.topic}-${m.partition}-${m.offset}`;
}

export const newTraceId = (): string => randomUUID();
