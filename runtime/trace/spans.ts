/**
 * The span seam between the executor and OpenTelemetry. Without `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) nothing of the SDK is loaded: a job's span is its trace context
 * (runtime/trace/context.ts) and `recording` is false, so the executor takes no timings. With one, the SDK
 * (runtime/trace/otel.ts, required lazily) exports one span per job with finished children per phase.
 */
import { type TraceContext, jobSpan } from './context';

export type SpanPhase = 'decode' | 'process' | 'produce' | 'photo-fetch';

/** Attributes of a child span (OpenTelemetry's primitive values). */
export type SpanAttributes = Readonly<Record<string, string | number | boolean>>;

/** What a span knows of its input record. */
export interface SpanInput {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface JobSpan {
  /** The job's own context: its outputs' `traceparent` names it as their parent. */
  readonly context: TraceContext;
  /** False when nothing is exported: callers skip their timings. */
  readonly recording: boolean;
  /** A finished child span, start and end in epoch milliseconds; `errorCode` marks it failed. */
  phase(name: SpanPhase, startMs: number, endMs: number, attributes?: SpanAttributes, errorCode?: string): void;
  /** Ends the job's span; `errorCode` marks it failed (a dead letter). */
  end(errorCode?: string): void;
}

export interface JobTracer {
  /** A span for one job of `input`, continuing the trace of its `traceparent`; `startMs` defaults to now. */
  startJob(input: SpanInput, startMs?: number): JobSpan;
  /** Exports what is pending and stops (the worker's shutdown). */
  shutdown(): Promise<void>;
}

/**
 * What an operator sees of its job's span (`ctx.span`): whether it records, and finished children for its own
 * phases (a photo fetch). An operator times a phase only when `recording` is true.
 */
export type OperatorSpan = Pick<JobSpan, 'recording' | 'phase'>;

/** The span of a ctx that records nothing: operator threads, the dry run, tests. */
export const NO_SPAN: OperatorSpan = { recording: false, phase: () => undefined };

class ContextOnlySpan implements JobSpan {
  readonly recording = false;
  constructor(readonly context: TraceContext) {}
  phase(): void {}
  end(): void {}
}

/** Propagation only: no SDK, no timings. */
export const CONTEXT_ONLY: JobTracer = {
  startJob: (input) => new ContextOnlySpan(jobSpan(input.headers)),
  shutdown: async () => undefined,
};

/** Whether the environment asks for exported spans (the SDK's standard variables). */
export function exportsSpans(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.toLowerCase() === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

/** The tracer of a worker for `step`: the SDK's when spans are exported, else propagation only. */
export function jobTracer(step: string, env: NodeJS.ProcessEnv = process.env): JobTracer {
  if (!exportsSpans(env)) return CONTEXT_ONLY;
  // Required here, not imported: a worker without an endpoint never loads the SDK.
  const { otelJobTracer } = require('./otel') as typeof import('./otel');
  return otelJobTracer(step, env);
}
