/**
 * The dry-run harness: runs a pipeline's operators in-process over one feed file, with no Kafka and no
 * registry, using the same operator code, the pipeline's step order and each operator's own config spec.
 *
 * - Hand-off: every output value is encoded with its port's Avro schema and decoded again (avsc, the same
 *   reader types and logical types the runtime uses), so the next step sees exactly what it would read from
 *   Kafka; a value that does not match its schema fails as SERDE_ENCODE_FAILED, as in a worker.
 * - Each step reads everything the earlier steps wrote to its input topic, in order (one partition, offsets
 *   from 0). Tombstones are skipped as input, like the worker does. `processBatch` operators get chunks of 500
 *   in order; a chunk that keeps failing is split to isolate the record that fails, like the worker.
 * - Errors follow the worker's policy: retriable failures are retried up to the step's `retry.maxAttempts`
 *   (at once, without backoff; the outputs of a failed attempt are discarded), then become a reject; permanent
 *   errors and bugs become a reject at once; `emit.reject` becomes a reject. Rejects name step, operator,
 *   code, kind and message: what the dead letter's headers would say.
 * - Config: spec defaults < the operator's environment variables (LISTFLOW_<OPERATOR>_*, as a worker reads
 *   them) < settings the dry-run derives (ingest `fileRoot` = the feed's directory; images `blobStore` = file,
 *   `blobRoot` = a scratch directory and `fileRoot` = the feed's directory) < explicit `set` values. Parsed by
 *   parseConfig, so a typo fails exactly as it would in a worker.
 * - Services: each operator's own `services` factory, except where `standIns` gives one (the CLI runs
 *   publish against an in-memory stand-in of its database, see dry-run-publish-db.ts).
 *
 * The runtime knows no operator: the caller passes the pipeline, the registry and the stand-ins.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FeedFormat, IngestJob, SchemaName } from '../schemas/generated/types';
import { fromEnv, parseConfig } from './config';
import { TRACE_HEADER } from './dead-letter';
import { classifyError, type ErrorKind, errorCatalogue, ListflowError } from './errors';
import {
  type AnyContext,
  type AnyEmit,
  type AnyOperator,
  type BatchItem,
  type Clock,
  collect,
  type InputMeta,
  type Logger,
  type RejectEmit,
} from './operator';
import type { PipelineSpec, StepSpec } from './pipeline';
import { findStep } from './run';
import { encodeAvroBody, readerType } from './serde';
import { operatorEnvPrefix } from './settings';

type Emit = AnyEmit;

/** One record written to a topic during the dry run (the value decoded, as the next step reads it). */
export interface DryRunRecord {
  readonly topic: string;
  /** Offset in the dry run's single partition of the topic. */
  readonly offset: number;
  readonly key: string;
  /** null for a tombstone. */
  readonly value: unknown;
  readonly headers: Readonly<Record<string, string>>;
  /** Step that wrote it. */
  readonly step: string;
}

/** What a dead letter of the real pipeline would say about one failed input or rejected part of it. */
export interface DryRunReject {
  readonly step: string;
  readonly operator: string;
  readonly code: string;
  readonly kind: ErrorKind;
  readonly message: string;
  readonly attempts: number;
  /** The input record that failed (or whose part was rejected). */
  readonly input: { readonly topic: string; readonly offset: number; readonly key: string };
  readonly detail: Readonly<Record<string, string>>;
  /** For `emit.reject`: the rejected payload as text (what the dead letter's value would hold). */
  readonly payload?: string;
}

export interface DryRunStepSummary {
  readonly step: string;
  readonly operator: string;
  readonly input: string;
  readonly records: number;
  /** Records written per output topic. */
  readonly outputs: Readonly<Record<string, number>>;
  readonly rejects: number;
  readonly rejectsByCode: Readonly<Record<string, number>>;
}

export interface DryRunResult {
  /** Step ids run, in order. */
  readonly steps: readonly string[];
  /** The last step run. */
  readonly through: string;
  /** Records the last step wrote, in order (all its ports). */
  readonly outputs: readonly DryRunRecord[];
  /** Every reject of every step, in the order they happened. */
  readonly rejects: readonly DryRunReject[];
  readonly summary: readonly DryRunStepSummary[];
  /** Every topic written, with its records (for tests and tools). */
  readonly topics: ReadonlyMap<string, readonly DryRunRecord[]>;
  /** Operator configs used, by step id. */
  readonly configs: Readonly<Record<string, unknown>>;
  /** The images blob store root used, when a step has a `blobRoot` setting. */
  readonly blobRoot: string | undefined;
}

