/**
 * Operator threads: a CPU-bound operator's work run on worker threads instead of the worker's event loop.
 *
 * Why: the event loop does all of the worker's Kafka work (fetching, producing, committing, heartbeats). An
 * operator that spends real CPU per record (parsing and cleaning each payload, say) competes with it for
 * that one thread while the machine's other cores sit partly idle. With `threads: N` on a pipeline step, each
 * job's input bytes go to one of N threads, which decode them, run `process` and encode its outputs; the
 * event loop gets wire-format bytes back and produces them. Everything else (fetching, ordering, retries,
 * dead letters, commits) stays on the event loop, so the guarantees are the same: a job is done only when its
 * outputs are acknowledged, whatever thread computed them.
 *
 * Only operators that declare `cpuBound: true` may run here: their `process` needs no services (services are
 * per process and cannot cross threads) and returns a list, not a stream. Jobs travel in batches, their bytes
 * in one transferred buffer each way, because a message per record costs about as much as the work it moves.
 * Deadlines and aborts are checked by one timer for all jobs, not a timer per job.
 */
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Worker as Thread } from 'node:worker_threads';
import type { SchemaName } from '../schemas/generated/types';
import { isErrorCode, ListflowError, PermanentError, RetriableError } from './errors';
import { deadlineError } from './execute/deadline';
import type { InputMeta, Logger, RejectEmit } from './operator';
import type { WriterSchema } from './serde';

/** What a thread is started with (its workerData). */
export interface ThreadSetup {
  readonly operator: string;
  /** The operator registry's module (built JavaScript), whose `operators` export holds the operator by name. */
  readonly registry: string;
  readonly step: string;
  readonly config: unknown;
  readonly logLevel: string;
  readonly index: number;
  /** Output port -> its schema and registry id: the thread encodes outputs in the Confluent wire format. */
  readonly outputs: Readonly<Record<string, { readonly schema: SchemaName; readonly schemaId: number }>>;
}

/** One job as posted: its input value is the range [start, end) of the batch's bytes. */
export interface ThreadJob {
  readonly id: number;
  readonly start: number;
  readonly end: number;
  readonly schemaId: number;
  readonly input: InputMeta;
  readonly attempt: number;
  /** Epoch ms; the thread's `ctx.signal` aborts then. */
  readonly deadlineAt: number;
}

export interface ThreadBatch {
  readonly jobs: ThreadJob[];
  /** The jobs' input values, back to back (transferred, not copied). */
  readonly bytes: ArrayBuffer;
  /** Writer schemas this thread has not been sent yet: [id, text]. */
  readonly schemas: [number, string][];
}

/**
 * An output as the thread sends it back: already encoded (wire format), as a range of the batch result's
 * bytes, so the event loop neither deserializes the value nor encodes it.
 */
export interface ThreadOutput {
  readonly kind: 'encoded';
  readonly port: string;
  readonly key: string;
  /** [start, end) in ThreadBatchResult.bytes; -1, -1 for a tombstone. */
  readonly start: number;
  readonly end: number;
  readonly headers?: Readonly<Record<string, string>>;
}

export type ThreadResult =
  | { readonly id: number; readonly ok: true; readonly emits: (ThreadOutput | RejectEmit)[] }
  | { readonly id: number; readonly ok: false; readonly error: SerializedError };

export interface ThreadBatchResult {
  readonly results: ThreadResult[];
  /** Every encoded output of the batch, back to back (transferred). */
  readonly bytes: ArrayBuffer;
}

/** An output the runtime produces as is: `value` is wire-format bytes (or null, a tombstone). */
export interface EncodedEmit {
  readonly kind: 'encoded';
  readonly port: string;
  readonly key: string;
  readonly value: Buffer | null;
  readonly headers?: Readonly<Record<string, string>>;
}

export type ThreadEmit = EncodedEmit | RejectEmit;

