/**
 * Operator threads without a broker: real worker threads running the built operators (run `npm run build`
 * first; `npm test` does). Outcomes are compared with the same operator run on this thread, and failures with
 * the codes the runtime would have classified on the event loop.
 */
import { join } from 'node:path';
import { sampleRawListings } from '../bench/fixtures';
import { normalizeConfig } from '../operators/normalize/config';
import { normalizeListing } from '../operators/normalize/process';
import { avroSchemas, type Listing, type RawListing } from '../schemas/generated/types';
import { defineConfig, parseConfig } from './config';
import { classifyError, PermanentError, RetriableError } from './errors';
import { defineOperator, type Logger } from './operator';
import {
  deserializeThrown,
  type EncodedEmit,
  OperatorThreads,
  type OperatorThreadsOptions,
  packBytes,
  serializeThrown,
  type ThreadEmit,
} from './operator-threads';
import { encodeAvroBody, readerType } from './serde';

const RAW_ID = 7;
const OUT_ID = 9;
const rawWriter = { id: RAW_ID, text: JSON.stringify(avroSchemas.RawListing) };
const wire = (id: number, body: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 0, id]), body]);
const encodeRaw = (r: RawListing) => wire(RAW_ID, encodeAvroBody('RawListing', r));
const meta = (offset: number, key: string | null = null) => ({
  topic: 'in',
  partition: 0,
  offset: String(offset),
  key,
  headers: {},
  timestamp: '0',
});
const later = () => Date.now() + 10_000;
const never = new AbortController().signal;

