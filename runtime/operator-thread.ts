/**
 * The entry point of one operator thread (see runtime/operator-threads.ts): loads the operator named in
 * workerData through the operator registry (the module named in workerData), then for every job the worker's
 * event loop posts runs the executor's core (runtime/execute/process.ts: decode, ctx, `process`, emits, the
 * same code the executor runs on the event loop) and encodes the outputs, answering each batch of jobs with
 * one batch of results, in order. Retries and dead letters stay with the executor on the event loop.
 *
 * The thread owns nothing else: no Kafka, no registry, no commits. What a job needs comes in the job (its
 * input bytes and writer schema id, where it came from, its attempt and deadline) or is made here once
 * (config, logger, clock); the `ctx` is made by the one context builder (runtime/execute/context.ts) with
 * the executor's deadline, so the operator sees the same `ctx` it would on the event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type avro from 'avsc';
import { createLogger } from './observability';
import { ListflowError } from './errors';
import { operatorContext } from './execute/context';
import { JobDeadline } from './execute/deadline';
import { allEmits, decodeInput } from './execute/process';
import type { AnyOperator, Clock, OperatorRegistry, RejectEmit } from './operator';
import {
  CLOSE,
  packBytes,
  serializeThrown,
  type ThreadBatch,
  type ThreadBatchResult,
  type ThreadJob,
  type ThreadOutput,
  type ThreadResult,
  type ThreadSetup,
} from './operator-threads';
import { decodeWire, encodeWire, parseWriterSchema } from './serde';

const setup = workerData as ThreadSetup;

function loadOperator(name: string, registryModule: string): AnyOperator {
  const registry = (require(registryModule) as { operators?: OperatorRegistry }).operators;
  const op = registry?.[name];
  if (!op?.process) {
    throw new Error(`the operator registry ${registryModule} has no operator named ${name} with process()`);
  }
  return op;
}

const operator = loadOperator(setup.operator, setup.registry);
const logger = createLogger(setup.logLevel, { operator: setup.operator, step: setup.step, thread: setup.index });
const clock: Clock = { now: () => new Date() };

/** Writer schemas by id, sent by the event loop with the first job that needs each. */
const writers = new Map<number, avro.Type>();
const resolvers = new Map<string, avro.Resolver>();

/** One batch's encoded outputs: wire-format values appended back to back. */
class Encoded {
  readonly chunks: Buffer[] = [];
  size = 0;
  /** Encodes `value` for `port` in the wire format; returns its range. Throws SERDE_ENCODE_FAILED. */
  add(port: string, value: unknown): { start: number; end: number } {
    const out = setup.outputs[port];
    if (!out) throw new ListflowError('OPERATOR_BUG', `operator ${setup.operator} emitted to unknown port ${port}`);
    const bytes = encodeWire(out.schemaId, out.schema, value);
    const start = this.size;
    this.chunks.push(bytes);
    this.size += bytes.length;
    return { start, end: this.size };
  }
}

async function run(job: ThreadJob, bytes: ArrayBuffer, encoded: Encoded): Promise<ThreadResult> {
  // The pool on the event loop enforces the deadline too; this one is what `ctx.signal` says.
  const deadline = new JobDeadline(Math.max(1, job.deadlineAt - Date.now()));
  try {
    const writer = writers.get(job.schemaId);
    if (!writer) throw new Error(`operator thread: no writer schema for id ${job.schemaId} (a runtime bug)`);
    const value = Buffer.from(bytes, job.start, job.end - job.start);
    // The executor's own core (runtime/execute/process.ts): decode, the one ctx, `process`, its emits.
    const record = await decodeInput(
      { decode: async (b) => decodeWire(b, operator.input, job.schemaId, writer, resolvers) },
      value,
    );
    const ctx = operatorContext({
      config: setup.config,
      services: undefined,
      clock,
      logger,
      attempt: job.attempt,
      input: job.input,
      deadline,
    });
    const emits = await allEmits(operator.process!(record, ctx));
    // A value that does not fit its schema fails the job; bytes already appended for it are never referenced.
    const sent = emits.map((e): ThreadOutput | RejectEmit => {
      if (e.kind === 'reject') return e;
      const range = e.value === null ? { start: -1, end: -1 } : encoded.add(e.port, e.value);
      const out = { kind: 'encoded' as const, port: e.port, key: e.key, ...range };
      return e.headers ? { ...out, headers: e.headers } : out;
    });
    return { id: job.id, ok: true, emits: sent };
  } catch (e) {
    return { id: job.id, ok: false, error: serializeThrown(e) };
  } finally {
    deadline.clear();
  }
}

parentPort!.on('message', async (message: ThreadBatch | typeof CLOSE) => {
  if (message === CLOSE) {
    // Nothing else keeps this thread alive: it exits once the port is closed.
    parentPort!.close();
    return;
  }
  const { jobs, bytes, schemas } = message;
  for (const [id, text] of schemas) writers.set(id, parseWriterSchema(text));
  const encoded = new Encoded();
  const results: ThreadResult[] = [];
  // One at a time, in order: outputs are appended in job order and answered in posting order.
  for (const job of jobs) results.push(await run(job, bytes, encoded));
  const packed = packBytes(encoded.chunks).bytes;
  const answer: ThreadBatchResult = { results, bytes: packed };
  parentPort!.postMessage(answer, [packed]);
});
