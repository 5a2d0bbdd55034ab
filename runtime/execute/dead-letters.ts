/**
 * The executor's dead letters: one input that failed for good (its original bytes and headers, plus what
 * failed, where and how often), or a part of it the operator rejected (`emit.reject`). The header layout is
 * runtime/dead-letter.ts's; this says what goes in it.
 */
import { deadLetter, type FailedInput } from '../dead-letters/build';
import { type ClassifiedError, type ErrorKind, errorCatalogue, ListflowError } from '../errors';
import type { MessageHeaders } from '../kafka-client';
import type { InputMeta, RejectEmit } from '../operator';
import type { OutRecord } from '../producer';

/** The raw message a job was made from: what a dead letter carries back. The seam's ConsumedMessage fits. */
export interface RawInput {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: MessageHeaders;
}

/** What a dead letter says, for whoever watches them (the dry run reports these as its rejects). */
export interface LetterInfo {
  readonly input: InputMeta;
  readonly code: string;
  readonly kind: ErrorKind;
  readonly message: string;
  readonly attempts: number;
  readonly detail: Readonly<Record<string, string>>;
  /** For `emit.reject`: the rejected payload (null: the input itself); undefined for a failed input. */
  readonly payload?: string | Buffer | null;
}

export const failedInput = (meta: InputMeta, message: RawInput): FailedInput => ({
  topic: meta.topic,
  partition: meta.partition,
  offset: meta.offset,
  key: message.key,
  value: message.value,
  headers: message.headers,
});

export interface Where {
  readonly dlq: string;
  readonly step: string;
  readonly operator: string;
}

/** How an input failed for good: the last error, after how many attempts, when it first and last failed. */
export interface Failure {
  readonly c: ClassifiedError;
  readonly attempts: number;
  readonly firstFailure: Date;
  readonly lastFailure: Date;
}

/** A failed input's letter. */
export function failureLetter(
  where: Where,
  meta: InputMeta,
  message: RawInput,
  failure: Failure,
): { record: OutRecord; info: LetterInfo } {
  const { c, attempts, firstFailure, lastFailure } = failure;
  const detail = c.error instanceof ListflowError ? c.error.detail : {};
  const record = deadLetter(where.dlq, failedInput(meta, message), {
    step: where.step,
    operator: where.operator,
    error: { ...c, stack: c.error.stack },
    detail: c.error instanceof ListflowError ? c.error.detail : undefined,
    attempts,
    firstFailure,
    lastFailure,
  });
  return { record, info: { input: meta, code: c.code, kind: c.kind, message: c.message, attempts, detail } };
}

/** A rejected part's letter: `payload`, or the input's own bytes when it is null. */
export function rejectLetter(
  where: Where,
  meta: InputMeta,
  message: RawInput,
  e: RejectEmit,
  now: Date,
): { record: OutRecord; info: LetterInfo } {
  const c = { code: e.code, kind: 'permanent' as const, message: e.message };
  const value = e.payload === null ? message.value : Buffer.isBuffer(e.payload) ? e.payload : Buffer.from(e.payload);
  const record = deadLetter(
    where.dlq,
    { ...failedInput(meta, message), value },
    {
      step: where.step,
      operator: where.operator,
      error: c,
      attempts: 1,
      firstFailure: now,
      lastFailure: now,
      detail: e.detail,
    },
  );
  // A code outside the catalogue is the operator's bug (the letter still says `permanent`, as it always has).
  const kind: ErrorKind = Object.hasOwn(errorCatalogue, e.code) ? 'permanent' : 'bug';
  return {
    record,
    info: { input: meta, code: e.code, kind, message: e.message, attempts: 1, detail: e.detail, payload: e.payload },
  };
}