/** A logger that keeps what was logged at error level. */
function recordingLogger() {
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

let pools: OperatorThreads[] = [];
function pool(over: Partial<OperatorThreadsOptions> & Pick<OperatorThreadsOptions, 'operator' | 'outputs'>) {
  const p = new OperatorThreads({
    config: {},
    step: 'test',
    threads: 1,
    logLevel: 'silent',
    logger: recordingLogger().logger,
    // The operator registry, as a worker hands it to its threads (registryModuleOf).
    registry: join(__dirname, '..', 'operators', 'index.ts'),
    ...over,
  });
  pools.push(p);
  return p;
}
afterEach(async () => {
  await Promise.all(pools.map((p) => p.close()));
  pools = [];
});

const spin = (over: Partial<OperatorThreadsOptions> = {}) =>
  pool({
    operator: 'spin',
    registry: join(__dirname, '..', 'dist', 'test', 'support', 'spin-operator.js'),
    outputs: { out: { schema: 'RawListing', schemaId: OUT_ID } },
    ...over,
  });

const raw = (payload: string, i = 0): RawListing => ({
  jobId: 'j',
  source: 's',
  listingKey: `L${i}`,
  position: i,
  receivedAt: new Date(0),
  defaultCountry: null,
  defaultCurrency: null,
  payload,
});

/** What a rejected job classifies as: code, kind, message. */
async function failure(p: Promise<ThreadEmit[]>) {
  try {
    await p;
  } catch (e) {
    const c = classifyError(e);
    return { code: c.code, kind: c.kind, message: c.message, detail: (e as { detail?: unknown }).detail };
  }
  throw new Error('expected the job to fail');
}

const decodeOut = <T>(e: ThreadEmit, schema: 'Listing' | 'RawListing'): T => {
  if (e.kind !== 'encoded' || !e.value) throw new Error(`expected an encoded output, got ${e.kind}`);
  expect([e.value[0], e.value.readInt32BE(1)]).toEqual([0, OUT_ID]);
  return readerType(schema).fromBuffer(e.value.subarray(5)) as T;
};

describe('normalize on a thread', () => {
  test('every outcome equals normalize on the event loop: the same Listing, or the same code, message and detail', async () => {
    const config = parseConfig(normalizeConfig, {}, { where: 'test' });
    const threads = pool({
      operator: 'normalize',
      config,
      outputs: { listings: { schema: 'Listing', schemaId: OUT_ID } },
    });
    const records = sampleRawListings(400);
    const onThread = records.map((r, i) =>
      threads.process(encodeRaw(r.value), rawWriter, meta(i, r.key), 1, later(), never),
    );
    let listings = 0;
    let rejected = 0;
    for (const [i, r] of records.entries()) {
      let expected: Listing | undefined;
      let thrown: unknown;
      try {
        expected = normalizeListing(r.value, config);
      } catch (e) {
        thrown = e;
      }
      if (expected) {
        const emits = await onThread[i]!;
        expect(emits).toHaveLength(1);
        expect((emits[0] as EncodedEmit).key).toBe(expected.id);
        expect(decodeOut<Listing>(emits[0]!, 'Listing')).toEqual(expected);
        listings++;
      } else {
        const c = classifyError(thrown);
        expect(await failure(onThread[i]!)).toEqual({
          code: c.code,
          kind: c.kind,
          message: c.message,
          detail: (thrown as PermanentError).detail,
        });
        rejected++;
      }
    }
    // The sample feed has both kinds, so both paths were compared.
    expect(listings).toBeGreaterThan(300);
    expect(rejected).toBeGreaterThan(3);
  }, 30_000);
});

describe('a thread reports what the event loop would have seen', () => {
  test.each([
    ['type-error', 'OPERATOR_BUG', 'bug'],
    ['permanent', 'NORMALIZE_PAYLOAD_INVALID', 'permanent'],
    ['bad-output', 'SERDE_ENCODE_FAILED', 'bug'],
  ])('payload %s fails with %s (%s)', async (payload, code, kind) => {
    const got = await failure(spin().process(encodeRaw(raw(payload)), rawWriter, meta(0), 1, later(), never));
    expect([got.code, got.kind]).toEqual([code, kind]);
    if (code === 'NORMALIZE_PAYLOAD_INVALID') expect(got.detail).toEqual({ field: 'payload' });
  });

  test('undecodable input bytes fail with SERDE_CORRUPT_AVRO, and the thread goes on', async () => {
    const threads = spin();
    const corrupt = wire(RAW_ID, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
    const bad = threads.process(corrupt, rawWriter, meta(0), 1, later(), never);
    const good = threads.process(encodeRaw(raw('ok', 1)), rawWriter, meta(1, 'k1'), 2, later(), never);
    expect((await failure(bad)).code).toBe('SERDE_CORRUPT_AVRO');
    const [out] = await good;
    expect(decodeOut<RawListing>(out!, 'RawListing').payload).toBe('ok|thread');
    expect(out).toMatchObject({ kind: 'encoded', port: 'out', key: 'k1', headers: { attempt: '2' } });
  });

  test('a job past its deadline, or aborted, before it is posted fails at once', async () => {
    const threads = spin();
    const past = await failure(threads.process(encodeRaw(raw('ok')), rawWriter, meta(0), 1, Date.now() - 1, never));
    expect(past.code).toBe('JOB_TIMEOUT');
    const stop = new AbortController();
    stop.abort(new RetriableError('JOB_TIMEOUT', 'aborted: shutdown grace period over'));
    const aborted = await failure(threads.process(encodeRaw(raw('ok')), rawWriter, meta(0), 1, later(), stop.signal));
    expect(aborted.message).toBe('aborted: shutdown grace period over');
  });

  test('a thread stuck in a job times it out and is replaced; the job behind it fails retriably; the next runs', async () => {
    const { logger, errors } = recordingLogger();
    const threads = spin({ logger });
    const stuck = threads.process(encodeRaw(raw('spin')), rawWriter, meta(0), 1, Date.now() + 200, never);
    const behind = threads.process(encodeRaw(raw('behind')), rawWriter, meta(1), 1, later(), never);
    expect((await failure(stuck)).code).toBe('JOB_TIMEOUT');
    // Posted to the stuck thread, it goes down with it: retriable, so the runtime runs it again.
    expect((await failure(behind)).kind).toBe('retriable');
    expect(errors).toContain('operator thread died; restarting it');
    const [out] = await threads.process(encodeRaw(raw('after')), rawWriter, meta(2), 1, later(), never);
    expect(decodeOut<RawListing>(out!, 'RawListing').payload).toBe('after|thread');
  }, 15_000);
});

describe('errors across threads', () => {
  const cases: [string, unknown][] = [
    ['PermanentError', new PermanentError('NORMALIZE_PRICE_INVALID', 'bad price', { detail: { field: 'ListPrice' } })],
    ['RetriableError', new RetriableError('BLOBSTORE_UNAVAILABLE', 'EIO')],
    ['TypeError', new TypeError('x is not a function')],
    ['RangeError', new RangeError('bad length')],
    ['TimeoutError', Object.assign(new Error('late'), { name: 'TimeoutError' })],
    ['plain Error', new Error('something')],
    ['a thrown string', 'oops'],
  ];
  test.each(cases)('%s classifies the same after the round trip', (_name, thrown) => {
    const back = deserializeThrown(structuredClone(serializeThrown(thrown)));
    const [a, b] = [classifyError(thrown), classifyError(back)];
    expect([b.code, b.kind]).toEqual([a.code, a.kind]);
    if (thrown instanceof Error) {
      expect(b.message).toBe(a.message);
      expect(back.stack).toBe(thrown.stack);
      expect((back as { detail?: unknown }).detail).toEqual((thrown as { detail?: unknown }).detail);
    }
  });
});

test('packBytes copies into one buffer of its own, even from slices of the shared pool', () => {
  const parts = [Buffer.from('abc'), Buffer.from('defgh'), Buffer.alloc(0), Buffer.from('i')];
  expect(parts[0]!.buffer.byteLength).toBeGreaterThan(3); // a slice of Node's pool
  const { bytes, ranges } = packBytes(parts);
  expect(bytes.byteLength).toBe(9);
  expect(ranges).toEqual([
    [0, 3],
    [3, 8],
    [8, 8],
    [8, 9],
  ]);
  expect(Buffer.from(bytes).toString()).toBe('abcdefghi');
});

describe('defineOperator refuses a cpuBound operator a thread cannot run', () => {
  const base = {
    name: 'x',
    summary: 'x',
    input: 'RawListing' as const,
    outputs: { out: 'RawListing' as const },
    config: defineConfig({}),
    cpuBound: true,
  };
  test.each<[string, () => unknown]>([
    ['with services', () => defineOperator({ ...base, services: () => ({ db: 1 }), process: () => [] })],
    ['with processBatch', () => defineOperator({ ...base, processBatch: async () => [] })],
  ])('%s', (_name, define) => {
    expect(define).toThrow('operator x: cpuBound needs process and no services');
  });
  test('with process and no services', () => {
    expect(defineOperator({ ...base, process: () => [] }).cpuBound).toBe(true);
  });
});
