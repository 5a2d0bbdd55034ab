/**
 * The one builder of the `ctx` an operator's `process` / `processBatch` gets, wherever it runs: a worker's
 * event loop, an operator thread, the dry run, and `plainContext` in tests. Plain fields, with the deadline's
 * signal and the per-input child logger made on first use (most jobs never look at either).
 */
import type { AnyContext, Clock, InputMeta, Logger } from '../operator';
import { NO_SPAN, type OperatorSpan } from '../trace/spans';

/** Something with an AbortSignal made on demand (a JobDeadline), or a signal as is. */
export interface SignalSource {
  readonly signal: AbortSignal;
}

export interface ContextParts {
  readonly config: unknown;
  readonly services: unknown;
  readonly clock: Clock;
  /** The step's logger; `ctx.logger` is its child bound to the input's topic, partition, offset and key. */
  readonly logger: Logger;
  readonly attempt: number;
  readonly input: InputMeta;
  readonly deadline: SignalSource;
  /** The job's span; none (NO_SPAN) where nothing is exported (operator threads, the dry run, tests). */
  readonly span?: OperatorSpan;
}

class JobContext implements AnyContext {
  private childLogger: Logger | null = null;
  readonly config: unknown;
  readonly services: unknown;
  readonly clock: Clock;
  readonly attempt: number;
  readonly input: InputMeta;
  readonly span: OperatorSpan;
  private readonly deadline: SignalSource;
  private readonly baseLogger: Logger;
  constructor(parts: ContextParts) {
    this.config = parts.config;
    this.services = parts.services;
    this.clock = parts.clock;
    this.attempt = parts.attempt;
    this.input = parts.input;
    this.span = parts.span ?? NO_SPAN;
    this.deadline = parts.deadline;
    this.baseLogger = parts.logger;
  }
  get signal(): AbortSignal {
    return this.deadline.signal;
  }
  get logger(): Logger {
    this.childLogger ??= this.baseLogger.child(logMeta(this.input));
    return this.childLogger;
  }
}

export function operatorContext(parts: ContextParts): AnyContext {
  return new JobContext(parts);
}

/** Where an input came from, as log fields. */
export const logMeta = (m: InputMeta) => ({ topic: m.topic, partition: m.partition, offset: m.offset, key: m.key });