/** Copies byte ranges into one ArrayBuffer of its own (never a slice of Node's shared pool: it is transferred). */
export function packBytes(parts: readonly Uint8Array[]): { bytes: ArrayBuffer; ranges: [number, number][] } {
  let size = 0;
  for (const p of parts) size += p.length;
  const all = new Uint8Array(size);
  const ranges: [number, number][] = [];
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    ranges.push([at, at + p.length]);
    at += p.length;
  }
  return { bytes: all.buffer, ranges };
}

/**
 * A thrown value, as plain data. Structured cloning keeps an Error's name, message and stack but drops the
 * fields the runtime classifies by (code, detail) and the class, so they travel explicitly.
 */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string | undefined;
  readonly code?: string;
  readonly detail?: Readonly<Record<string, string>>;
  readonly errorClass?: 'PermanentError' | 'RetriableError' | 'ListflowError';
}

export function serializeThrown(e: unknown): SerializedError {
  if (!(e instanceof Error)) return { name: 'Error', message: `non-Error thrown: ${String(e)}` };
  const base = { name: e.name, message: e.message, stack: e.stack };
  if (!(e instanceof ListflowError)) return base;
  const errorClass =
    e instanceof PermanentError ? 'PermanentError' : e instanceof RetriableError ? 'RetriableError' : 'ListflowError';
  return { ...base, code: e.code, detail: e.detail, errorClass };
}

const BUG_TYPES: Record<string, ErrorConstructor> = { TypeError, ReferenceError, RangeError, SyntaxError };

/** The error as the runtime would have seen it on the event loop: same class family, code, detail and stack. */
export function deserializeThrown(s: SerializedError): Error {
  let e: Error;
  if (s.code !== undefined && isErrorCode(s.code)) {
    const Cls =
      s.errorClass === 'PermanentError'
        ? PermanentError
        : s.errorClass === 'RetriableError'
          ? RetriableError
          : ListflowError;
    e = new Cls(s.code, s.message, s.detail ? { detail: { ...s.detail } } : {});
  } else {
    const Bug = BUG_TYPES[s.name];
    e = Bug ? new Bug(s.message) : new Error(s.message);
  }
  // AbortError / TimeoutError (the thread's deadline) are recognised by name; subclasses keep theirs.
  e.name = s.name;
  e.stack = s.stack ?? `${s.name}: ${s.message}`;
  return e;
}

/** The compiled thread entry. Under ts-jest-like transforms this file is .ts; the thread needs the built .js. */
function threadEntry(): string {
  const here = join(__dirname, 'operator-thread.js');
  if (existsSync(here)) return here;
  const built = join(__dirname, '..', 'dist', 'runtime', 'operator-thread.js');
  if (existsSync(built)) return built;
  throw new Error(`operator threads need the built runtime (${here} or ${built}). Fix: run \`npm run build\`.`);
}

interface Pending {
  readonly deadlineAt: number;
  readonly abort: AbortSignal;
  readonly resolve: (emits: ThreadEmit[]) => void;
  readonly reject: (e: unknown) => void;
}

interface Queued {
  readonly job: Omit<ThreadJob, 'start' | 'end'>;
  readonly value: Buffer;
}

/** The message that asks a thread to finish. */
export const CLOSE = 'close';
/** How long a thread asked to finish may take before it is terminated. */
const CLOSE_GRACE_MS = 2000;
/** How often deadlines and aborts of jobs on threads are checked. */
const CHECK_EVERY_MS = 100;
/** How long past a job's deadline its thread may stay busy with it before it is replaced. */
const STUCK_AFTER_DEADLINE_MS = 1000;
/**
 * Jobs posted to a thread at once, at most; the rest wait for the next post. Small enough that the thread
 * starts on the first jobs of a fetch while the event loop is still handing out the rest (measured: 16 beat
 * one post per turn of the event loop by a third), large enough to amortize a post.
 */
const POST_AT = 16;

