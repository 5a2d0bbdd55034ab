/**
 * What the operator-threads tests share (runtime/operator-threads.test.ts with test operators, and
 * test/unit/operator-threads-normalize.test.ts with a real one): RawListing inputs in the wire format, input
 * metadata, pools closed after each test, and a rejected job as the runtime classifies it.
 */
import { join } from 'node:path';
import { afterEach, expect } from '@jest/globals';
import { classifyError } from '../../runtime/errors';
import type { Logger } from '../../runtime/operator';
import { OperatorThreads, type OperatorThreadsOptions, type ThreadEmit } from '../../runtime/operator-threads';
import { encodeAvroBody, readerType } from '../../runtime/serde';
import { avroSchemas, type RawListing } from '../../schemas/generated/types';

export const RAW_ID = 7;
export const OUT_ID = 9;
export const rawWriter = { id: RAW_ID, text: JSON.stringify(avroSchemas.RawListing) };
export const wire = (id: number, body: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 0, id]), body]);
export const encodeRaw = (r: RawListing) => wire(RAW_ID, encodeAvroBody('RawListing', r));
export const meta = (offset: number, key: string | null = null) => ({
  topic: 'in',
  partition: 0,
  offset: String(offset),
  key,
  headers: {},
  timestamp: '0',
});
export const later = () => Date.now() + 10_000;
export const never = new AbortController().signal;

/** The spin test operator's registry, as the threads load it (from the build: run `npm run build` first). */
export const SPIN_REGISTRY = join(__dirname, '..', '..', 'dist', 'test', 'support', 'spin-operator.js');

/** A logger that keeps what was logged at error level. */
export function recordingLogger() {
  const errors: string[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn() {},
    error: (_o, msg) => void errors.push(msg ?? ''),
    child: () => logger,
  };
  return { logger, errors };
}

type PoolOptions = Partial<OperatorThreadsOptions> & Pick<OperatorThreadsOptions, 'operator' | 'outputs' | 'registry'>;

/** A pool factory for one test file: every pool it made is closed after each test. */
export function threadPools(): (over: PoolOptions) => OperatorThreads {
  let pools: OperatorThreads[] = [];
  afterEach(async () => {
    await Promise.all(pools.map((p) => p.close()));
    pools = [];
  });
  return (over) => {
    const p = new OperatorThreads({
      config: {},
      step: 'test',
      threads: 1,
      logLevel: 'silent',
      logger: recordingLogger().logger,
      ...over,
    });
    pools.push(p);
    return p;
  };
}

/** What a rejected job classifies as: code, kind, message, detail. */
export async function failure(p: Promise<ThreadEmit[]>) {
  try {
    await p;
  } catch (e) {
    const c = classifyError(e);
    return { code: c.code, kind: c.kind, message: c.message, detail: (e as { detail?: unknown }).detail };
  }
  throw new Error('expected the job to fail');
}

/** An encoded output's value, after checking it is framed with the output schema's id. */
export const decodeOut = <T>(e: ThreadEmit, schema: 'Listing' | 'RawListing'): T => {
  if (e.kind !== 'encoded' || !e.value) throw new Error(`expected an encoded output, got ${e.kind}`);
  expect([e.value[0], e.value.readInt32BE(1)]).toEqual([0, OUT_ID]);
  return readerType(schema).fromBuffer(e.value.subarray(5)) as T;
};
