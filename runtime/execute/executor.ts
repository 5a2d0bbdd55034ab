/**
 * The step executor: what happens to a job once it is fetched, wherever it was fetched from (a worker's
 * consumer group, the dry run's in-memory topics). It knows nothing of Kafka's consumer group: the caller
 * owns partitions, ordering, backpressure and commits, and hands the executor one message (`run`) or, for
 * `processBatch` operators, the decoded items of a batch (`decodeForBatch`, `runBatch`).
 *
 * For each job: decode (the step's input schema) -> the operator's `ctx` (runtime/execute/context.ts) ->
 * `process` under a deadline (runtime/execute/deadline.ts) and the caller's abort -> encode -> `send`.
 * - Retriable errors: `withRetry(step.retry, …)`, capped jittered backoff, bounded attempts, then a dead letter.
 *   Permanent errors and bugs: a dead letter at once. Undecodable input is permanent.
 * - `processBatch`: chunks of BATCH_CHUNK in order, each retried as a whole; a chunk that keeps failing is
 *   split in halves to isolate the record that fails, which alone is dead-lettered.
 * - A job is done when `send` took its outputs (streams: each chunk of STREAM_CHUNK is awaited, so memory stays
 *   bounded); its `ack` resolves when they were acknowledged. If outputs or a dead letter cannot be sent, the
 *   job fails with SendFailedError, which the caller must not commit past.
 * - Aborted (the caller is stopping): the job is `skipped`, neither retried nor dead-lettered.
 */
import { type ClassifiedError, classifyError, ListflowError } from '../errors';
import type { AnyEmit, AnyOperator, BatchItem, Clock, InputMeta, Logger } from '../operator';
import type { EncodedEmit } from '../operator-threads';
import type { StepSpec } from '../pipeline';
import type { OutRecord } from '../producer';
import type { DecodeResult } from '../serde';
import { CONTEXT_ONLY, type JobSpan, type JobTracer } from '../trace/spans';
import { logMeta, operatorContext } from './context';
import { type Failure, failureLetter, type LetterInfo, type RawInput, rejectLetter, type Where } from './dead-letters';
import { JobDeadline } from './deadline';
import { type Decoder, decodeInput, emitsOf, isStream } from './process';
import { type RetryOptions, sleep as realSleep, withRetry } from './retry';
import { ending, type JobOutcome, outputTraceHeaders, producing, SKIPPED, type TraceHeaders } from './trace';

export { type JobOutcome, outputTraceHeaders, SKIPPED, traceIdFor } from './trace';

/** Records handed to processBatch at once; bounds one transaction of a sink. */
export const BATCH_CHUNK = 500;
/** Outputs of a streaming job sent at once. */
export const STREAM_CHUNK = 500;

/** Decoding and encoding for the step: the registry-backed serde in a worker, an in-memory one in the dry run. */
export interface Codec extends Decoder {
  /** The value in the wire format of `port`'s topic. Throws SERDE_ENCODE_FAILED when it does not fit. */
  encode(port: string, value: unknown): Buffer;
}

/** Runs `process` off the event loop (operator threads): decode, process, encode happen there. */
export interface ThreadRunner {
  process(
    value: Buffer,
    input: InputMeta,
    attempt: number,
    deadlineAt: number,
    abort: AbortSignal,
  ): Promise<ReadonlyArray<EncodedEmit | AnyEmit>>;
}

export interface ExecutorHooks {
  /** A failed attempt, or a rejected part of an input. */
  failed?(code: string): void;
  retried?(code: string): void;
  /** Dead letters of failed inputs that Kafka acknowledged. */
  deadLettered?(code: string, n: number): void;
  /** Every dead letter as it is made, failed input or rejected part. */
  letter?(info: LetterInfo): void;
  /** A batch chunk finished (the worker's liveness check). */
  progress?(): void;
}

export type Send = (records: OutRecord[]) => Promise<void>;

export interface ExecutorOptions {
  readonly step: StepSpec;
  readonly operator: AnyOperator;
  readonly config: unknown;
  readonly services: unknown;
  readonly codec: Codec;
  readonly send: Send;
  /** Dead-letter topic of the step's input. */
  readonly dlq: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly random?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly hooks?: ExecutorHooks;
  readonly threads?: ThreadRunner | null;
  /** Spans of jobs (runtime/trace/spans.ts); propagation only by default. */
  readonly tracer?: JobTracer;
}

/** One input of a processBatch operator, decoded. */
export interface BatchEntry {
  readonly message: RawInput;
  readonly item: BatchItem<unknown>;
}

