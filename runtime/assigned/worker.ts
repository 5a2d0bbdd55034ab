/**
 * The worker of an owning step (an operator with `own`, such as a source's poller): one consumer-group member
 * on the step's input topic, a compacted topic of standing assignments (one record per key). It never commits
 * offsets: after every rebalance it re-reads its partitions from their start, and KeyOwnership (ownership.ts)
 * says which keys to start and stop. Each owned key runs `operator.own(record, ctx)` with:
 * - a transactional writer per key (transactions.ts), so the member that takes a key over fences the one that
 *   had it, and two owners never both commit;
 * - the key's last committed output read back (latest.ts), which is where all of its state lives;
 * - an AbortSignal that fires when the key is no longer owned.
 *
 * An owner that fails for good (a permanent error or a bug, or `retry.maxAttempts` retriable failures in a
 * row) dead-letters its input record with the reason, like a job, and is not restarted until the record
 * changes. A retriable failure restarts it after the step's capped, jittered backoff.
 */
import type { Server } from 'node:http';
import { Gauge } from 'prom-client';
import type { SchemaName } from '../../schemas/generated/types';
import { classifyError, ListflowError, PermanentError } from '../errors';
import { failureLetter, type Where } from '../execute/dead-letters';
import { backoffMs, sleep } from '../execute/retry';
import { createKafka } from '../kafka';
import type { KafkaClient, KafkaConsumer, KafkaProducer } from '../kafka-client';
import { createLogger, startHealthServer, WorkerMetrics } from '../observability';
import type { AnyContext, AnyOperator, Clock, InputMeta, Logger, OwnerContext, OutputPorts } from '../operator';
import { dlqTopic, groupId, type PipelineSpec, type StepSpec } from '../pipeline';
import { assertValidStep } from '../pipeline-validation';
import { AvroSerde, createRegistry } from '../serde';
import type { WorkerSettings } from '../settings';
import { keyIo, type PortOutput } from './key-io';
import { type AssignedRecord, KeyOwnership, type OwnershipAction } from './ownership';

export interface AssignedWorkerOptions {
  readonly pipeline: PipelineSpec;
  readonly step: StepSpec;
  readonly operator: AnyOperator;
  readonly operatorConfig: unknown;
  readonly settings: WorkerSettings;
  readonly services?: unknown;
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly instanceId?: string;
  /** The environment the worker was configured from (secrets named by its records). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

interface Owner {
  readonly abort: AbortController;
  readonly done: Promise<void>;
}

/** The transactional id of `key` in `step`: stable, so the next owner of the key fences the last one. */
export const ownerTransactionalId = (pipeline: PipelineSpec, step: StepSpec, key: string): string =>
  `listflow.${pipeline.name}.${step.id}.${key}`;

export class AssignedWorker {
  readonly metrics: WorkerMetrics;
  readonly logger: Logger;
  private readonly kafka: KafkaClient;
  private readonly serde: AvroSerde;
  private readonly ownership = new KeyOwnership();
  private readonly owners = new Map<string, Owner>();
  private readonly outputIds = new Map<string, PortOutput>();
  private readonly gauges = new Map<string, Gauge<'step' | 'key'>>();
  private readonly dlq: string;
  private consumer: KafkaConsumer | null = null;
  private dlqProducer: KafkaProducer | null = null;
  private server: Server | null = null;
  private services: unknown;
  private joined = false;
  private crashed: string | undefined;
  private stopping: Promise<number> | null = null;
  private resolveDone!: (code: number) => void;
  readonly done: Promise<number> = new Promise((r) => (this.resolveDone = r));

  constructor(private readonly opts: AssignedWorkerOptions) {
    const { step, operator, settings } = opts;
    this.logger = opts.logger ?? createLogger(settings.logLevel, { operator: operator.name, step: step.id });
    this.metrics = new WorkerMetrics(step.id);
    this.kafka = createKafka(settings, `${step.id}-${opts.instanceId ?? process.pid}`, this.logger);
    this.serde = new AvroSerde(
      createRegistry({
        url: settings.registryUrl,
        username: settings.registryUsername,
        password: settings.registryPassword,
      }),
    );
    this.dlq = dlqTopic(step.input);
  }

