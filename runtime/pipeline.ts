/**
 * Pipeline definitions: topology only. Topics, which operator step reads and writes what, and each
 * step's concurrency, retry and dead-letter policy. Topic provisioning (`listflow topics apply`),
 * local runs and Kubernetes manifests are all derived from this one definition.
 */
import type { SchemaName } from '../schemas/generated/types';

export interface TopicSpec {
  /** Partitions bound the parallelism: replicas of a reading step never exceed them. */
  readonly partitions: number;
  /** Schema of the values (subject `<topic>-value`). */
  readonly schema: SchemaName;
  /** Compacted topics keep the latest value per key (cleanup.policy=compact). */
  readonly compact?: boolean;
  /** retention.ms; omitted means the broker default. Ignored for compacted topics. */
  readonly retentionMs?: number;
  /**
   * Written from outside the pipeline (e.g. a CLI command submits jobs to it), so a step may read
   * it although no step writes it. Validation refuses any other topic that is read but never written.
   */
  readonly external?: boolean;
}

export interface RetryPolicy {
  /** Total attempts including the first; then the message is dead-lettered. */
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

export interface StepSpec {
  /** Stable id: consumer group `listflow.<pipeline>.<id>`, k8s Deployment name, metrics label. */
  readonly id: string;
  /** Operator name from operators/index.ts. */
  readonly operator: string;
  readonly input: string;
  /** Operator output port -> topic. */
  readonly outputs: Readonly<Record<string, string>>;
  /** Jobs in flight per partition (p-limit). Same-key jobs never overlap. */
  readonly concurrency: number;
  /**
   * Worker threads that run the operator's `process`, off the event loop that does the Kafka work; 0 or
   * omitted runs it on the event loop. Only for operators that declare `cpuBound`. Each replica has its own.
   */
  readonly threads?: number;
  /** Per-job deadline. */
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  /** Desired worker processes (consumer-group members); at most the input topic's partitions. */
  readonly replicas: number;
  /** Kubernetes sizing hint for this step's pods. */
  readonly resources?: {
    readonly cpu: string;
    readonly memory: string;
    readonly cpuLimit?: string;
    readonly memoryLimit?: string;
  };
}

export interface PipelineSpec {
  readonly name: string;
  readonly topics: Readonly<Record<string, TopicSpec>>;
  readonly steps: readonly StepSpec[];
}

/** Dead-letter topic of a step: `<input-topic>.dlq`, created with the input's partition count. */
export const dlqTopic = (inputTopic: string): string => `${inputTopic}.dlq`;

/**
 * Where `listflow replay` records every offset reset of the pipeline's steps (compacted, one partition, key =
 * replay id, so each entry is kept); `topics apply` creates it and `listflow status` shows it.
 */
export const replayLedgerTopic = (pipeline: Pick<PipelineSpec, 'name'>): string =>
  `listflow.${pipeline.name}.replay-ledger`;

/** pipeline: declared in pipelines/*.ts; dlq: a step's dead letters; ledger: replay's record of offset resets. */
export type TopicRole = 'pipeline' | 'dlq' | 'ledger';

/** A topic the pipeline needs on the broker, with the settings it owns there. */
export interface TopicSettings {
  readonly topic: string;
  readonly role: TopicRole;
  readonly partitions: number;
  /** cleanup.policy=compact, else delete. */
  readonly compact: boolean;
  /** retention.ms; undefined means the broker default (always for compacted topics). */
  readonly retentionMs: number | undefined;
}

/**
 * Every topic the pipeline needs, once each: its declared topics, each step's dead-letter topic (the input's
 * partitions, delete policy: dead letters may have null keys, which a compacted topic refuses, and must never
 * collapse into one per key) and the replay ledger (compacted with one key per reset, so every entry is kept,
 * in the order of the resets). `topics apply`, `run --create-topics`, `dlq`, `status` and the manifests use it.
 */
export function topicsOf(pipeline: PipelineSpec): TopicSettings[] {
  const out = new Map<string, TopicSettings>();
  for (const [topic, t] of Object.entries(pipeline.topics)) {
    const compact = t.compact === true;
    const retentionMs = compact ? undefined : t.retentionMs;
    out.set(topic, { topic, role: 'pipeline', partitions: t.partitions, compact, retentionMs });
  }
  for (const step of pipeline.steps) {
    const topic = dlqTopic(step.input);
    if (out.has(topic)) continue;
    const partitions = pipeline.topics[step.input]?.partitions ?? 1;
    out.set(topic, { topic, role: 'dlq', partitions, compact: false, retentionMs: undefined });
  }
  const ledger = replayLedgerTopic(pipeline);
  out.set(ledger, { topic: ledger, role: 'ledger', partitions: 1, compact: true, retentionMs: undefined });
  return [...out.values()];
}

/** The dead-letter topics of a pipeline, one per distinct step input. */
export const dlqTopicsOf = (pipeline: PipelineSpec): string[] =>
  topicsOf(pipeline)
    .filter((t) => t.role === 'dlq')
    .map((t) => t.topic);

/** A step with the names derived from it. */
export interface Stage {
  readonly step: StepSpec;
  readonly input: string;
  /** Output topics, in port order. */
  readonly outputs: readonly string[];
  readonly dlq: string;
  readonly group: string;
}

/**
 * The steps in data-flow order: a step comes after every step that writes its input, so steps reading topics
 * written from outside come first; steps with no order between them keep the pipeline's order. A cycle (which
 * validation refuses) leaves its steps in declaration order at the end.
 */
export function stages(pipeline: PipelineSpec): Stage[] {
  const writers = new Map<string, StepSpec[]>();
  for (const s of pipeline.steps) {
    for (const t of Object.values(s.outputs)) writers.set(t, [...(writers.get(t) ?? []), s]);
  }
  const placed = new Set<StepSpec>();
  const order: StepSpec[] = [];
  for (let progressed = true; progressed; ) {
    progressed = false;
    for (const s of pipeline.steps) {
      if (placed.has(s)) continue;
      if ((writers.get(s.input) ?? []).every((w) => w === s || placed.has(w))) {
        placed.add(s);
        order.push(s);
        progressed = true;
      }
    }
  }
  for (const s of pipeline.steps) if (!placed.has(s)) order.push(s);
  return order.map((step) => ({
    step,
    input: step.input,
    outputs: Object.values(step.outputs),
    dlq: dlqTopic(step.input),
    group: groupId(pipeline, step),
  }));
}

/** Consumer group of a step. */
export const groupId = (pipeline: PipelineSpec, step: StepSpec): string => `listflow.${pipeline.name}.${step.id}`;

/**
 * Identity with type checking. The full check (operators, ports, schemas, topology, ranges) needs the operator
 * registry, so it runs where a pipeline is used: `assertValidPipeline` in runtime/pipeline-validation.ts.
 */
export function definePipeline(spec: PipelineSpec): PipelineSpec {
  return spec;
}