export type BatchDecode =
  | { readonly kind: 'item'; readonly entry: BatchEntry }
  | { readonly kind: 'letter'; readonly ack: Promise<void> }
  | { readonly kind: 'skipped' };

/** Outputs or dead letters were not acknowledged: the batch fails without committing them. */
export class SendFailedError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'SendFailedError';
  }
}

type Emit = AnyEmit | EncodedEmit;

/** The failed attempts of one job or chunk, for its dead letter. */
class Failures {
  private first: Date | null = null;
  private last: Failure | null = null;
  add(e: unknown, attempt: number, at: Date): ClassifiedError {
    const c = classifyError(e);
    this.first ??= at;
    this.last = { c, attempts: attempt, firstFailure: this.first, lastFailure: at };
    return c;
  }
  /** The last failure, once there was one. */
  final(): Failure | null {
    return this.last;
  }
}

export class StepExecutor {
  private readonly step: StepSpec;
  private readonly operator: AnyOperator;
  private readonly where: Where;
  private readonly hooks: ExecutorHooks;
  private readonly tracer: JobTracer;
  private readonly random: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Output port -> topic, for the ports both the operator and the step declare. */
  private readonly topics: Map<string, string>;

  constructor(private readonly opts: ExecutorOptions) {
    this.step = opts.step;
    this.operator = opts.operator;
    this.where = { dlq: opts.dlq, step: opts.step.id, operator: opts.operator.name };
    this.hooks = opts.hooks ?? {};
    this.tracer = opts.tracer ?? CONTEXT_ONLY;
    this.random = opts.random ?? Math.random;
    this.sleep = opts.sleep ?? realSleep;
    this.topics = new Map(
      Object.entries(opts.step.outputs).filter(([port]) => Object.hasOwn(opts.operator.outputs, port)),
    );
  }

  /**
   * One message (not a tombstone) of a `process` operator: decode, process with retries, encode, send.
   * Resolves when the job is done (outputs handed to `send`), with `ack` resolving when they were
   * acknowledged: the caller's slot is free while the acknowledgement is pending.
   */
  async run(meta: InputMeta, message: RawInput, abort: AbortSignal, send: Send = this.opts.send): Promise<JobOutcome> {
    const value = message.value as Buffer;
    const span = this.tracer.startJob(meta);
    const trace = outputTraceHeaders(meta, span.context);
    const failures = new Failures();
    try {
      const outcome = await withRetry(
        this.step.retry,
        (attempt) => this.attempt(meta, message, value, trace, span, attempt, abort, send),
        () =>
          this.retryOptions(abort, failures, (c, attempt, waitMs) =>
            this.opts.logger.warn(
              { ...logMeta(meta), code: c.code, attempt, waitMs, err: c.error },
              'retriable failure; backing off',
            ),
          ),
      );
      return ending(span, outcome);
    } catch (thrown) {
      if (thrown instanceof SendFailedError) {
        span.end('SEND_FAILED');
        throw thrown; // outputs not taken: fail the batch, commit nothing more
      }
      const failure = failures.final();
      if (abort.aborted || !failure) return ending(span, SKIPPED); // stopping: leave it uncommitted, do not dead-letter
      const { c, attempts } = failure;
      this.opts.logger.error(
        { ...logMeta(meta), code: c.code, kind: c.kind, attempt: attempts, err: c.error },
        'dead-lettering message',
      );
      return ending(span, { skipped: false, ack: this.deadLetterFailure(meta, message, failure, send) }, c.code);
    }
  }

  /**
   * The step's retry options for a job or a chunk: what is worth another attempt (a retriable error while
   * the caller is not stopping; never a send failure), with each failure counted in `failures` and the hooks.
   */
  private retryOptions(
    abort: AbortSignal,
    failures: Failures,
    backingOff: (c: ClassifiedError, attempt: number, waitMs: number) => void,
  ): RetryOptions {
    return {
      retriable: (e) => !(e instanceof SendFailedError) && !abort.aborted && classifyError(e).kind === 'retriable',
      onFailure: (e, attempt, wait) => {
        if (e instanceof SendFailedError || abort.aborted) return;
        const c = failures.add(e, attempt, this.opts.clock.now());
        this.hooks.failed?.(c.code);
        if (wait === null) return;
        this.hooks.retried?.(c.code);
        backingOff(c, attempt, wait);
      },
      signal: abort,
      random: this.random,
      sleep: this.sleep,
    };
  }

