/**
 * The worker's consumer-group side: partitions, ordering, backpressure and commits. A job's own trip (decode,
 * process, retries, dead letters, encode) is the step executor's (runtime/execute/); this file decides which
 * job runs when and which offsets may be committed.
 *
 * - One consumer per partition; inside a partition up to `concurrency` jobs run at once, jobs of the same key
 *   never overlap and run in offset order, and at most `window` jobs are taken but uncommitted (backpressure:
 *   the batch loop waits, so nothing more is fetched for that partition).
 * - A message's offset becomes committable only after Kafka acknowledged all of its outputs, or its dead
 *   letter. Per partition the commit is the contiguous finished prefix + 1, never moves backwards, has one
 *   commit in flight, and is dropped when the partition changed generation.
 * - Heartbeats run on a timer while a batch drains (kafkajs has no background heartbeat).
 * - Rebalance: stop starting jobs, let in-flight ones finish (abort them past half the rebalance timeout),
 *   commit what is done, rethrow so the client rejoins.
 * It talks to Kafka only through the client seam's BatchContext (kafka-client/types.ts).
 * See ../shared/design/kafkajs-pitfalls.md for the kafkajs traps each line answers.
 */
import { headersToStrings } from './dead-letters/build';
import { ListflowError } from './errors';
import type { BatchEntry, StepExecutor } from './execute/executor';
import { sleep } from './execute/retry';
import type { BatchContext, ConsumedMessage, PartitionBatch } from './kafka-client';
import type { InputMeta, Logger } from './operator';
import type { WorkerMetrics } from './observability';
import { CommitCoalescer, PartitionOffsets } from './offsets';
import { KeyedScheduler } from './scheduler';
import type { WorkerSettings } from './settings';

/** Rebalance errors from heartbeats/commits: the member must rejoin. */
export const isRebalancing = (e: unknown): boolean => {
  const t = (e as { type?: string }).type;
  return (
    t === 'REBALANCE_IN_PROGRESS' ||
    t === 'NOT_COORDINATOR_FOR_GROUP' ||
    t === 'ILLEGAL_GENERATION' ||
    t === 'UNKNOWN_MEMBER_ID'
  );
};

class StaleGenerationError extends Error {
  constructor(partition: number) {
    super(`partition ${partition} changed generation; commit dropped`);
  }
}

/** What the member shares with the worker's health check: jobs in flight and when one last finished. */
export interface Liveness {
  inFlight: number;
  lastProgressAt: number;
}

export interface GroupMemberOptions {
  readonly stepId: string;
  readonly input: string;
  readonly settings: WorkerSettings;
  readonly concurrency: number;
  readonly window: number;
  readonly batchMode: boolean;
  readonly metrics: WorkerMetrics;
  readonly logger: Logger;
  readonly liveness: Liveness;
}

interface BatchRun {
  readonly batch: PartitionBatch;
  readonly tracker: PartitionOffsets;
  /** Aborted on shutdown past the grace period, or on a rebalance past its drain time. */
  readonly abort: AbortSignal;
  readonly stopStarting: () => boolean;
}

export class GroupMember {
  private generation = 0;
  private assignment = new Set<number>();
  private joined = false;
  private readonly trackers = new Map<number, PartitionOffsets>();
  private readonly commits = new CommitCoalescer();
  private readonly batchAborts = new Set<AbortController>();
  private draining = false;
  private executor: StepExecutor | null = null;
  /** Metric children for this step, resolved once: label lookups per record are measurable at full speed. */
  private readonly hot: {
    readonly recordsIn: { inc(): void };
    /** Set from `inFlight` on the commit timer, not per job: a gauge update per record costs a label hash each. */
    readonly inFlight: { set(v: number): void };
    readonly processing: { observe(v: number): void };
  };

  constructor(private readonly opts: GroupMemberOptions) {
    const { metrics, stepId } = opts;
    this.hot = {
      recordsIn: metrics.recordsIn.labels(stepId),
      inFlight: metrics.inFlight.labels(stepId),
      processing: metrics.processing.labels(stepId),
    };
  }

