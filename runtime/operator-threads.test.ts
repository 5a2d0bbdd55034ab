/**
 * Operator threads without a broker: real worker threads running a test operator from the build (run
 * `npm run build` first; `npm test` does), whose payloads script stuck jobs and failures
 * (test/support/spin-operator.ts). Failures are compared with the codes the runtime would have classified on
 * the event loop. A real operator on a thread is test/unit/operator-threads-normalize.test.ts.
 */
import type { RawListing } from '../schemas/generated/types';
import { rawListing } from '../test/support/raw-listing';
import {
  decodeOut,
  encodeRaw,
  failure,
  later,
  meta,
  never,
  OUT_ID,
  RAW_ID,
  rawWriter,
  recordingLogger,
  SPIN_REGISTRY,
  threadPools,
  wire,
} from '../test/support/thread-harness';
import { defineConfig } from './config';
import { classifyError, PermanentError, RetriableError } from './errors';
import { defineOperator } from './operator';
import { deserializeThrown, type OperatorThreadsOptions, packBytes, serializeThrown } from './operator-threads';

const pool = threadPools();

const spin = (over: Partial<OperatorThreadsOptions> = {}) =>
  pool({
    operator: 'spin',
    registry: SPIN_REGISTRY,
    outputs: { out: { schema: 'RawListing', schemaId: OUT_ID } },
    ...over,
  });

const raw = (payload: string, i = 0): RawListing => rawListing({ listingKey: `L${i}`, position: i, payload });

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
