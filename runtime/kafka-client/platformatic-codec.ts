/**
 * What the @platformatic/kafka adapter converts at the seam: its errors (KafkaClientError with the broker's
 * error name as `type`, which the runtime's rebalance and ask-again checks read), its bigint offsets (decimal
 * strings here) and its Map headers (records here).
 */
import type { Message, MessageToProduce } from '@platformatic/kafka';
import { KafkaClientError } from '../errors';
import type { ConsumedMessage, MessageHeaders, OutMessage } from './types';

// --- errors ---

interface LibraryError {
  code?: unknown;
  apiId?: unknown;
  canRetry?: unknown;
  errors?: unknown;
  cause?: unknown;
}

/** The first error in `e`'s tree (itself, its `errors`, its `cause`) that `is`. */
function findIn(e: unknown, is: (x: LibraryError) => boolean, depth = 0): LibraryError | undefined {
  if (depth > 6 || typeof e !== 'object' || e === null) return undefined;
  const x = e as LibraryError;
  if (is(x)) return x;
  for (const inner of Array.isArray(x.errors) ? x.errors : []) {
    const found = findIn(inner, is, depth + 1);
    if (found) return found;
  }
  return findIn(x.cause, is, depth + 1);
}

/** The library's error as the seam's (KafkaClientError); anything else (ours, Node's) unchanged. */
export function toClientError(e: unknown): unknown {
  if (e instanceof KafkaClientError || !(e instanceof Error)) return e;
  const code = (e as LibraryError).code;
  if (typeof code !== 'string' || !code.startsWith('PLT_KFK_')) return e;
  const protocol = findIn(e, (x) => typeof x.apiId === 'string');
  const network = findIn(e, (x) => x.code === 'PLT_KFK_NETWORK');
  return new KafkaClientError(e.message, {
    type: protocol?.apiId as string | undefined,
    retriable: (protocol ?? network ?? (e as LibraryError)).canRetry === true,
    connection: protocol === undefined && network !== undefined,
    cause: e,
  });
}

/** `request`'s rejection as the seam's error. */
export function guard<T>(request: Promise<T>): Promise<T> {
  return request.catch((e: unknown) => {
    throw toClientError(e);
  });
}

// --- messages ---

const asBuffer = (v: Buffer | string): Buffer => (typeof v === 'string' ? Buffer.from(v) : v);

/** The seam's headers as the library's Map; a repeated header keeps its last value (as headersToStrings reads). */
export function headersToMap(headers: MessageHeaders | undefined): Map<Buffer, Buffer> | undefined {
  if (!headers) return undefined;
  const out = new Map<Buffer, Buffer>();
  for (const [k, v] of Object.entries(headers)) {
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    if (last !== undefined) out.set(Buffer.from(k), asBuffer(last));
  }
  return out;
}

/** The library's Map of headers as the seam's record; a key seen more than once keeps every value. */
export function headersFromMap(headers: Map<Buffer, Buffer> | undefined): MessageHeaders {
  const out: MessageHeaders = {};
  for (const [k, v] of headers ?? []) {
    const name = k.toString();
    const seen = out[name];
    out[name] = seen === undefined ? v : Array.isArray(seen) ? [...seen, v] : [seen, v];
  }
  return out;
}

export function toProduce(topic: string, m: OutMessage): MessageToProduce {
  const headers = headersToMap(m.headers);
  return {
    topic,
    ...(m.key !== null && m.key !== undefined ? { key: asBuffer(m.key) } : {}),
    ...(m.value !== null ? { value: asBuffer(m.value) } : {}),
    ...(headers ? { headers } : {}),
    ...(m.partition !== undefined ? { partition: m.partition } : {}),
  } as MessageToProduce;
}

/** A consumed message as the seam's: decimal offset and timestamp, null key or value where there is none. */
export function toConsumed(m: Message): ConsumedMessage {
  return {
    offset: String(m.offset),
    key: m.key ?? null,
    value: m.value ?? null,
    headers: headersFromMap(m.headers),
    timestamp: String(m.timestamp),
  };
}
