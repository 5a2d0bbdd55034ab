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
   * Written from outside the pipeline (e.g. `listflow ingest` writes listings.ingest-jobs), so a step may read
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

/** Consumer group of a step. */
export const groupId = (pipeline: PipelineSpec, step: StepSpec): string => `listflow.${pipeline.name}.${step.id}`;

/**
 * Identity with type checking. The full check (operators, ports, schemas, topology, ranges) needs the operator
 * registry, so it runs where a pipeline is used: `assertValidPipeline` in runtime/pipeline-validation.ts.
 */
export function definePipeline(spec: PipelineSpec): PipelineSpec {
  return spec;
}