  async start(): Promise<void> {
    const { pipeline, step, operator, settings } = this.opts;
    assertValidStep(pipeline, step.id, operator);
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = [step.input, this.dlq, ...Object.values(step.outputs)].filter((t) => !existing.has(t));
      if (missing.length > 0)
        throw new PermanentError(
          'PIPELINE_INVALID',
          `topics missing: ${missing.join(', ')}. Fix: run \`listflow topics apply\`.`,
        );
    } finally {
      await admin.disconnect();
    }
    for (const [port, topic] of Object.entries(step.outputs)) {
      const schema = operator.outputs[port] as SchemaName;
      this.outputIds.set(port, {
        topic,
        schema,
        id: await this.serde.schemaIdFor(topic, schema, settings.registerSchemas),
      });
    }
    this.services =
      this.opts.services !== undefined
        ? this.opts.services
        : await operator.services?.(
            this.opts.operatorConfig as AnyContext['config'],
            this.logger,
            undefined,
            this.opts.env ?? {},
          );
    this.dlqProducer = this.kafka.producer({ idempotent: true });
    await this.dlqProducer.connect();
    const consumer = this.kafka.consumer({
      groupId: groupId(pipeline, step),
      sessionTimeout: settings.sessionTimeoutMs,
      rebalanceTimeout: settings.rebalanceTimeoutMs,
      heartbeatInterval: settings.heartbeatIntervalMs,
      retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 10_000 },
    });
    this.consumer = consumer;
    consumer.on('join', ({ assignment }) => {
      this.joined = true;
      this.metrics.rebalances.inc({ step: step.id });
      const partitions = assignment[step.input] ?? [];
      this.logger.info({ partitions }, 'assigned');
      this.act(this.ownership.assign(partitions));
    });
    consumer.on('crash', ({ error, restart }) => {
      this.logger.error({ err: error, restart }, 'consumer crashed');
      if (!restart) {
        this.crashed = `consumer crashed: ${error.message}`;
        void this.stop('crash');
      }
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [step.input], fromBeginning: true });
    // No commits, ever: the assignment topic is compacted and small, and re-reading it after a rebalance is
    // how a member learns the keys of the partitions it was given.
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const key = message.key?.toString();
        if (key === undefined) return;
        this.act(this.ownership.record(partition, message.offset, key, message.value));
      },
    });
    this.server = await startHealthServer(settings.httpPort, this.metrics, {
      ready: () => this.joined && !this.stopping && !this.crashed,
      deadReason: () => this.crashed,
    });
    this.logger.info({ input: step.input, outputs: step.outputs }, 'worker started');
  }

  /** The keys this replica owns now (tests, status). */
  get owned(): readonly string[] {
    return this.ownership.owned;
  }

  get httpServer(): Server | null {
    return this.server;
  }

  private act(actions: readonly OwnershipAction[]): void {
    for (const a of actions) {
      if (a.kind === 'stop') {
        this.logger.info({ key: a.key, reason: a.reason }, 'stopping owner');
        this.owners.get(a.key)?.abort.abort(new ListflowError('JOB_TIMEOUT', `no longer owned: ${a.reason}`));
      } else {
        this.launch(a.record);
      }
    }
  }

  /** Runs `own` for the record's key, after any previous owner of the key in this process has finished. */
  private launch(record: AssignedRecord): void {
    const previous = this.owners.get(record.key);
    const abort = new AbortController();
    const done = (async () => {
      await previous?.done;
      if (abort.signal.aborted) return;
      await this.own(record, abort.signal);
    })().finally(() => {
      if (this.owners.get(record.key)?.abort === abort) this.owners.delete(record.key);
    });
    this.owners.set(record.key, { abort, done });
  }

  private async own(record: AssignedRecord, signal: AbortSignal): Promise<void> {
    const { step, operator } = this.opts;
    const log = this.logger.child({ key: record.key });
    const meta: InputMeta = {
      topic: step.input,
      partition: record.partition,
      offset: record.offset,
      key: record.key,
      headers: {},
      timestamp: String(Date.now()),
    };
    const firstFailure = new Date();
    for (let attempt = 1; !signal.aborted; attempt++) {
      const io = this.context(record.key, signal, log);
      try {
        const decoded = await this.serde.decode(record.value, operator.input as SchemaName);
        if (!decoded.ok) throw decoded.error;
        await operator.own!(decoded.value, io.ctx);
        if (!signal.aborted) this.ownership.endedBy(record.key, record.value);
        return;
      } catch (e) {
        if (signal.aborted) return;
        const c = classifyError(e);
        this.metrics.recordsFailed.inc({ step: step.id, code: c.code });
        if (c.kind === 'retriable' && attempt < step.retry.maxAttempts) {
          const wait = backoffMs(step.retry, attempt, this.opts.random ?? Math.random);
          log.warn({ err: e, code: c.code, attempt, waitMs: wait }, 'owner failed; restarting');
          this.metrics.retries.inc({ step: step.id, code: c.code });
          await sleep(wait, signal).catch(() => undefined);
          continue;
        }
        log.error({ err: e, code: c.code, kind: c.kind, attempt }, 'owner failed for good: dead-lettering its record');
        await this.deadLetter(meta, record, { c, attempts: attempt, firstFailure, lastFailure: new Date() });
        this.ownership.endedBy(record.key, record.value);
        return;
      } finally {
        await io.close();
      }
    }
  }

  private context(
    key: string,
    signal: AbortSignal,
    logger: Logger,
  ): {
    ctx: OwnerContext<AnyContext['config'], unknown, OutputPorts>;
    close(): Promise<void>;
  } {
    const { pipeline, step } = this.opts;
    const { io, close } = keyIo<OutputPorts>({
      kafka: this.kafka,
      serde: this.serde,
      outputs: this.outputIds,
      transactionalId: ownerTransactionalId(pipeline, step, key),
      key,
      signal,
      logger,
      clock: this.opts.clock ?? { now: () => new Date() },
      purpose: `${step.id}-state`,
      gauges: { set: (name, value) => this.gauge(name).set({ step: step.id, key }, value) },
    });
    return { ctx: { ...io, config: this.opts.operatorConfig as AnyContext['config'], services: this.services }, close };
  }

  private gauge(name: string): Gauge<'step' | 'key'> {
    let g = this.gauges.get(name);
    if (!g) {
      g = new Gauge({
        name: `listflow_owned_${name}`,
        help: `Set by the ${this.opts.operator.name} operator per owned key: ${name}.`,
        labelNames: ['step', 'key'],
        registers: [this.metrics.registry],
      });
      this.gauges.set(name, g);
    }
    return g;
  }

  private async deadLetter(
    meta: InputMeta,
    record: AssignedRecord,
    failure: Parameters<typeof failureLetter>[3],
  ): Promise<void> {
    const where: Where = { dlq: this.dlq, step: this.opts.step.id, operator: this.opts.operator.name };
    const { record: letter } = failureLetter(
      where,
      meta,
      { key: Buffer.from(record.key), value: record.value },
      failure,
    );
    try {
      await this.dlqProducer!.send({ topic: letter.topic, messages: [letter.message] });
      this.metrics.deadLetters.inc({ step: this.opts.step.id, code: failure.c.code });
    } catch (e) {
      // Nothing is committed here, so the record is not lost: the next owner of the key meets it again.
      this.logger.error({ err: e }, 'writing the dead letter failed');
    }
  }

  stop(reason: string): Promise<number> {
    if (!this.stopping) this.stopping = this.doStop(reason);
    return this.stopping;
  }

  private async doStop(reason: string): Promise<number> {
    const grace = this.opts.settings.shutdownGraceMs;
    this.logger.info({ reason, owned: this.owned }, 'stopping');
    this.act(this.ownership.stopAll(`shutdown: ${reason}`));
    const owners = Promise.all([...this.owners.values()].map((o) => o.done.catch(() => undefined)));
    const timedOut = await Promise.race([
      owners.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(true), grace).unref()),
    ]);
    await Promise.race([
      Promise.all([this.consumer?.disconnect(), this.dlqProducer?.disconnect()]).catch((e: unknown) =>
        this.logger.error({ err: e }, 'disconnect failed'),
      ),
      new Promise((r) => setTimeout(r, 5000).unref()),
    ]);
    if (this.opts.operator.closeServices && this.opts.services === undefined && this.services !== undefined) {
      await this.opts.operator
        .closeServices(this.services)
        .catch((e: unknown) => this.logger.warn({ err: e }, 'closing services failed'));
    }
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    const code = timedOut || this.crashed ? 1 : 0;
    this.logger.info({ code, timedOut }, 'stopped');
    this.resolveDone(code);
    return code;
  }
}
