/**
 * The dry-run harness: runs a pipeline's steps in-process over in-memory topics, with no Kafka and no
 * registry, through the same step executor a worker runs (runtime/execute/): the same decode, ctx, deadline,
 * retries with the step's policy (without waiting between attempts), batch splitting, dead letters and encode.
 *
 * - Input: the records given in `inputs`, written to the first step's input topic with that topic's schema
 *   (whatever it is; the CLI's `listflow dry-run <feed>` writes one IngestJob).
 * - Hand-off: every output is encoded in the wire format of its port's schema, and the next step decodes it,
 *   so each step sees exactly what it would read from Kafka; a value that does not fit fails as
 *   SERDE_ENCODE_FAILED, as in a worker.
 * - Each step reads everything the earlier steps wrote to its input topic, in order (one partition, offsets
 *   from 0). Tombstones are skipped as input, like the worker does.
 * - Dead letters become rejects: step, operator, code, kind, message, attempts and detail, what the letter's
 *   headers say, in input order.
 * - Config: spec defaults < the operator's environment variables (parsed as a worker parses them,
 *   runtime/run.ts operatorConfigFrom) < what the operator's `dryRun.config` derives (read the files next to
 *   the input, write to a scratch directory) < explicit `set` values.
 * - Services: `standIns` given by the caller, else the operator's `dryRun.services`, else its own factory.
 *
 * The runtime knows no operator: the caller passes the pipeline and the registry; operators declare the rest.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type avro from 'avsc';
import type { SchemaName } from '../schemas/generated/types';
import { headersToStrings } from './dead-letters/build';
import { type ErrorKind, ListflowError } from './errors';
import type { LetterInfo } from './execute/dead-letters';
import { type BatchEntry, type Codec, StepExecutor } from './execute/executor';
import type { AnyContext, AnyOperator, Clock, InputMeta, Logger } from './operator';
import { dlqTopic, type PipelineSpec, type StepSpec } from './pipeline';
import type { OutRecord } from './producer';
import { findStep, parseOperatorConfig } from './run';
import { decodeWire, encodeWire, readerType } from './serde';

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
  /** The scratch directory, when an operator asked for one. */
  readonly scratchDir: string | undefined;
}