  /** The executor jobs go to; set once services and output schemas are ready, before consuming starts. */
  use(executor: StepExecutor): void {
    this.executor = executor;
  }

  get hasJoined(): boolean {
    return this.joined;
  }

  /** Joined the group (the client's join signal): a new generation; partitions no longer assigned forget their offsets. */
  onJoin(memberAssignment: Readonly<Record<string, number[] | undefined>>): void {
    this.generation++;
    if (this.joined) this.opts.metrics.rebalances.inc({ step: this.opts.stepId });
    this.joined = true;
    this.assignment = new Set(memberAssignment[this.opts.input] ?? []);
    for (const p of [...this.trackers.keys()]) if (!this.assignment.has(p)) this.trackers.delete(p);
    this.opts.logger.info({ generation: this.generation, partitions: [...this.assignment] }, 'joined consumer group');
  }

  /** Stop starting jobs (shutdown). */
  drain(): void {
    this.draining = true;
  }

  /** Aborts every running job (the shutdown grace period is over); their offsets stay uncommitted. */
  abortAll(reason: unknown): void {
    for (const c of this.batchAborts) c.abort(reason);
  }

  async handleBatch(payload: BatchContext): Promise<void> {
    const { batch, heartbeat, isRunning, isStale } = payload;
    if (this.draining || !isRunning() || isStale()) return;
    const { settings, logger } = this.opts;
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
            logger.info({ partition }, 'rebalance: finishing in-flight jobs before rejoining');
            drainTimer = setTimeout(
              () => abort.abort(new ListflowError('JOB_TIMEOUT', 'aborted: rebalance drain time over')),
              settings.rebalanceTimeoutMs / 2,
            );
          } else if (!isRebalancing(e)) {
            logger.warn({ err: e, partition }, 'heartbeat failed');
          }
        });
      },
      Math.max(250, settings.heartbeatIntervalMs / 2),
    );

    const committer = setInterval(() => {
      this.hot.inFlight.set(this.opts.liveness.inFlight);
      tracker.flush().catch((e: unknown) => this.onCommitError(e, partition));
    }, settings.commitIntervalMs);
    const run: BatchRun = { batch, tracker, abort: abort.signal, stopStarting };
    try {
      if (this.opts.batchMode) await this.runBatchOperator(run);
      else await this.runPerMessage(run);
    } catch (e) {
      fatal = e;
    } finally {
      clearInterval(beat);
      clearInterval(committer);
      clearTimeout(drainTimer);
      this.hot.inFlight.set(this.opts.liveness.inFlight);
      this.batchAborts.delete(abort);
    }
    try {
      await tracker.flush();
    } catch (e) {
      if (isRebalancing(e)) rebalance ??= e;
      else if (!(e instanceof StaleGenerationError))
        logger.warn({ err: e, partition }, 'commit failed; the uncommitted messages will be processed again');
    }
    if (fatal) {
      logger.error(
        { err: fatal, partition },
        'batch failed; its unfinished messages stay uncommitted and are fetched again',
      );
      throw fatal;
    }
    if (rebalance) throw rebalance;
  }

  /**
   * Commits `offset` for the batch's partition, unless the partition moved to another generation (checked
   * now and again when the shared request is built). Goes through the batch's own commit (pitfall 13).
   */
  private async commit(payload: BatchContext, gen: number, offset: string): Promise<void> {
    const { topic, partition } = payload.batch;
    const valid = () => gen === this.generation && this.assignment.has(partition);
    if (!valid()) throw new StaleGenerationError(partition);
    await this.commits.commit(topic, partition, offset, {
      valid,
      stale: () => new StaleGenerationError(partition),
      send: (offsets) => payload.commit(offsets),
    });
    // Keep the client's fetch position in step: what is committed is also resolved.
    payload.resolveOffset((BigInt(offset) - 1n).toString());
    const labels = { step: this.opts.stepId, topic, partition: String(partition) };
    this.opts.metrics.committedOffset.set(labels, Number(offset));
    this.opts.metrics.lag.set(labels, Math.max(0, Number(payload.batch.highWatermark) - Number(offset)));
  }

  private async runPerMessage(run: BatchRun): Promise<void> {
    const { batch, tracker } = run;
    const { concurrency, window } = this.opts;
    const scheduler = new KeyedScheduler(concurrency);
    const completions: Promise<void>[] = [];
    const failed = { error: null as unknown };
    for (const message of batch.messages) {
      while (tracker.uncommitted >= window && failed.error === null) {
        // Backpressure: nothing more is taken from this partition until commits free the window.
        await tracker.flush().catch((e: unknown) => this.onCommitError(e, batch.partition));
        if (tracker.uncommitted >= window) await sleep(5);
      }
      // Queue only a little ahead of the running jobs: a whole fetch batch of waiting closures costs GC time.
      await scheduler.whenPendingBelow(concurrency * 2);
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
    message: ConsumedMessage,
    failed: { error: unknown },
  ): Promise<void> {
    const live = this.opts.liveness;
    live.inFlight++;
    const started = performance.now();
    try {
      const meta = inputMeta(run.batch, message);
      const outcome = await scheduler.schedule(meta.key, () => this.runJob(run, meta, message));
      if (outcome.skipped) return;
      await outcome.ack;
      run.tracker.finish(message.offset);
      live.lastProgressAt = Date.now();
      this.hot.processing.observe((performance.now() - started) / 1000);
      // Commit early when half the window is done, so the batch loop rarely waits for the timer.
      if (run.tracker.committableCount * 2 >= this.opts.window)
        run.tracker.flush().catch((e: unknown) => this.onCommitError(e, run.batch.partition));
    } catch (e) {
      failed.error ??= e;
    } finally {
      live.inFlight--;
    }
  }

  private runJob(run: BatchRun, meta: InputMeta, message: ConsumedMessage) {
    if (run.stopStarting()) return Promise.resolve({ skipped: true } as const);
    this.hot.recordsIn.inc();
    if (message.value === null) {
      this.opts.metrics.skipped.inc({ step: this.opts.stepId, reason: 'tombstone' });
      return Promise.resolve({ skipped: false, ack: Promise.resolve() } as const);
    }
    return this.executor!.run(meta, message, run.abort);
  }

  /** processBatch operators (sinks): the batch's decodable records go to the executor, which chunks and splits. */
  private async runBatchOperator(run: BatchRun): Promise<void> {
    const { batch, tracker } = run;
    const executor = this.executor!;
    const { metrics, stepId, liveness } = this.opts;
    const entries: BatchEntry[] = [];
    const offsets = new Map<BatchEntry, string>();
    const letters: Promise<void>[] = [];
    for (const message of batch.messages) {
      if (run.stopStarting()) break;
      tracker.begin(message.offset);
      metrics.recordsIn.inc({ step: stepId });
      if (message.value === null) {
        metrics.skipped.inc({ step: stepId, reason: 'tombstone' });
        tracker.finish(message.offset);
        continue;
      }
      const decoded = await executor.decodeForBatch(inputMeta(batch, message), message, run.abort);
      if (decoded.kind === 'skipped') break;
      if (decoded.kind === 'letter') {
        letters.push(decoded.ack.then(() => tracker.finish(message.offset)));
        continue;
      }
      entries.push(decoded.entry);
      offsets.set(decoded.entry, message.offset);
    }
    liveness.inFlight += entries.length;
    try {
      await executor.runBatch(entries, run.abort, (e) => tracker.finish(offsets.get(e)!));
    } finally {
      liveness.inFlight -= entries.length;
    }
    await Promise.all(letters);
  }

  private onCommitError(e: unknown, partition: number): void {
    if (e instanceof StaleGenerationError || isRebalancing(e)) return;
    this.opts.logger.warn({ err: e, partition }, 'commit failed; will retry with the next one');
  }
}

function inputMeta(batch: PartitionBatch, m: ConsumedMessage): InputMeta {
  return {
    topic: batch.topic,
    partition: batch.partition,
    offset: m.offset,
    key: m.key ? m.key.toString('utf8') : null,
    headers: headersToStrings(m.headers),
    timestamp: m.timestamp,
  };
}
