/**
 * The operator contract: what an operator folder declares, and the `ctx` through which `process` reaches the world.
 *
 * An operator is pure business logic. It never touches Kafka, the environment or globals: the runtime (the
 * step executor, runtime/execute/, in a worker or the dry run) decodes its input, calls `process(record, ctx)`,
 * encodes and produces what it returns, waits for Kafka's acknowledgement and only then commits. A unit test
 * calls `process` with plain objects.
 */
import type { ConfigFields, ConfigOf, ConfigSpec } from './config';
import type { ErrorCode } from './errors';
import type { SchemaName, SchemaTypes } from '../schemas/generated/types';
import { operatorContext } from './execute/context';
import type { RetryPolicy } from './pipeline';
import type { OperatorSpan } from './trace/spans';

/** Structured logger (pino-compatible subset). */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export interface Clock {
  now(): Date;
}

/** Where the record being processed came from. */
export interface InputMeta {
  readonly topic: string;
  readonly partition: number;
  /** 64-bit offset as a decimal string. */
  readonly offset: string;
  readonly key: string | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly timestamp: string;
}

export interface OperatorContext<Cfg, Svc> {
  readonly config: Cfg;
  readonly services: Svc;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Aborted when the job passes its deadline, or the worker is shutting down past its grace period. */
  readonly signal: AbortSignal;
  /** 1 on the first attempt; retries count up. */
  readonly attempt: number;
  readonly input: InputMeta;
  /**
   * The job's span (runtime/trace/spans.ts): `recording` is true only when spans are exported, and an operator
   * adds a finished child for a phase of its own (a photo fetch) only then, so it takes no timings otherwise.
   */
  readonly span: OperatorSpan;
}