export interface DryRunOptions {
  readonly pipeline: PipelineSpec;
  readonly operators: Readonly<Record<string, AnyOperator>>;
  /** Records for the first step's input topic, values of its schema (`listflow dry-run <feed>`: one IngestJob). */
  readonly inputs: readonly { readonly key: string; readonly value: unknown }[];
  /** The directory the input's files are in (a feed's): handed to operators' `dryRun.config`. */
  readonly filesDir: string;
  /** Step id or operator name after which to stop. Default: the whole pipeline. */
  readonly through?: string;
  /** Source of LISTFLOW_<OPERATOR>_* settings (a worker's environment). Default: none. */
  readonly env?: NodeJS.ProcessEnv;
  /** Explicit config values by operator name or step id; they win over everything. */
  readonly set?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** Scratch directory for what operators write (default: a new directory under the OS temp dir). */
  readonly scratchDir?: string;
  /** Services by operator name, instead of the operator's dry-run stand-in or factory (config in, services out). */
  readonly standIns?: Readonly<Record<string, (config: unknown) => unknown>>;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

/** The steps to run: the pipeline's order, up to and including `through`. */
export function stepsThrough(pipeline: PipelineSpec, through?: string): StepSpec[] {
  if (through === undefined) return [...pipeline.steps];
  const last = findStep(pipeline, through);
  return pipeline.steps.slice(0, pipeline.steps.indexOf(last) + 1);
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

/**
 * The in-memory topics: wire-format bytes, as Kafka would hold them, and the decoded records reported. Schema
 * ids are made up (one per schema): writer and reader are the same schema here, as after `schemas register`.
 */
class MemoryTopics {
  readonly records = new Map<string, DryRunRecord[]>();
  private readonly bytes = new Map<string, (Buffer | null)[]>();
  private readonly ids = new Map<SchemaName, number>();
  private readonly resolvers = new Map<string, avro.Resolver>();

  constructor(private readonly pipeline: PipelineSpec) {}

  idOf(schema: SchemaName): number {
    const known = this.ids.get(schema);
    if (known !== undefined) return known;
    const id = this.ids.size + 1;
    this.ids.set(schema, id);
    return id;
  }

  codec(operator: AnyOperator): Codec {
    const input = operator.input as SchemaName;
    const decode = (bytes: Buffer) =>
      decodeWire<unknown>(bytes, input, this.idOf(input), readerType(input), this.resolvers);
    return {
      decodeCached: decode,
      decode: async (bytes) => decode(bytes),
      encode: (port, value) => {
        const schema = operator.outputs[port] as SchemaName;
        return encodeWire(this.idOf(schema), schema, value);
      },
    };
  }

  write(step: string, r: OutRecord): DryRunRecord {
    const list = this.records.get(r.topic) ?? [];
    const raw = this.bytes.get(r.topic) ?? [];
    this.records.set(r.topic, list);
    this.bytes.set(r.topic, raw);
    const schema = this.pipeline.topics[r.topic]?.schema as SchemaName | undefined;
    const value = r.message.value === null ? null : Buffer.from(r.message.value as Buffer);
    const rec: DryRunRecord = {
      topic: r.topic,
      offset: list.length,
      key: r.message.key === null || r.message.key === undefined ? '' : r.message.key.toString(),
      value: value === null || !schema ? null : readerType(schema).fromBuffer(value.subarray(5)),
      headers: headersToStrings(r.message.headers),
      step,
    };
    list.push(rec);
    raw.push(value);
    return rec;
  }

  /** The topic's records that are not tombstones, with their bytes. */
  inputs(topic: string): { record: DryRunRecord; value: Buffer }[] {
    const raw = this.bytes.get(topic) ?? [];
    return (this.records.get(topic) ?? []).flatMap((record, i) =>
      raw[i] ? [{ record, value: raw[i] as Buffer }] : [],
    );
  }
}

const NEVER = new AbortController().signal;

export async function dryRun(opts: DryRunOptions): Promise<DryRunResult> {
  const clock = opts.clock ?? { now: () => new Date() };
  const logger = opts.logger ?? silent;
  // An owning step (operator with `own`, a source's poller) has no jobs to run: it replicates the world outside,
  // which the dry run stands in for with its inputs. The job steps run from the first of them.
  const owning = (s: StepSpec) => opts.operators[s.operator]?.own !== undefined;
  const through = opts.through === undefined ? undefined : findStep(opts.pipeline, opts.through);
  if (through && owning(through)) {
    throw new ListflowError(
      'PIPELINE_INVALID',
      `Step ${through.id} polls the world outside the pipeline and cannot run in the dry run. Fix: pass --through one of ${opts.pipeline.steps
        .filter((s) => !owning(s))
        .map((s) => s.id)
        .join(', ')}.`,
    );
  }
  const steps = stepsThrough(opts.pipeline, opts.through).filter((s) => !owning(s));
  const first = steps[0];
  if (!first) throw new ListflowError('PIPELINE_INVALID', `pipeline ${opts.pipeline.name} has no steps`);

  let scratch: string | undefined;
  const scratchDir = async () => {
    scratch ??= opts.scratchDir ? resolve(opts.scratchDir) : await mkdtemp(join(tmpdir(), 'listflow-dry-run-'));
    return scratch;
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
    const derived = await operator.dryRun?.config?.({
      filesDir: resolve(opts.filesDir),
      scratchDir,
      retry: step.retry,
    });
    const config = parseOperatorConfig(operator, opts.env ?? {}, {
      over: [
        derived ?? {},
        opts.set?.[operator.name] ?? {},
        step.id !== operator.name ? (opts.set?.[step.id] ?? {}) : {},
      ],
      where: `${operator.name} config (dry run)`,
    });
    prepared.push({ step, operator, config });
  }

  const topics = new MemoryTopics(opts.pipeline);
  const firstSchema = prepared[0]!.operator.input as SchemaName;
  for (const input of opts.inputs) {
    topics.write('dry-run', {
      topic: first.input,
      message: { key: input.key, value: encodeWire(topics.idOf(firstSchema), firstSchema, input.value), headers: {} },
    });
  }

  const rejects: DryRunReject[] = [];
  const summary: DryRunStepSummary[] = [];
  const configs: Record<string, unknown> = {};
  let lastOutputs: DryRunRecord[] = [];

  for (const { step, operator, config } of prepared) {
    configs[step.id] = config;
    const standIn = opts.standIns?.[operator.name] ?? operator.dryRun?.services;
    const services = standIn
      ? standIn(config as AnyContext['config'])
      : await operator.services?.(config as AnyContext['config'], logger);
    const inputs = topics.inputs(step.input);
    const byOffset = new Map(inputs.map((i) => [String(i.record.offset), i.record]));
    const letters = new Map<string, DryRunReject[]>();
    const dlq = dlqTopic(step.input);
    const written: DryRunRecord[] = [];
    const outCounts: Record<string, number> = {};
    const deliver = (records: readonly OutRecord[]) => {
      for (const r of records) {
        if (r.topic === dlq) continue; // reported as rejects
        written.push(topics.write(step.id, r));
        outCounts[r.topic] = (outCounts[r.topic] ?? 0) + 1;
      }
    };
    const executor = new StepExecutor({
      step,
      operator,
      config,
      services,
      codec: topics.codec(operator),
      send: async (records) => deliver(records),
      dlq,
      clock,
      logger,
      // The step's attempts, without waiting between them.
      random: () => 0,
      hooks: {
        letter: (l) => {
          const list = letters.get(l.input.offset) ?? [];
          letters.set(l.input.offset, list);
          list.push(rejectOf(step, operator, l, byOffset.get(l.input.offset)));
        },
      },
    });
    const metaOf = (r: DryRunRecord): InputMeta => ({
      topic: r.topic,
      partition: 0,
      offset: String(r.offset),
      key: r.key,
      headers: r.headers,
      timestamp: String(clock.now().getTime()),
    });
    const messageOf = (r: DryRunRecord, value: Buffer) => ({
      key: Buffer.from(r.key),
      value,
      headers: { ...r.headers },
    });
    try {
      if (operator.processBatch) {
        const entries: BatchEntry[] = [];
        for (const { record, value } of inputs) {
          const d = await executor.decodeForBatch(metaOf(record), messageOf(record, value), NEVER);
          if (d.kind === 'item') entries.push(d.entry);
          else if (d.kind === 'letter') await d.ack;
        }
        await executor.runBatch(entries, NEVER, () => undefined);
      } else {
        // Up to the step's concurrency at once; each job's records are kept apart and written in input order.
        const perJob = await mapLimit(inputs, Math.min(step.concurrency, 16), async ({ record, value }) => {
          const out: OutRecord[] = [];
          const outcome = await executor.run(metaOf(record), messageOf(record, value), NEVER, async (rs) => {
            out.push(...rs);
          });
          if (!outcome.skipped) await outcome.ack;
          return out;
        });
        for (const out of perJob) deliver(out);
      }
    } finally {
      if (!standIn && services !== undefined) await operator.closeServices?.(services);
    }
    const stepRejects = inputs.flatMap((i) => letters.get(String(i.record.offset)) ?? []);
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
    topics: topics.records,
    configs,
    scratchDir: scratch,
  };
}

/** A dead letter as the dry run reports it. */
function rejectOf(step: StepSpec, operator: AnyOperator, l: LetterInfo, input: DryRunRecord | undefined): DryRunReject {
  const base = {
    step: step.id,
    operator: operator.name,
    code: l.code,
    kind: l.kind,
    message: l.message,
    attempts: l.attempts,
    input: { topic: step.input, offset: Number(l.input.offset), key: l.input.key ?? '' },
    detail: l.detail,
  };
  if (l.payload === undefined) return base;
  const payload =
    l.payload === null
      ? JSON.stringify(input?.value ?? null)
      : Buffer.isBuffer(l.payload)
        ? l.payload.toString('utf8')
        : l.payload;
  return { ...base, payload };
}