  private async attempt(
    meta: InputMeta,
    message: RawInput,
    value: Buffer,
    trace: TraceHeaders,
    span: JobSpan,
    attempt: number,
    abort: AbortSignal,
    send: Send,
  ): Promise<JobOutcome> {
    const { step } = this;
    // Timings only when spans are exported: otherwise a job costs no clock reads.
    const startedAt = span.recording ? Date.now() : 0;
    const records: OutRecord[] = [];
    const letters: LetterInfo[] = [];
    const threads = this.opts.threads;
    if (threads) {
      // The thread decodes, processes and encodes; the pool enforces the deadline and the abort.
      const emits = await threads.process(value, meta, attempt, Date.now() + step.timeoutMs, abort);
      for (const e of emits) records.push(this.toRecord(e, meta, message, trace, letters));
      if (span.recording) span.phase('process', startedAt, Date.now());
      return producing(span, this.sendChecked(records, letters, meta, send));
    }
    const deadline = new JobDeadline(step.timeoutMs, abort);
    try {
      const record = await decodeInput(this.opts.codec, value);
      const decodedAt = span.recording ? Date.now() : 0;
      if (span.recording) span.phase('decode', startedAt, decodedAt);
      const ctx = this.context(attempt, meta, deadline, span);
      const result = this.operator.process!(record, ctx);
      if (isStream(result)) {
        // Streaming job (a feed): send in chunks and wait for each, so memory stays bounded.
        for await (const e of result) {
          if (deadline.signal.aborted) throw deadline.signal.reason;
          records.push(this.toRecord(e, meta, message, trace, letters));
          if (records.length >= STREAM_CHUNK)
            await Promise.race([this.sendChecked(records.splice(0), letters.splice(0), meta, send), deadline.aborted]);
        }
      } else {
        for (const e of await emitsOf(result, () => deadline.aborted))
          records.push(this.toRecord(e, meta, message, trace, letters));
      }
      if (span.recording) span.phase('process', decodedAt, Date.now());
    } finally {
      deadline.clear();
    }
    return producing(span, this.sendChecked(records, letters, meta, send));
  }

  /**
   * Decodes one input of a processBatch operator, asking the registry again (the step's retry) while it is
   * unavailable. Undecodable input becomes a dead letter; `skipped` when the caller stops meanwhile.
   */
  async decodeForBatch(meta: InputMeta, message: RawInput, abort: AbortSignal): Promise<BatchDecode> {
    const value = message.value as Buffer;
    let decoded: DecodeResult<unknown>;
    try {
      decoded = await withRetry(
        this.step.retry,
        async () => {
          const d = await this.opts.codec.decode(value);
          if (!d.ok && d.error.retriable) throw d.error;
          return d;
        },
        {
          retriable: () => true,
          onFailure: (e, attempt, wait) => {
            if (wait !== null)
              this.opts.logger.warn(
                { ...logMeta(meta), code: (e as ListflowError).code, attempt },
                'registry unavailable; backing off',
              );
          },
          signal: abort,
          random: this.random,
          sleep: this.sleep,
        },
      );
    } catch (e) {
      if (abort.aborted) return { kind: 'skipped' };
      decoded = { ok: false, error: e as ListflowError };
    }
    if (decoded.ok) return { kind: 'item', entry: { message, item: { record: decoded.value, input: meta } } };
    const now = this.opts.clock.now();
    const failure = { c: classifyError(decoded.error), attempts: 1, firstFailure: now, lastFailure: now };
    return { kind: 'letter', ack: this.deadLetterFailure(meta, message, failure, this.opts.send) };
  }

  /**
   * A processBatch operator over decoded entries, in chunks, in order; `finished` is called for each entry
   * whose outputs (or dead letter) were acknowledged. Returns false when the caller stopped meanwhile and
   * entries were left unprocessed.
   */
  async runBatch(
    entries: readonly BatchEntry[],
    abort: AbortSignal,
    finished: (e: BatchEntry) => void,
  ): Promise<boolean> {
    for (let i = 0; i < entries.length; i += BATCH_CHUNK) {
      if (!(await this.runChunk(entries.slice(i, i + BATCH_CHUNK), abort, finished))) return false;
      this.hooks.progress?.();
    }
    return true;
  }

