/**
 * Avro in the Confluent wire format: byte 0 is the magic byte 0, bytes 1-4 the schema id (big-endian),
 * then the Avro body. Schema ids for outputs are looked up once at startup; writer schemas of inputs are
 * fetched by id once and cached, with a resolver from each writer schema to the operator's reader schema.
 *
 * Decoding never throws: it returns a Result, so the runtime can dead-letter undecodable bytes with a
 * precise code (bad magic byte, unknown schema id, schema mismatch, corrupt body).
 */
import type { SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { avroSchemas, type SchemaName } from '../schemas/generated/types';
import { ListflowError, PermanentError, RetriableError } from './errors';
import { withRetry } from './execute/retry';
import { type Registry, registryRequest } from './registry-client';

/** The library's SchemaType.AVRO, without loading the library at import (see createRegistry). */
const AVRO = 'AVRO' as SchemaType.AVRO;

/** timestamp-millis <-> Date (avsc leaves logical types as plain longs unless told). */
class TimestampMillisType extends avro.types.LogicalType {
  protected override _fromValue(val: number): Date {
    return new Date(val);
  }
  protected override _toValue(val: unknown): number | undefined {
    if (val instanceof Date) return val.getTime();
    return typeof val === 'number' ? val : undefined;
  }
  protected override _resolve(type: avro.Type): ((v: number) => Date) | undefined {
    if (avro.Type.isType(type, 'long', 'int', 'logical:timestamp-millis')) return (v: number) => this._fromValue(v);
    return undefined;
  }
}

/** Fresh options per parse: avsc stores its named-type registry on the options object it is given. */
export const avroTypeOptions = (): Partial<avro.ForSchemaOptions> => ({
  logicalTypes: { 'timestamp-millis': TimestampMillisType },
  wrapUnions: 'auto',
});

const readerTypes = new Map<SchemaName, avro.Type>();

/** The avsc Type of one of our own schemas (schemas/*.avsc), with logical types. Cached. */
export function readerType(name: SchemaName): avro.Type {
  let t = readerTypes.get(name);
  if (!t) {
    t = avro.Type.forSchema(avroSchemas[name] as avro.Schema, avroTypeOptions());
    readerTypes.set(name, t);
  }
  return t;
}

/**
 * Scratch space every encode writes into before the result is copied out at its exact size. avsc's `toBuffer`
 * encodes into a shared 1 KB buffer, so a record over 1 KB (a listing with its payload) is encoded twice and
 * then copied into a zero-filled buffer; and the wire header was a third buffer concatenated in front. Here a
 * value is encoded once, behind room for the header, and copied once into an unzeroed buffer (bench:runtime's
 * CPU profile, 2026-12-02). Grown to the largest record seen; never shared across an await.
 */
let scratch = Buffer.allocUnsafe(64 * 1024);

/** Encodes `value` into `scratch` from `offset`; returns where it ends. */
function encodeIntoScratch(type: avro.Type, value: unknown, offset: number): number {
  for (;;) {
    const end = type.encode(value, scratch, offset);
    if (end >= 0) return end;
    // avsc returns minus the bytes that were missing.
    scratch = Buffer.allocUnsafe(Math.max(scratch.length * 2, scratch.length - end));
  }
}

function copyOfScratch(end: number): Buffer {
  const out = Buffer.allocUnsafe(end);
  scratch.copy(out, 0, 0, end);
  return out;
}

/** SERDE_ENCODE_FAILED for a value that does not fit its schema, naming the first paths that do not match. */
function encodeFailed(type: avro.Type, name: SchemaName, value: unknown, e: unknown): ListflowError {
  const paths: string[] = [];
  type.isValid(value, {
    errorHook: (path: string[], v: unknown) => paths.push(`${path.join('.') || '(root)'}=${JSON.stringify(v)}`),
  });
  return new ListflowError(
    'SERDE_ENCODE_FAILED',
    `value does not match schema ${name}${paths.length ? ` at ${paths.slice(0, 5).join(', ')}` : ''}: ${(e as Error).message}`,
  );
}

/**
 * The Avro binary body of `value` under one of our schemas (no wire-format header). A value that does not fit
 * is SERDE_ENCODE_FAILED (a bug in the emitting operator), naming the first paths that do not match.
 */
export function encodeAvroBody(name: SchemaName, value: unknown): Buffer {
  const type = readerType(name);
  try {
    return copyOfScratch(encodeIntoScratch(type, value, 0));
  } catch (e) {
    throw encodeFailed(type, name, value, e);
  }
}

/** `value` in the Confluent wire format: magic byte 0, the 4-byte schema id, the Avro body. Throws SERDE_ENCODE_FAILED. */
export function encodeWire(schemaId: number, name: SchemaName, value: unknown): Buffer {
  const type = readerType(name);
  let end: number;
  try {
    end = encodeIntoScratch(type, value, 5);
  } catch (e) {
    throw encodeFailed(type, name, value, e);
  }
  scratch.writeUInt8(0, 0);
  scratch.writeInt32BE(schemaId, 1);
  return copyOfScratch(end);
}

export const subjectFor = (topic: string): string => `${topic}-value`;

/** Not Confluent wire format (magic byte 0, 4-byte schema id): the permanent decode failure, else undefined. */
function badMagic(bytes: Buffer): { ok: false; error: ListflowError } | undefined {
  if (bytes.length >= 5 && bytes[0] === 0) return undefined;
  return {
    ok: false,
    error: new PermanentError(
      'SERDE_BAD_MAGIC_BYTE',
      `not Confluent wire format: expected magic byte 0 and a 4-byte schema id, got ${bytes.length} bytes starting 0x${bytes.subarray(0, 5).toString('hex')}`,
    ),
  };
}

/**
 * Decodes wire-format `bytes` written with `writer` (schema id `schemaId`) as our reader schema `name`. The
 * resolver from writer to reader is made once per (id, name) and kept in `resolvers`. Shared by AvroSerde and
 * the operator threads (runtime/operator-thread.ts), which decode their own input.
 */
export function decodeWire<T>(
  bytes: Buffer,
  name: SchemaName,
  schemaId: number,
  writer: avro.Type,
  resolvers: Map<string, avro.Resolver>,
): DecodeResult<T> {
  const reader = readerType(name);
  const resolverKey = `${schemaId}:${name}`;
  let resolver = resolvers.get(resolverKey);
  if (!resolver && writer !== reader) {
    try {
      resolver = reader.createResolver(writer);
      resolvers.set(resolverKey, resolver);
    } catch (e) {
      return {
        ok: false,
        error: new PermanentError(
          'SERDE_SCHEMA_MISMATCH',
          `writer schema id ${schemaId} cannot be read as ${name}: ${(e as Error).message}`,
        ),
        schemaId,
      };
    }
  }
  try {
    return { ok: true, value: reader.fromBuffer(bytes.subarray(5), resolver) as T, schemaId };
  } catch (e) {
    return {
      ok: false,
      error: new PermanentError(
        'SERDE_CORRUPT_AVRO',
        `Avro body does not decode with schema id ${schemaId}: ${(e as Error).message}`,
      ),
      schemaId,
    };
  }
}

/** A writer schema from the registry: its id and its text (what a thread needs to decode with it). */
export interface WriterSchema {
  readonly id: number;
  readonly text: string;
}

/** Parses a writer schema's text, with our logical types. */
export const parseWriterSchema = (text: string): avro.Type =>
  avro.Type.forSchema(JSON.parse(text) as avro.Schema, avroTypeOptions());

export type DecodeResult<T> =
  | { ok: true; value: T; schemaId: number }
  | { ok: false; error: ListflowError; schemaId?: number };

// The registry client lives in registry-client.ts; its names are re-exported for the serde's callers.
export { createRegistry, type Registry, type RegistryOptions } from './registry-client';

/** HTTP status of an error thrown by the registry client, if it carries one. */
function httpStatus(e: unknown): number | undefined {
  const s = (e as { status?: unknown }).status;
  return typeof s === 'number' ? s : undefined;
}

/**
 * Registrations that meet another worker's registration of the same new subject are tried this often, 100 ms
 * apart at first, then doubling up to 400 ms (the other worker's sequence takes a few requests).
 */
const REGISTER_RETRY = { maxAttempts: 5, initialBackoffMs: 100, maxBackoffMs: 400 };

/** The client's refusal of a subject whose compatibility is not the one it registers with. */
function isCompatibilityMismatch(e: unknown): boolean {
  return (e as Error)?.name === 'ConfluentSchemaRegistryCompatibilityError';
}

/** A 409 from setting a subject's config: another writer set it first (see AvroSerde.register). */
function isConcurrentConfigWrite(e: unknown): boolean {
  const url = (e as { url?: unknown }).url;
  return httpStatus(e) === 409 && typeof url === 'string' && /\/config\/[^/]+$/.test(url);
}

function registryError(e: unknown, what: string): ListflowError {
  const status = httpStatus(e);
  if (status !== undefined && status >= 400 && status < 500) {
    return new PermanentError('SERDE_UNKNOWN_SCHEMA_ID', `${what}: the registry answered ${status}`, { cause: e });
  }
  return new RetriableError('REGISTRY_UNAVAILABLE', `${what}: ${(e as Error).message ?? String(e)}`, { cause: e });
}

export class AvroSerde {
  private readonly writers = new Map<number, Promise<avro.Type>>();
  private readonly resolvers = new Map<string, avro.Resolver>();
  /** Writer schemas already fetched (the settled part of `writers`), for `decodeCached`. */
  private readonly knownWriters = new Map<number, avro.Type>();
  /** Their texts, for operator threads. */
  private readonly knownTexts = new Map<number, string>();

  constructor(private readonly registry: Registry) {}

  /**
   * The registry id of `schema` under `<topic>-value`. With `register`, registers it first (local runs);
   * otherwise the schema must already be registered (`listflow schemas register`), which is what deploys do.
   */
  async schemaIdFor(topic: string, schema: SchemaName, register: boolean): Promise<number> {
    const subject = subjectFor(topic);
    const body = avroSchemas[schema];
    try {
      if (register) return await this.register(subject, JSON.stringify(body));
      return await this.registry.client.getRegistryIdBySchema(subject, {
        type: AVRO,
        schema: JSON.stringify(body),
      });
    } catch (e) {
      if (e instanceof ListflowError) throw e; // classified already (register)
      // getRegistryIdBySchema re-throws a 404 as a bare ConfluentSchemaRegistryError that no longer carries
      // `status` (its SchemaRegistry.js); every other failure keeps the HTTP status.
      const status =
        httpStatus(e) ?? (!register && (e as Error)?.name === 'ConfluentSchemaRegistryError' ? 404 : undefined);
      if (status === 404) {
        throw new PermanentError(
          'SERDE_UNKNOWN_SCHEMA_ID',
          `Schema ${schema} is not registered under subject ${subject}. Fix: run \`listflow schemas register\`.`,
          { cause: e },
        );
      }
      if (status === 409) {
        throw new PermanentError(
          'SERDE_SCHEMA_MISMATCH',
          `Schema ${schema} is not compatible with what is registered under ${subject}. Fix: run \`listflow schemas check\` and evolve the schema compatibly.`,
          { cause: e },
        );
      }
      throw registryError(e, `looking up schema ${schema} under ${subject}`);
    }
  }

  /**
   * Registers `schema` under `subject` and returns its id. The client looks up the subject's compatibility,
   * registers, and on a new subject then sets its compatibility (PUT /config/<subject>). When several workers
   * start at once, Apicurio shows two passing states of that sequence: another worker's subject already
   * exists but has no rule yet (its compatibility reads NONE), or another worker set the rule first and the
   * PUT is answered 409 ("A rule named 'COMPATIBILITY' already exists"). Neither says the schema is
   * incompatible; a moment later the subject is BACKWARD and registering again returns the (same) id. A
   * subject that stays at another level is refused with SERDE_SCHEMA_MISMATCH.
   */
  private async register(subject: string, schema: string): Promise<number> {
    try {
      const { id } = await withRetry(
        REGISTER_RETRY,
        () => this.registry.client.register({ type: AVRO, schema }, { subject }),
        { retriable: (e) => isConcurrentConfigWrite(e) || isCompatibilityMismatch(e), random: () => 1 },
      );
      return id;
    } catch (e) {
      if (isCompatibilityMismatch(e)) {
        throw new PermanentError(
          'SERDE_SCHEMA_MISMATCH',
          `Subject ${subject} is not at BACKWARD compatibility, which Listflow registers every schema with (${(e as Error).message}). Fix: set it with PUT /config/${subject} {"compatibility":"BACKWARD"}, or register under a new subject.`,
          { cause: e },
        );
      }
      throw e;
    }
  }

  encode(schemaId: number, name: SchemaName, value: unknown): Buffer {
    return encodeWire(schemaId, name, value);
  }

  /** Decodes with the writer schema named in the header, resolved to our reader schema `name`. */
  async decode<T>(bytes: Buffer, name: SchemaName): Promise<DecodeResult<T>> {
    const bad = badMagic(bytes);
    if (bad) return bad;
    const schemaId = bytes.readInt32BE(1);
    let writer: avro.Type;
    try {
      writer = await this.writerType(schemaId);
    } catch (e) {
      return {
        ok: false,
        error: e instanceof ListflowError ? e : registryError(e, `fetching schema id ${schemaId}`),
        schemaId,
      };
    }
    return this.decodeWith<T>(bytes, name, schemaId, writer);
  }

  /**
   * `decode` without a promise when the writer schema is already known (every message after the first of
   * each schema id); undefined when it must be fetched, and then the caller awaits `decode`. The worker's
   * hot path: a promise and two microtask turns per record are measurable at tens of thousands of records/s.
   */
  decodeCached<T>(bytes: Buffer, name: SchemaName): DecodeResult<T> | undefined {
    const bad = badMagic(bytes);
    if (bad) return bad;
    const schemaId = bytes.readInt32BE(1);
    const writer = this.knownWriters.get(schemaId);
    return writer ? this.decodeWith<T>(bytes, name, schemaId, writer) : undefined;
  }

  private decodeWith<T>(bytes: Buffer, name: SchemaName, schemaId: number, writer: avro.Type): DecodeResult<T> {
    return decodeWire<T>(bytes, name, schemaId, writer, this.resolvers);
  }

  /**
   * The writer schema named in the header of `bytes`, when it has been fetched already; undefined otherwise
   * (then `fetchWriterOf`). Throws SERDE_BAD_MAGIC_BYTE for bytes that are not wire format.
   */
  writerOf(bytes: Buffer): WriterSchema | undefined {
    const bad = badMagic(bytes);
    if (bad) throw bad.error;
    const id = bytes.readInt32BE(1);
    const text = this.knownTexts.get(id);
    return text === undefined ? undefined : { id, text };
  }

  /** Fetches (once) the writer schema named in the header. Throws SERDE_* (permanent) or REGISTRY_UNAVAILABLE. */
  async fetchWriterOf(bytes: Buffer): Promise<WriterSchema> {
    const known = this.writerOf(bytes);
    if (known) return known;
    const id = bytes.readInt32BE(1);
    try {
      await this.writerType(id);
    } catch (e) {
      throw e instanceof ListflowError ? e : registryError(e, `fetching schema id ${id}`);
    }
    return { id, text: this.knownTexts.get(id)! };
  }

  private writerType(id: number): Promise<avro.Type> {
    let p = this.writers.get(id);
    if (!p) {
      p = this.fetchWriterType(id);
      p.then(
        (t) => this.knownWriters.set(id, t),
        () => this.writers.delete(id), // a failure is not cached: the next message asks again
      );
      this.writers.set(id, p);
    }
    return p;
  }

  private async fetchWriterType(id: number): Promise<avro.Type> {
    let res: Awaited<ReturnType<typeof registryRequest>>;
    try {
      res = await registryRequest(this.registry.options, 'GET', `/schemas/ids/${id}`);
    } catch (e) {
      throw registryError(e, `fetching schema id ${id}`);
    }
    if (res.status === 404) {
      throw new PermanentError('SERDE_UNKNOWN_SCHEMA_ID', `schema id ${id} is not known to the registry`);
    }
    if (res.status >= 400) {
      throw registryError(
        Object.assign(new Error(`GET /schemas/ids/${id}: HTTP ${res.status}`), { status: res.status }),
        `fetching schema id ${id}`,
      );
    }
    const body = res.json;
    try {
      const text = (body as { schema: string }).schema;
      const type = parseWriterSchema(text);
      this.knownTexts.set(id, text);
      return type;
    } catch (e) {
      throw new PermanentError(
        'SERDE_UNKNOWN_SCHEMA_ID',
        `schema id ${id} is not a usable Avro schema: ${(e as Error).message}`,
      );
    }
  }
}
