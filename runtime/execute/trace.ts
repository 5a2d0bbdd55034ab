/**
 * The executor's side of tracing (runtime/trace/ holds the spans and the W3C context): what a job's outputs
 * carry so the job tracker, `dlq` and a collector can follow a record, and when a job's span ends. Apart from
 * runtime/execute/executor.ts so the execution policy there reads without the tracing around it.
 */
import { TRACE_HEADER } from '../dead-letters/build';
import type { InputMeta } from '../operator';
import { formatTraceparent, jobSpan, TRACEPARENT_HEADER, type TraceContext } from '../trace/context';
import type { JobSpan } from '../trace/spans';

/** Outcome of one message's job. `skipped`: not processed because the caller is stopping; never committed. */
export type JobOutcome = { readonly skipped: true } | { readonly skipped: false; readonly ack: Promise<void> };
export const SKIPPED: JobOutcome = { skipped: true };

/** Deterministic trace id for inputs that carry none: a replay gets the same id. */
export const traceIdFor = (m: InputMeta): string => `${m.topic}-${m.partition}-${m.offset}`;

/** Trace headers of one job's outputs. */
export type TraceHeaders = Readonly<Record<string, string>>;

/**
 * What a job's outputs carry: its input's Listflow trace id (what the job tracker and `dlq` follow), and a
 * W3C `traceparent` continuing the input's trace with the job's span as parent (runtime/trace/context.ts).
 */
export function outputTraceHeaders(meta: InputMeta, span: TraceContext = jobSpan(meta.headers)): TraceHeaders {
  return {
    [TRACE_HEADER]: meta.headers[TRACE_HEADER] ?? traceIdFor(meta),
    [TRACEPARENT_HEADER]: formatTraceparent(span),
  };
}

/** The outcome of a job whose outputs were handed to `send`; the produce phase lasts until they are acknowledged. */
export function producing(span: JobSpan, ack: Promise<void>): JobOutcome {
  if (span.recording) {
    const sentAt = Date.now();
    ack.then(
      () => span.phase('produce', sentAt, Date.now()),
      () => undefined,
    );
  }
  return { skipped: false, ack };
}

/** Ends a job's span with its outcome: when its outputs (or dead letter) were acknowledged, or at once if skipped. */
export function ending(span: JobSpan, outcome: JobOutcome, errorCode?: string): JobOutcome {
  if (!span.recording) return outcome;
  if (outcome.skipped) span.end();
  else
    outcome.ack.then(
      () => span.end(errorCode),
      () => span.end('SEND_FAILED'),
    );
  return outcome;
}
