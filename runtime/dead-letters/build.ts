/**
 * Dead letters: the original key and value bytes, the original headers, and headers saying what failed,
 * where and how often. Written to `<input-topic>.dlq` through the same producer as outputs, and the input
 * offset is committed only after Kafka acknowledged the dead letter.
 */
import type { ClassifiedError } from '../errors';
import type { MessageHeaders } from '../kafka-client';
import type { OutRecord } from '../producer';

export const DLQ_HEADER = {
  code: 'listflow.error.code',
  kind: 'listflow.error.kind',
  message: 'listflow.error.message',
  stack: 'listflow.error.stack',
  operator: 'listflow.operator',
  step: 'listflow.step',
  topic: 'listflow.source.topic',
  partition: 'listflow.source.partition',
  offset: 'listflow.source.offset',
  attempts: 'listflow.attempts',
  firstFailure: 'listflow.failure.first',
  lastFailure: 'listflow.failure.last',
  detailPrefix: 'listflow.detail.',
} as const;

export const TRACE_HEADER = 'listflow.trace-id';

export interface FailedInput {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | string | null;
  readonly value: Buffer | string | null;
  readonly headers: MessageHeaders | undefined;
}

export interface FailureInfo {
  readonly step: string;
  readonly operator: string;
  readonly error: Pick<ClassifiedError, 'code' | 'kind' | 'message'> & { readonly stack?: string | undefined };
  readonly attempts: number;
  readonly firstFailure: Date;
  readonly lastFailure: Date;
  readonly detail?: Readonly<Record<string, string>>;
}

const MAX_HEADER = 8 * 1024;
const clip = (s: string): string => (s.length > MAX_HEADER ? `${s.slice(0, MAX_HEADER - 3)}...` : s);

export function deadLetter(dlqTopic: string, input: FailedInput, failure: FailureInfo): OutRecord {
  const headers: MessageHeaders = { ...(input.headers ?? {}) };
  headers[DLQ_HEADER.code] = failure.error.code;
  headers[DLQ_HEADER.kind] = failure.error.kind;
  headers[DLQ_HEADER.message] = clip(failure.error.message);
  headers[DLQ_HEADER.stack] = clip(failure.error.stack ?? '');
  headers[DLQ_HEADER.operator] = failure.operator;
  headers[DLQ_HEADER.step] = failure.step;
  headers[DLQ_HEADER.topic] = input.topic;
  headers[DLQ_HEADER.partition] = String(input.partition);
  headers[DLQ_HEADER.offset] = input.offset;
  headers[DLQ_HEADER.attempts] = String(failure.attempts);
  headers[DLQ_HEADER.firstFailure] = failure.firstFailure.toISOString();
  headers[DLQ_HEADER.lastFailure] = failure.lastFailure.toISOString();
  for (const [k, v] of Object.entries(failure.detail ?? {})) headers[DLQ_HEADER.detailPrefix + k] = clip(v);
  return { topic: dlqTopic, message: { key: input.key, value: input.value, headers } };
}

/** Kafka header values arrive as Buffers (or arrays of them); this flattens them to strings. */
export function headersToStrings(headers: MessageHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    if (last !== undefined) out[k] = Buffer.isBuffer(last) ? last.toString('utf8') : String(last);
  }
  return out;
}