/** One thread, the jobs waiting to be posted to it and the jobs it has. */
class Lane {
  readonly thread: Thread;
  queued: Queued[] = [];
  readonly pending = new Map<number, Pending>();
  /** Jobs posted and not answered yet (timed out ones too), oldest first: what the thread is busy with. */
  readonly posted = new Map<number, number>();
  /** Writer schema ids already sent to this thread. */
  readonly schemasSent = new Set<number>();
  newSchemas: [number, string][] = [];
  exited = false;
  constructor(setup: ThreadSetup, onExit: (lane: Lane, e: Error) => void) {
    this.thread = new Thread(threadEntry(), { workerData: setup });
    this.thread.on('message', (m: ThreadBatchResult) => this.settle(m));
    this.thread.on('error', (e) => onExit(this, e));
    this.thread.on('exit', (code) => onExit(this, new Error(`operator thread exited with code ${code}`)));
  }

  get load(): number {
    return this.pending.size;
  }

  private settle({ results, bytes }: ThreadBatchResult): void {
    for (const r of results) {
      this.posted.delete(r.id);
      const p = this.pending.get(r.id);
      if (!p) continue; // timed out or aborted already
      this.pending.delete(r.id);
      if (!r.ok) {
        p.reject(deserializeThrown(r.error));
        continue;
      }
      p.resolve(
        r.emits.map((e): ThreadEmit => {
          if (e.kind === 'reject') return e;
          const value = e.start < 0 ? null : Buffer.from(bytes, e.start, e.end - e.start);
          const { port, key, headers } = e;
          return headers ? { kind: 'encoded', port, key, value, headers } : { kind: 'encoded', port, key, value };
        }),
      );
    }
  }

  post(): void {
    if (this.queued.length === 0 || this.exited) return;
    const queued = this.queued;
    this.queued = [];
    const { bytes, ranges } = packBytes(queued.map((q) => q.value));
    const jobs = queued.map((q, i): ThreadJob => ({ ...q.job, start: ranges[i]![0], end: ranges[i]![1] }));
    for (const j of jobs) this.posted.set(j.id, j.deadlineAt);
    const batch: ThreadBatch = { jobs, bytes, schemas: this.newSchemas };
    this.newSchemas = [];
    this.thread.postMessage(batch, [bytes]);
  }
}

export interface OperatorThreadsOptions {
  /** The operator's name in the registry. */
  readonly operator: string;
  /**
   * The module of the operator registry the operator comes from (`defineRegistry` in runtime/operator.ts
   * records it; see registryModuleOf): a thread loads that registry and takes the operator by name.
   */
  readonly registry: string;
  readonly step: string;
  readonly config: unknown;
  readonly threads: number;
  readonly logLevel: string;
  readonly logger: Logger;
  readonly outputs: ThreadSetup['outputs'];
}