/** A record for one of the operator's output ports. The pipeline maps ports to topics. */
export interface OutputEmit<Port extends string = string, V = unknown> {
  readonly kind: 'output';
  readonly port: Port;
  /** Deterministic: a replay must write the same key. */
  readonly key: string;
  /** null produces a tombstone (compacted topics). */
  readonly value: V | null;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * A part of the input that cannot be processed while the rest can (e.g. one bad line of a feed).
 * The runtime writes `payload` to the operator's dead-letter topic with the code, message and detail as headers.
 * `payload: null` means the input message itself: its original bytes, so the letter can be redriven as it came
 * (use it when the whole input failed but the operator still has outputs to emit, like the FAILED status of a whole job).
 */
export interface RejectEmit {
  readonly kind: 'reject';
  readonly code: ErrorCode;
  readonly message: string;
  readonly payload: string | Buffer | null;
  readonly detail: Readonly<Record<string, string>>;
}

export type OutputPorts = Record<string, SchemaName>;

export type EmitFor<P extends OutputPorts> =
  | { [K in keyof P & string]: OutputEmit<K, SchemaTypes[P[K]]> }[keyof P & string]
  | RejectEmit;

/** What `process` may return: a list, a promise of one, or a stream (for jobs with many outputs, like a feed). */
export type ProcessResult<E> = Iterable<E> | Promise<Iterable<E>> | AsyncIterable<E>;

export interface BatchItem<In> {
  readonly record: In;
  readonly input: InputMeta;
}

/** What the dry run (runtime/dry-run.ts) offers an operator's `dryRun.config`. */
export interface DryRunEnvironment {
  /** The directory the dry run's input files are in (a feed's): where a file-reading operator must look. */
  readonly filesDir: string;
  /** A scratch directory for what the operator writes; made on first use, removed by the caller. */
  scratchDir(): Promise<string>;
  /** The step's retry policy. */
  readonly retry: RetryPolicy;
}

/**
 * How the dry run runs this operator without the world outside it: settings it derives (over the
 * environment's, under explicit `--set` values) and services that stand in for the real ones.
 */
export interface DryRunDeclaration<S extends ConfigFields, Svc> {
  readonly config?: (env: DryRunEnvironment) => Promise<Record<string, unknown>> | Record<string, unknown>;
  readonly services?: (config: ConfigOf<S>) => Svc;
}

/**
 * What a deploy must give this operator's pods beyond what every worker gets (k8s/render.ts reads it, so the
 * manifests name no operator). Each names the operator's own setting the deploy fills in.
 */
export interface DeployNeeds<S extends ConfigFields> {
  /**
   * Writes a blob store: `store` selects it (file or s3://...), `root` is the filesystem store's directory.
   * A deploy picks the store with a component (a shared volume, or an object store and its credentials).
   */
  readonly blobStore?: { readonly store: keyof S & string; readonly root: keyof S & string };
  /** Uses the database: `url` is the setting filled from the database Secret (required: no pod starts without). */
  readonly database?: { readonly url: keyof S & string };
  /** Reads file:// feeds: `root` is the setting naming the directory a deploy mounts them in, read-only. */
  readonly feeds?: { readonly root: keyof S & string };
  /** Directories the operator writes besides /tmp; each gets its own scratch volume (the root filesystem is read-only). */
  readonly writablePaths?: readonly string[];
  /** An owning operator's (`own`) standing assignments, declared in a file a deploy ships (see DeployAssignments). */
  readonly assignments?: DeployAssignments<S>;
}

/**
 * The standing assignments of an owning step (one input record per key, e.g. a declared source), as a file the
 * deploy ships and publishes to the step's input before its workers start. A deploy derives three things from
 * it: the useful replicas (an owner with no key polls nothing, so at most one per declared key, and per input
 * partition), the Secret keys its pods need (the variables the declarations name), and the setup Job's step that
 * publishes the file.
 */
/** A directory an assignment reads in its pods: mounted read-only at `path`, from the named object if given. */
export interface DeclaredMount {
  /** The assignment (key) it is for: names the volume. */
  readonly key: string;
  /** Absolute directory in the pod. */
  readonly path: string;
  /** Where the files come from; without one the deploy mounts an empty directory for an overlay to patch. */
  readonly from?: { readonly configMap: string } | { readonly persistentVolumeClaim: string };
}

export interface DeployAssignments<S extends ConfigFields> {
  /** The setting naming the file that `apply` reads (the deploy mounts the shipped file and points it there). */
  readonly file: keyof S & string;
  /** The file a render uses: the one the project ships. */
  readonly shipped: () => string;
  /**
   * What `file` declares: one key per assignment, the environment variables their secrets are read from, the
   * volumes their pods read (a file feed's folder, read-only), and the operators whose settings their readers
   * use (a snapshot source is read with ingest's reader and LISTFLOW_INGEST_* settings).
   */
  readonly declared: (file: string) => {
    readonly keys: readonly string[];
    readonly secretEnv: readonly string[];
    readonly mounts?: readonly DeclaredMount[];
    readonly settingsOf?: readonly string[];
  };
  /** CLI arguments that apply the file to the step's input (writes its records), unattended: the setup Job runs them. */
  readonly apply: readonly string[];
}

/**
 * Counts of the items an operator declares (`items`), e.g. each photo of a listing: `ok`, `failed` with the
 * error code, or `reused` (done from what an earlier record stored, with no new work: a photo not downloaded
 * again). A worker backs it with its Prometheus registry; elsewhere (tests, the dry run) it may be absent.
 */
export interface ItemMetrics {
  count(item: string, outcome: ItemOutcome, code?: string): void;
}

export type ItemOutcome = 'ok' | 'failed' | 'reused';

/**
 * Tools an operator offers the CLI beside its worker (e.g. reading a feed as its worker would), found by
 * name in the operator registry so the CLI names no operator. The runtime knows no tool: each tool's type
 * is declared beside the registry (operators/tools.ts augments this interface).
 */
// biome-ignore lint/suspicious/noEmptyInterface: augmented by operators/tools.ts (the runtime names no tool).
export interface OperatorTools {}

export interface OperatorDefinition<
  I extends SchemaName = SchemaName,
  P extends OutputPorts = OutputPorts,
  S extends ConfigFields = ConfigFields,
  Svc = unknown,
> {
  /** Stable name: used in logs, metrics, consumer group ids, k8s labels and dead-letter headers. */
  readonly name: string;
  /** One line for `--help` and the README. */
  readonly summary: string;
  /** Schema of the input topic's values. */
  readonly input: I;
  /** Output ports and their schemas. */
  readonly outputs: P;
  readonly config: ConfigSpec<S>;
  /**
   * Builds the services `ctx.services` carries (fetcher, blob store, database pool). Called once at
   * startup by the runtime; tests pass plain objects instead. `close` is called on shutdown.
   */
  readonly services?: (
    config: ConfigOf<S>,
    logger: Logger,
    metrics?: ItemMetrics,
    /** The environment the worker started with, for secrets a record names by variable (a source's credentials). */
    env?: Readonly<Record<string, string | undefined>>,
  ) => Promise<Svc> | Svc;
  readonly closeServices?: (services: Svc) => Promise<void>;
  /**
   * Things the operator counts within a record (name -> what one is), through the `metrics` its services get:
   * a worker exports them as `listflow_items_total{step, item, outcome, code}` and the generated dashboard
   * (k8s/dashboards.ts) gives each a panel in the step's row.
   */
  readonly items?: Readonly<Record<string, string>>;
  /** What a deploy must give its pods (see DeployNeeds). */
  readonly deploy?: DeployNeeds<S>;
  /** What the dry run needs to run this operator in-process (see DryRunDeclaration). */
  readonly dryRun?: DryRunDeclaration<S, Svc>;
  /** Tools this operator offers the CLI (see OperatorTools); each tool is offered by one operator only. */
  readonly tools?: Partial<OperatorTools>;
  /**
   * True when `process` is CPU work that needs no services and returns a list (not a stream): a pipeline
   * step may then run it on worker threads (`threads` in the step, see runtime/operator-threads.ts).
   */
  readonly cpuBound?: boolean;
  /** Per-record processing. Exactly one of `process`, `processBatch` and `own` is given. */
  readonly process?: (record: SchemaTypes[I], ctx: OperatorContext<ConfigOf<S>, Svc>) => ProcessResult<EmitFor<P>>;
  /**
   * Batch processing, for sinks that must write many records in one transaction (a database sink). Returns one
   * list of emits per input item, in order. It fails or succeeds as a whole.
   */
  readonly processBatch?: (
    items: ReadonlyArray<BatchItem<SchemaTypes[I]>>,
    ctx: Omit<OperatorContext<ConfigOf<S>, Svc>, 'input'>,
  ) => Promise<ReadonlyArray<ReadonlyArray<EmitFor<P>>>>;
  /**
   * Ownership instead of jobs, for a step whose input records are standing assignments (a source to
   * replicate), not work items: the runtime (runtime/assigned/) keeps the input topic's latest record per key
   * for the partitions this replica is assigned, and runs `own(record, ctx)` for each key until the key is no
   * longer owned (`ctx.signal`: a rebalance, a tombstone, a changed record, shutdown). Its outputs go through
   * `ctx.transactions()`, a transactional producer per key that fences any earlier owner, and its state is an
   * output topic read back with `ctx.lastCommitted`: nothing lives in the process. It resolves when it stops;
   * a throw is classified like a job's error (runtime/errors.ts) and dead-letters the record on a permanent one.
   */
  readonly own?: (record: SchemaTypes[I], ctx: OwnerContext<ConfigOf<S>, Svc, P>) => Promise<void>;
}

/** One key's transactional writer (runtime/assigned/transactions.ts). */
export interface TransactionalWriter<P extends OutputPorts> {
  /** Produces every emit and commits them in ONE transaction; resolves once committed, throws (aborted) otherwise. */
  commit(
    emits: ReadonlyArray<{ [K in keyof P & string]: OutputEmit<K, SchemaTypes[P[K]]> }[keyof P & string]>,
  ): Promise<void>;
}

/** Gauges an owning operator sets per key (a worker exports them as `listflow_owned_<name>{step, key}`). */
export interface OwnedGauges {
  set(name: string, value: number): void;
}

export interface OwnerContext<Cfg, Svc, P extends OutputPorts> {
  readonly config: Cfg;
  readonly services: Svc;
  readonly logger: Logger;
  readonly clock: Clock;
  /** The input record's key (a source's name). */
  readonly key: string;
  /** Aborted when this replica no longer owns the key. */
  readonly signal: AbortSignal;
  /** Opens the key's transactional writer; opening fences an earlier owner (its next commit fails). */
  transactions(): Promise<TransactionalWriter<P>>;
  /** The key's last committed value on an output port's compacted topic (read_committed), undefined if none. */
  lastCommitted<K extends keyof P & string>(port: K): Promise<SchemaTypes[P[K]] | undefined>;
  /** Every key starting with `keyPrefix` on an output port's compacted topic, with its last committed value. */
  committed<K extends keyof P & string>(port: K, keyPrefix: string): Promise<Map<string, SchemaTypes[P[K]]>>;
  readonly gauges: OwnedGauges;
}

/**
 * Operators of any type, as the runtime, the dry run and the registry hold them: each operator's types are
 * checked where it is defined (`defineOperator`), the machinery that runs them is generic.
 */
// biome-ignore lint/suspicious/noExplicitAny: see above.
export type AnyOperator = OperatorDefinition<any, any, any, any>;
// biome-ignore lint/suspicious/noExplicitAny: see AnyOperator.
export type AnyContext = OperatorContext<any, any>;
/** Operators by name (operators/index.ts). */
export type OperatorRegistry = Readonly<Record<string, AnyOperator>>;

const registryModules = new WeakMap<AnyOperator, string>();

/**
 * Declares an operator registry: `export const operators = defineRegistry(__filename, { ... })`. The module
 * is recorded for each operator, so an operator thread, which cannot be handed functions, loads the same
 * registry (its `operators` export) and takes the operator by name; the runtime never names a path itself.
 */
export function defineRegistry<R extends Record<string, AnyOperator>>(module: string, operators: R): R {
  for (const op of Object.values(operators)) registryModules.set(op, module);
  return operators;
}

/** The module of the registry `operator` was declared in (defineRegistry), if any. */
export const registryModuleOf = (operator: AnyOperator): string | undefined => registryModules.get(operator);
/** What `process` may emit: an output for a port, or a reject. */
export type AnyEmit = OutputEmit | RejectEmit;

/**
 * Identity with type inference: `export default defineOperator({...})`. Checks the process/processBatch rule,
 * and that a cpuBound operator has what a thread can run: `process` and no services.
 */
export function defineOperator<I extends SchemaName, P extends OutputPorts, S extends ConfigFields, Svc = undefined>(
  def: OperatorDefinition<I, P, S, Svc>,
): OperatorDefinition<I, P, S, Svc> {
  if ([def.process, def.processBatch, def.own].filter((f) => f !== undefined).length !== 1) {
    throw new TypeError(`operator ${def.name}: define exactly one of process, processBatch and own`);
  }
  if (def.cpuBound && (!def.process || def.services)) {
    throw new TypeError(
      `operator ${def.name}: cpuBound needs process and no services (a thread has neither the worker's services nor its batches)`,
    );
  }
  return def;
}

/** Typed emit helpers for operator code. */
export const emit = {
  output<Port extends string, V>(
    port: Port,
    key: string,
    value: V | null,
    headers?: Record<string, string>,
  ): OutputEmit<Port, V> {
    return headers ? { kind: 'output', port, key, value, headers } : { kind: 'output', port, key, value };
  },
  reject(
    code: ErrorCode,
    message: string,
    payload: string | Buffer | null,
    detail: Record<string, string> = {},
  ): RejectEmit {
    return { kind: 'reject', code, message, payload, detail };
  },
};

/** Test helper: a context of plain objects, made by the one context builder (runtime/execute/context.ts). */
export function plainContext<Cfg, Svc>(
  config: Cfg,
  services: Svc,
  overrides: Partial<OperatorContext<Cfg, Svc>> = {},
): OperatorContext<Cfg, Svc> {
  const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
  const ctx = operatorContext({
    config: overrides.config ?? config,
    services: overrides.services ?? services,
    logger: silent,
    clock: overrides.clock ?? { now: () => new Date('2026-01-01T00:00:00Z') },
    deadline: { signal: overrides.signal ?? new AbortController().signal },
    attempt: overrides.attempt ?? 1,
    input: overrides.input ?? { topic: 'test', partition: 0, offset: '0', key: null, headers: {}, timestamp: '0' },
    ...(overrides.span === undefined ? {} : { span: overrides.span }),
  }) as OperatorContext<Cfg, Svc>;
  // A given logger is used as is (tests read what was logged through it), not as the parent of ctx.logger.
  return overrides.logger ? Object.defineProperty(ctx, 'logger', { value: overrides.logger }) : ctx;
}

/** Collects everything a ProcessResult yields, in order. */
export async function collect<E>(result: ProcessResult<E>): Promise<E[]> {
  const r = await result;
  const out: E[] = [];
  if (Symbol.asyncIterator in (r as object)) {
    for await (const e of r as AsyncIterable<E>) out.push(e);
  } else {
    for (const e of r as Iterable<E>) out.push(e);
  }
  return out;
}