  private async runChunk(
    entries: readonly BatchEntry[],
    abort: AbortSignal,
    finished: (e: BatchEntry) => void,
  ): Promise<boolean> {
    const failures = new Failures();
    try {
      await withRetry(
        this.step.retry,
        (attempt) => this.chunkAttempt(entries, attempt, abort),
        this.retryOptions(abort, failures, (c, attempt, waitMs) =>
          this.opts.logger.warn(
            { code: c.code, attempt, waitMs, records: entries.length, err: c.error },
            'batch failed; backing off',
          ),
        ),
      );
      for (const e of entries) finished(e);
      return true;
    } catch (thrown) {
      if (abort.aborted) return false;
      const failure = failures.final();
      if (thrown instanceof SendFailedError || !failure) throw thrown;
      if (entries.length > 1) {
        // Isolate the record that fails: process the halves separately.
        const mid = Math.ceil(entries.length / 2);
        return (
          (await this.runChunk(entries.slice(0, mid), abort, finished)) &&
          (await this.runChunk(entries.slice(mid), abort, finished))
        );
      }
      const only = entries[0]!;
      await this.deadLetterFailure(only.item.input, only.message, failure, this.opts.send);
      finished(only);
      return true;
    }
  }

  private async chunkAttempt(entries: readonly BatchEntry[], attempt: number, abort: AbortSignal): Promise<void> {
    const first = entries[0]!.item.input;
    const deadline = new JobDeadline(this.step.timeoutMs, abort);
    const startedAt = Date.now();
    let results: ReadonlyArray<ReadonlyArray<AnyEmit>>;
    try {
      const ctx = this.context(attempt, first, deadline);
      results = await Promise.race([
        this.operator.processBatch!(
          entries.map((e) => e.item),
          ctx,
        ),
        deadline.aborted,
      ]);
    } finally {
      deadline.clear();
    }
    const processedAt = Date.now();
    const records: OutRecord[] = [];
    const letters: LetterInfo[] = [];
    // One job span per input of the chunk, each continuing its own input's trace.
    const spans = entries.map((entry, i) => {
      const input = entry.item.input;
      const span = this.tracer.startJob(input, startedAt);
      if (span.recording) span.phase('process', startedAt, processedAt);
      const trace = outputTraceHeaders(input, span.context);
      for (const e of results[i] ?? []) records.push(this.toRecord(e, input, entry.message, trace, letters));
      return span;
    });
    try {
      await this.sendChecked(records, letters, first, this.opts.send);
    } catch (e) {
      for (const span of spans) span.end('SEND_FAILED');
      throw e;
    }
    const producedAt = Date.now();
    for (const span of spans) {
      if (span.recording) span.phase('produce', processedAt, producedAt);
      span.end();
    }
  }

  /** The operator's ctx for one attempt (runtime/execute/context.ts). */
  private context(attempt: number, input: InputMeta, deadline: JobDeadline, span?: JobSpan) {
    const { config, services, clock, logger } = this.opts;
    return operatorContext({ config, services, clock, logger, attempt, input, deadline, ...(span && { span }) });
  }

  /** Hands an attempt's records to `send`; its rejects count as dead letters from now on (not before: an attempt may still fail). */
  private sendChecked(
    records: OutRecord[],
    letters: readonly LetterInfo[],
    meta: InputMeta,
    send: Send,
  ): Promise<void> {
    if (this.hooks.letter) for (const l of letters) this.hooks.letter(l);
    return send(records).catch((e: unknown) => {
      throw new SendFailedError(
        `producing outputs of ${meta.topic}/${meta.partition}@${meta.offset} failed: ${(e as Error).message}`,
        e,
      );
    });
  }

  /** Dead-letters one input that failed for good. Resolves once the letter was acknowledged. */
  private async deadLetterFailure(meta: InputMeta, message: RawInput, failure: Failure, send: Send): Promise<void> {
    const { record, info } = failureLetter(this.where, meta, message, failure);
    this.hooks.letter?.(info);
    try {
      await send([record]);
    } catch (e) {
      throw new SendFailedError(
        `DLQ_WRITE_FAILED: dead letter to ${this.where.dlq} not acknowledged: ${(e as Error).message}`,
        e,
      );
    }
    this.hooks.deadLettered?.(failure.c.code, 1);
  }

  private toRecord(e: Emit, meta: InputMeta, message: RawInput, trace: TraceHeaders, letters: LetterInfo[]): OutRecord {
    if (e.kind === 'reject') {
      this.hooks.failed?.(e.code);
      const { record, info } = rejectLetter(this.where, meta, message, e, this.opts.clock.now());
      letters.push(info);
      return record;
    }
    const topic = this.topics.get(e.port);
    if (topic === undefined)
      throw new ListflowError('OPERATOR_BUG', `operator ${this.operator.name} emitted to unknown port ${e.port}`);
    // Outputs from operator threads arrive encoded already.
    const value =
      e.kind === 'encoded' || e.value === null ? (e.value as Buffer | null) : this.opts.codec.encode(e.port, e.value);
    return { topic, message: { key: e.key, value, headers: { ...(e.headers ?? {}), ...trace } } };
  }
}