export interface DryRunOptions {
  readonly pipeline: PipelineSpec;
  readonly operators: Readonly<Record<string, AnyOperator>>;
  /** Path of the feed file (for OData, its first page). */
  readonly feed: string;
  /** Source id: prefix of every listing id. Default `dry-run`. */
  readonly source?: string;
  readonly format?: FeedFormat;
  readonly defaultCountry?: string | null;
  readonly defaultCurrency?: string | null;
  /** Step id or operator name after which to stop. Default: the whole pipeline. */
  readonly through?: string;
  /** Source of LISTFLOW_<OPERATOR>_* settings (a worker's environment). Default: none. */
  readonly env?: NodeJS.ProcessEnv;
  /** Explicit config values by operator name or step id; they win over everything. */
  readonly set?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** Blob store root for images (default: a new directory under the OS temp dir). */
  readonly imagesDir?: string;
  /** Services by operator name, instead of the operator's factory (config in, services out). */
  readonly standIns?: Readonly<Record<string, (config: unknown) => unknown>>;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly jobId?: string;
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

/** Records handed to processBatch at once, as in the worker. */
const BATCH_CHUNK = 500;

/** Encodes and decodes a value with its schema: exactly what crossing a Kafka topic does to it. */
export function avroRoundTrip(schema: SchemaName, value: unknown): unknown {
  return readerType(schema).fromBuffer(encodeAvroBody(schema, value));
}

/** The steps to run: the pipeline's order, up to and including `through`. */
export function stepsThrough(pipeline: PipelineSpec, through?: string): StepSpec[] {
  if (through === undefined) return [...pipeline.steps];
  const last = findStep(pipeline, through);
  return pipeline.steps.slice(0, pipeline.steps.indexOf(last) + 1);
}

interface Derived {
  readonly feedDir: string;
  readonly blobRoot: () => Promise<string>;
}

const DRY_RUN_POSTGRES_URL = 'postgres://dry-run.invalid/listflow';

/** Settings the dry run chooses for an operator, so it reads the given file and writes nothing that lasts. */
async function derivedConfig(operator: AnyOperator, step: StepSpec, d: Derived): Promise<Record<string, unknown>> {
  const fields = operator.config.fields as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  if (operator.name === 'ingest' || step.operator === 'ingest') {
    if ('fileRoot' in fields) out.fileRoot = d.feedDir;
    if ('maxAttempts' in fields) out.maxAttempts = step.retry.maxAttempts;
  }
  if (operator.name === 'images' || step.operator === 'images') {
    if ('blobRoot' in fields) out.blobRoot = await d.blobRoot();
    // The scratch directory, never the object store a worker's environment names (LISTFLOW_IMAGES_BLOB_STORE).
    if ('blobStore' in fields) out.blobStore = 'file';
    if ('fileRoot' in fields) out.fileRoot = d.feedDir;
  }
  // publish writes to an in-memory stand-in of its database (dry-run-publish-db.ts): its URL is never dialled,
  // so a dry run needs none.
  if ((operator.name === 'publish' || step.operator === 'publish') && 'postgresUrl' in fields)
    out.postgresUrl = DRY_RUN_POSTGRES_URL;
  return out;
}

/** Parses an operator's config the way the dry run layers it (see the header). */
export async function dryRunConfig(
  operator: AnyOperator,
  step: StepSpec,
  opts: Pick<DryRunOptions, 'env' | 'set'>,
  derived: Derived,
): Promise<unknown> {
  const prefix = operatorEnvPrefix(operator.name);
  const raw = {
    ...fromEnv(operator.config, opts.env ?? {}, prefix),
    ...(await derivedConfig(operator, step, derived)),
    ...(opts.set?.[operator.name] ?? {}),
    ...(step.id !== operator.name ? (opts.set?.[step.id] ?? {}) : {}),
  };
  return parseConfig(operator.config, raw, { where: `${operator.name} config (dry run)`, envPrefix: prefix });
}

/** Runs `fn` over `items` with at most `limit` at once; results in input order. */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      results[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** One input record's outcome: the emits of its successful attempt, or the reject it ended in. */
type Outcome = { ok: true; emits: Emit[] } | { ok: false; reject: DryRunReject };

export async function dryRun(opts: DryRunOptions): Promise<DryRunResult> {
  const feedPath = resolve(opts.feed);
  const clock = opts.clock ?? { now: () => new Date() };
  const logger = opts.logger ?? silent;
  const steps = stepsThrough(opts.pipeline, opts.through);
  const first = steps[0];
  if (!first) throw new ListflowError('PIPELINE_INVALID', `pipeline ${opts.pipeline.name} has no steps`);

  let blobRoot: string | undefined;
  const derived: Derived = {
    feedDir: dirname(feedPath),
    blobRoot: async () => {
      blobRoot ??= opts.imagesDir ? resolve(opts.imagesDir) : await mkdtemp(join(tmpdir(), 'listflow-dry-run-'));
      return blobRoot;
    },
  };

  // Validate every step's config before running anything, like workers do at startup.
  const prepared: { step: StepSpec; operator: AnyOperator; config: unknown }[] = [];
  for (const step of steps) {
    const operator = opts.operators[step.operator];
    if (!operator) {
      throw new ListflowError(
        'PIPELINE_INVALID',
        `step ${step.id} names operator ${step.operator}, which is not in the operator registry`,
      );
    }
    prepared.push({ step, operator, config: await dryRunConfig(operator, step, opts, derived) });
  }

  const firstOp = prepared[0]!.operator;
  if (firstOp.input !== 'IngestJob') {
    throw new ListflowError(
      'PIPELINE_INVALID',
      `the dry run starts with an IngestJob, but step ${first.id} reads ${firstOp.input}`,
    );
  }
  const jobId = opts.jobId ?? `dry-run-${clock.now().getTime()}`;
  const job: IngestJob = {
    jobId,
    source: opts.source ?? 'dry-run',
    uri: pathToFileURL(feedPath).href,
    format: opts.format ?? 'auto',
    submittedAt: clock.now(),
    defaultCountry: opts.defaultCountry ?? null,
    defaultCurrency: opts.defaultCurrency ?? null,
  };

  const topics = new Map<string, DryRunRecord[]>();
  const write = (topic: string, step: string, key: string, value: unknown, headers: Record<string, string>) => {
    const list = topics.get(topic) ?? [];
    topics.set(topic, list);
    const rec: DryRunRecord = { topic, offset: list.length, key, value, headers, step };
    list.push(rec);
    return rec;
  };
  write(first.input, 'dry-run', jobId, avroRoundTrip('IngestJob', job), {});

  const rejects: DryRunReject[] = [];
  const summary: DryRunStepSummary[] = [];
  const configs: Record<string, unknown> = {};
  let lastOutputs: DryRunRecord[] = [];

  for (const { step, operator, config } of prepared) {
    configs[step.id] = config;
    const standIn = opts.standIns?.[operator.name];
    const services = standIn ? standIn(config) : await operator.services?.(config as AnyContext['config'], logger);
    const inputs = (topics.get(step.input) ?? []).filter((r) => r.value !== null);
    const stepRejects: DryRunReject[] = [];
    const written: DryRunRecord[] = [];
    const outCounts: Record<string, number> = {};
    const runner = new StepRunner(step, operator, config, services, clock, logger);
    try {
      const outcomes = operator.processBatch ? await runner.batches(inputs) : await runner.each(inputs);
      outcomes.forEach((outcome, i) => {
        const input = inputs[i]!;
        if (!outcome.ok) {
          stepRejects.push(outcome.reject);
          return;
        }
        for (const e of outcome.emits) {
          if (e.kind === 'reject') {
            stepRejects.push(runner.rejectOf(e, input));
            continue;
          }
          const topic = step.outputs[e.port]!;
          const trace = input.headers[TRACE_HEADER] ?? `${input.topic}-0-${input.offset}`;
          written.push(write(topic, step.id, e.key, e.value, { ...(e.headers ?? {}), [TRACE_HEADER]: trace }));
          outCounts[topic] = (outCounts[topic] ?? 0) + 1;
        }
      });
    } finally {
      if (!standIn && services !== undefined) await operator.closeServices?.(services);
    }
    rejects.push(...stepRejects);
    const byCode: Record<string, number> = {};
    for (const r of stepRejects) byCode[r.code] = (byCode[r.code] ?? 0) + 1;
    summary.push({
      step: step.id,
      operator: operator.name,
      input: step.input,
      records: inputs.length,
      outputs: outCounts,
      rejects: stepRejects.length,
      rejectsByCode: byCode,
    });
    lastOutputs = written;
  }

  return {
    steps: steps.map((s) => s.id),
    through: steps[steps.length - 1]!.id,
    outputs: lastOutputs,
    rejects,
    summary,
    topics,
    configs,
    blobRoot,
  };
}

/** Runs one step's operator over its inputs with the worker's error policy. */
class StepRunner {
  constructor(
    private readonly step: StepSpec,
    private readonly operator: AnyOperator,
    private readonly config: unknown,
    private readonly services: unknown,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  private meta(r: DryRunRecord): InputMeta {
    return {
      topic: r.topic,
      partition: 0,
      offset: String(r.offset),
      key: r.key,
      headers: r.headers,
      timestamp: String(this.clock.now().getTime()),
    };
  }

  private ctx(attempt: number, input: InputMeta): AnyContext {
    return {
      config: this.config,
      services: this.services,
      logger: this.logger,
      clock: this.clock,
      signal: AbortSignal.timeout(this.step.timeoutMs),
      attempt,
      input,
    };
  }

  /** Checks each output against the step's ports and round-trips its value through the port's schema. */
  private finish(emits: readonly Emit[]): Emit[] {
    return emits.map((e) => {
      if (e.kind === 'reject') return e;
      const schema = this.operator.outputs[e.port] as SchemaName | undefined;
      if (!schema || !this.step.outputs[e.port]) {
        throw new ListflowError('OPERATOR_BUG', `operator ${this.operator.name} emitted to unknown port ${e.port}`);
      }
      return e.value === null ? e : { ...e, value: avroRoundTrip(schema, e.value) };
    });
  }

  private failure(thrown: unknown, input: DryRunRecord, attempts: number): DryRunReject {
    const c = classifyError(thrown);
    return {
      step: this.step.id,
      operator: this.operator.name,
      code: c.code,
      kind: c.kind,
      message: c.message,
      attempts,
      input: { topic: input.topic, offset: input.offset, key: input.key },
      detail: c.error instanceof ListflowError ? c.error.detail : {},
    };
  }

  rejectOf(e: RejectEmit, input: DryRunRecord): DryRunReject {
    const known = Object.hasOwn(errorCatalogue, e.code);
    return {
      step: this.step.id,
      operator: this.operator.name,
      code: e.code,
      kind: known ? 'permanent' : 'bug',
      message: e.message,
      attempts: 1,
      input: { topic: input.topic, offset: input.offset, key: input.key },
      detail: e.detail,
      payload:
        e.payload === null
          ? JSON.stringify(input.value)
          : Buffer.isBuffer(e.payload)
            ? e.payload.toString('utf8')
            : e.payload,
    };
  }

  private retriable(thrown: unknown, attempt: number): boolean {
    return classifyError(thrown).kind === 'retriable' && attempt < this.step.retry.maxAttempts;
  }

  /** `process` operators: each input on its own, up to the step's concurrency at once, results in order. */
  each(inputs: readonly DryRunRecord[]): Promise<Outcome[]> {
    return mapLimit(inputs, Math.min(this.step.concurrency, 16), async (input) => {
      const meta = this.meta(input);
      for (let attempt = 1; ; attempt++) {
        try {
          const emits = await collect<Emit>(this.operator.process!(input.value, this.ctx(attempt, meta)));
          return { ok: true, emits: this.finish(emits) };
        } catch (thrown) {
          if (this.retriable(thrown, attempt)) continue;
          return { ok: false, reject: this.failure(thrown, input, attempt) };
        }
      }
    });
  }

  /** `processBatch` operators: chunks in order; a chunk that keeps failing is split to isolate its poison record. */
  async batches(inputs: readonly DryRunRecord[]): Promise<Outcome[]> {
    const out: Outcome[] = [];
    for (let i = 0; i < inputs.length; i += BATCH_CHUNK)
      out.push(...(await this.chunk(inputs.slice(i, i + BATCH_CHUNK))));
    return out;
  }

  private async chunk(inputs: readonly DryRunRecord[]): Promise<Outcome[]> {
    if (inputs.length === 0) return [];
    for (let attempt = 1; ; attempt++) {
      try {
        const items: BatchItem<unknown>[] = inputs.map((r) => ({ record: r.value, input: this.meta(r) }));
        const { input: _omit, ...ctx } = this.ctx(attempt, items[0]!.input);
        const results = await this.operator.processBatch!(items, ctx);
        return inputs.map((_, i) => ({ ok: true, emits: this.finish((results[i] ?? []) as Emit[]) }));
      } catch (thrown) {
        if (this.retriable(thrown, attempt)) continue;
        if (inputs.length > 1) {
          const mid = Math.ceil(inputs.length / 2);
          return [...(await this.chunk(inputs.slice(0, mid))), ...(await this.chunk(inputs.slice(mid)))];
        }
        return [{ ok: false, reject: this.failure(thrown, inputs[0]!, attempt) }];
      }
    }
  }
}
