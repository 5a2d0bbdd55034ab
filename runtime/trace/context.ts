/**
 * W3C trace context (https://www.w3.org/TR/trace-context/) in Kafka headers: the one place that parses and
 * formats `traceparent`. A job's outputs carry the trace id of its input and the job's own span id as parent,
 * so one record can be followed from the first step to the last, and a dead letter keeps the input's header.
 * The Listflow trace id (`listflow.trace-id`, what the job tracker and `dlq` show) stays beside it.
 */
import { randomFillSync } from 'node:crypto';

export const TRACEPARENT_HEADER = 'traceparent';

export interface TraceContext {
  /** 32 lowercase hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lowercase hex digits, not all zero: the span that produced the record. */
  readonly spanId: string;
  /** Trace flags, 2 hex digits (01: sampled). */
  readonly flags: string;
}

// Lowercase hex, fixed lengths. Version 00 ends after the flags; a higher version may append fields.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** The context in a `traceparent` value; undefined when the value is invalid (a new trace starts then). */
export function parseTraceparent(value: string | undefined): TraceContext | undefined {
  const m = value === undefined ? null : TRACEPARENT.exec(value.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string?];
  // The spec: version ff is invalid; version 00 has nothing after the flags; a higher version is read as 00.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, flags };
}

export const formatTraceparent = (c: TraceContext): string => `00-${c.traceId}-${c.spanId}-${c.flags}`;

export const newSpanId = (): string => nonZeroHex(8);

/** A new trace (sampled), for a submission or a record from an older producer without `traceparent`. */
export function newTrace(traceId?: string): TraceContext {
  const id =
    traceId !== undefined && /^[0-9a-f]{32}$/.test(traceId) && traceId !== ZERO_TRACE ? traceId : nonZeroHex(16);
  return { traceId: id, spanId: newSpanId(), flags: '01' };
}

/** The trace id for a UUID (a submitted job's id): its 32 hex digits, so the job id is derivable from the trace. */
export const traceIdOfUuid = (uuid: string): string => uuid.replace(/-/g, '').toLowerCase();

/**
 * A job's span: the input's trace continued (a new trace for input without a valid `traceparent`), with a new
 * span id, and `parentSpanId` the producer's span. Outputs carry `formatTraceparent(job)`.
 */
export function jobSpan(inputHeaders: Readonly<Record<string, string>>): TraceContext & { parentSpanId?: string } {
  const parent = parseTraceparent(inputHeaders[TRACEPARENT_HEADER]);
  if (!parent) return newTrace();
  return { traceId: parent.traceId, spanId: newSpanId(), flags: parent.flags, parentSpanId: parent.spanId };
}

/**
 * Random ids come from a pool filled POOL_BYTES at a time: every job takes a span id (and a trace id when its
 * input has none), and one `randomBytes` call per id was 8% of the runtime's pass-through CPU (a CPU profile of
 * bench:runtime, 2026-12-02). Same source (the CSPRNG), one system call per 4,096 ids instead of one per id.
 */
const POOL_BYTES = 64 * 1024;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let poolAt = POOL_BYTES;

function nonZeroHex(bytes: number): string {
  for (;;) {
    if (poolAt + bytes > POOL_BYTES) {
      randomFillSync(pool);
      poolAt = 0;
    }
    const hex = pool.toString('hex', poolAt, poolAt + bytes);
    poolAt += bytes;
    if (hex !== (bytes === 8 ? ZERO_SPAN : ZERO_TRACE)) return hex;
  }
}