export class OperatorThreads {
  private readonly lanes: Lane[] = [];
  private nextId = 1;
  private postScheduled = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly opts: OperatorThreadsOptions) {
    for (let i = 0; i < opts.threads; i++) this.lanes.push(this.start(i));
    this.timer = setInterval(() => this.check(), CHECK_EVERY_MS).unref();
  }

  private start(index: number): Lane {
    const { operator, step, config, logLevel, outputs } = this.opts;
    const registry = builtModule(this.opts.registry);
    return new Lane({ operator, registry, step, config, logLevel, index, outputs }, (lane, e) =>
      this.onExit(lane, index, e),
    );
  }

  /**
   * Jobs past their deadline fail with a TimeoutError (JOB_TIMEOUT, retried), and aborted ones (shutdown past
   * its grace period, a rebalance past its drain time) with their abort reason. A thread stuck in one job (an
   * endless loop) cannot be interrupted, so it is replaced, and the jobs behind it are retried on the new one.
   */
  private check(): void {
    const now = Date.now();
    for (const lane of this.lanes) {
      for (const [id, p] of lane.pending) {
        if (p.abort.aborted) {
          lane.pending.delete(id);
          p.reject(p.abort.reason);
        } else if (now > p.deadlineAt) {
          lane.pending.delete(id);
          p.reject(timeoutError(p.deadlineAt));
        }
      }
      // The thread answers in posting order, so the oldest unanswered job is the one it is on.
      const oldest = lane.posted.values().next().value;
      if (oldest !== undefined && now > oldest + STUCK_AFTER_DEADLINE_MS && !lane.exited) void lane.thread.terminate();
    }
  }

  /**
   * A thread died (an uncaught error in the operator's module, out of memory, or replaced as stuck). Its jobs
   * fail with a retriable error, so the runtime retries them, on a fresh thread, within their bounded attempts.
   */
  private onExit(lane: Lane, index: number, e: Error): void {
    if (lane.exited) return;
    lane.exited = true;
    const jobs = lane.pending.size; // posted and still queued alike
    for (const p of lane.pending.values()) p.reject(e);
    lane.pending.clear();
    lane.queued = [];
    if (this.closed) return;
    this.opts.logger.error({ err: e, thread: index, jobs }, 'operator thread died; restarting it');
    this.lanes[index] = this.start(index);
  }

  /**
   * Runs one job on the least-loaded thread: decode `value` (wire format, written with `writer`), `process`,
   * encode the outputs. Resolves with the emits, outputs encoded; rejects with what the thread threw (a
   * SERDE_* error for undecodable input or an output that does not fit its schema), a TimeoutError past
   * `deadlineAt`, or `abort`'s reason.
   */
  process(
    value: Buffer,
    writer: WriterSchema,
    input: InputMeta,
    attempt: number,
    deadlineAt: number,
    abort: AbortSignal,
  ): Promise<ThreadEmit[]> {
    if (this.closed) return Promise.reject(new Error('operator threads are closed'));
    if (abort.aborted) return Promise.reject(abort.reason);
    if (Date.now() > deadlineAt) return Promise.reject(timeoutError(deadlineAt));
    let lane = this.lanes[0]!;
    for (const l of this.lanes) if (l.load < lane.load) lane = l;
    if (!lane.schemasSent.has(writer.id)) {
      lane.schemasSent.add(writer.id);
      lane.newSchemas.push([writer.id, writer.text]);
    }
    const id = this.nextId++;
    const target = lane;
    const promise = new Promise<ThreadEmit[]>((resolve, reject) =>
      target.pending.set(id, { deadlineAt, abort, resolve, reject }),
    );
    lane.queued.push({ job: { id, schemaId: writer.id, input, attempt, deadlineAt }, value });
    if (lane.queued.length >= POST_AT) lane.post();
    else this.schedulePost();
    return promise;
  }

  private schedulePost(): void {
    if (this.postScheduled) return;
    this.postScheduled = true;
    // After the messages handed out in this turn of the event loop: one post per thread for the rest of them.
    setImmediate(() => {
      this.postScheduled = false;
      for (const lane of this.lanes) lane.post();
    });
  }

  /**
   * Stops every thread; jobs still on them fail (the worker has already stopped starting jobs). A thread is
   * asked to finish (it closes its port and its event loop runs out), and terminated only if it has not within
   * CLOSE_GRACE_MS: terminate() interrupts whatever the thread is doing, which is the riskier way to go.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await Promise.all(
      this.lanes.map(async (lane) => {
        if (lane.exited) return;
        const exited = new Promise<void>((r) => lane.thread.once('exit', () => r()));
        lane.thread.postMessage(CLOSE);
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((r) => {
          timer = setTimeout(() => r('late'), CLOSE_GRACE_MS);
        });
        if ((await Promise.race([exited, late])) === 'late') await lane.thread.terminate();
        clearTimeout(timer);
      }),
    );
  }
}

/** What the event loop's own deadline throws (runtime/execute/deadline.ts), so it classifies as JOB_TIMEOUT. */
const timeoutError = (deadlineAt: number): Error => deadlineError(deadlineAt, 'on an operator thread');

/** A module as a thread can load it: under ts-jest the runtime runs from sources, the thread from the build. */
function builtModule(path: string): string {
  if (!path.endsWith('.ts')) return path;
  const root = join(__dirname, '..');
  return join(root, 'dist', relative(root, path)).replace(/\.ts$/, '.js');
}
