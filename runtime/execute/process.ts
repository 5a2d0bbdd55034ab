/**
 * The core of one `process` attempt, shared by the step executor on the event loop (runtime/execute/executor.ts)
 * and by an operator thread (runtime/operator-thread.ts), so decode -> ctx -> `process` -> emits is written once:
 * a change to it reaches both. Retries, dead letters, turning emits into records and sending stay with the
 * executor on the event loop; a thread runs only this part, once per attempt the executor asks for.
 */
import type { AnyEmit, ProcessResult } from '../operator';
import type { DecodeResult } from '../serde';

/** Decoding of the step's input: the registry-backed serde, the dry run's in-memory one, a thread's cached schemas. */
export interface Decoder {
  /** Decodes without waiting when the writer schema is known already; undefined when it is not. */
  decodeCached?(bytes: Buffer): DecodeResult<unknown> | undefined;
  decode(bytes: Buffer): Promise<DecodeResult<unknown>>;
}

/** The input's value; throws the decode error (undecodable input is permanent, an unreachable registry retriable). */
export async function decodeInput(codec: Decoder, value: Buffer): Promise<unknown> {
  const decoded = codec.decodeCached?.(value) ?? (await codec.decode(value));
  if (!decoded.ok) throw decoded.error;
  return decoded.value;
}

/** A feed's result: emits arrive over time and are sent in chunks by the executor. */
export function isStream(result: ProcessResult<AnyEmit>): result is AsyncIterable<AnyEmit> {
  return !!result && typeof result === 'object' && Symbol.asyncIterator in result;
}

/**
 * The emits of a result that is not a stream. `deadline` (the job's `() => JobDeadline.aborted`) wins a race
 * against a pending result on the event loop; a thread passes none, because it runs its jobs one at a time
 * and the pool on the event loop enforces the deadline (and replaces a thread that stays busy past it).
 * `deadline` is a thunk, asked only for a pending result: a synchronous result (an array) then costs no
 * timer, AbortController or listener (bench:runtime's profile, 2026-12-02: about 2% of the pass-through).
 */
export async function emitsOf(
  result: ProcessResult<AnyEmit>,
  deadline?: () => Promise<never>,
): Promise<Iterable<AnyEmit>> {
  if (Array.isArray(result)) return result as AnyEmit[];
  const pending = Promise.resolve(result as Iterable<AnyEmit> | Promise<Iterable<AnyEmit>>);
  return deadline ? Promise.race([pending, deadline()]) : pending;
}

/** Every emit of a result, a stream gathered whole: what a thread answers for a job. */
export async function allEmits(result: ProcessResult<AnyEmit>): Promise<AnyEmit[]> {
  if (!isStream(result)) return [...(await emitsOf(result))];
  const out: AnyEmit[] = [];
  for await (const e of result) out.push(e);
  return out;
}
