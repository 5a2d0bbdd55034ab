/**
 * The step executor's error policy, in the broker-free dry-run harness (runtime/dry-run.ts runs the same
 * executor as a worker): a one-step pipeline of a scripted test operator over RawListing records whose
 * payload says how each attempt fails. Starting from RawListing also shows the dry run takes whatever the
 * first step reads, not only an IngestJob.
 */
import { defineConfig } from '../config';
import { dryRun } from '../dry-run';
import { PermanentError, RetriableError } from '../errors';
import { defineOperator, emit } from '../operator';
import { definePipeline, type StepSpec } from '../pipeline';
import { parseTraceparent, TRACEPARENT_HEADER } from '../trace/context';
import type { RawListing } from '../../schemas/generated/types';
import { rawListing } from '../../test/support/raw-listing';

const raw = (listingKey: string, payload: string): RawListing => rawListing({ listingKey, payload });

/** Attempts per key, across one test. */
const calls = new Map<string, number>();
const attemptOf = (key: string) => {
  const n = (calls.get(key) ?? 0) + 1;
  calls.set(key, n);
  return n;
};

/** A payload scripts the failure: `ok`, `flaky:<fails>`, `down`, `permanent`, `bug`, `slow`, `reject`, `bad-port`. */
function script(r: RawListing, n: number): void {
  const [what, arg] = r.payload.split(':');
  if (what === 'flaky' && n <= Number(arg)) throw new RetriableError('UNCLASSIFIED_ERROR', 'try again');
  if (what === 'down') throw new RetriableError('PUBLISH_DB_UNAVAILABLE', 'down');
  if (what === 'permanent')
    throw new PermanentError('NORMALIZE_PRICE_INVALID', 'bad price', { detail: { field: 'price' } });
  if (what === 'bug') (undefined as unknown as { x(): void }).x();
}

const perRecord = defineOperator({
  name: 'scripted',
  summary: 'test operator: payload scripts failures',
  input: 'RawListing',
  outputs: { out: 'RawListing' },
  config: defineConfig({}),
  async process(r: RawListing, ctx) {
    script(r, attemptOf(r.listingKey));
    if (r.payload === 'slow') await new Promise((resolve) => setTimeout(resolve, 10_000).unref());
    if (r.payload === 'reject')
      return [
        emit.reject('INGEST_RECORD_UNPARSEABLE', 'half of it is bad', 'the bad half', { line: '2' }),
        emit.output('out', r.listingKey, r),
      ];
    if (r.payload === 'bad-port') return [emit.output('nowhere' as 'out', r.listingKey, r)];
    void ctx;
    return [emit.output('out', r.listingKey, r)];
  },
});

/** processBatch: fails the whole batch while it holds a poisoned record (permanent) or a flaky one (retriable). */
const batches: string[][] = [];
const perBatch = defineOperator({
  name: 'scripted-batch',
  summary: 'test sink: a batch with a poisoned record fails as a whole',
  input: 'RawListing',
  outputs: { out: 'RawListing' },
  config: defineConfig({}),
  async processBatch(items) {
    batches.push(items.map((i) => i.record.listingKey));
    for (const i of items) script(i.record, attemptOf(`batch:${items.length}:${i.record.listingKey}`));
    return items.map((i) => [emit.output('out', i.record.listingKey, i.record)]);
  },
});

const step = (over: Partial<StepSpec> = {}): StepSpec => ({
  id: 'only',
  operator: 'scripted',
  input: 't.in',
  outputs: { out: 't.out' },
  concurrency: 4,
  replicas: 1,
  timeoutMs: 200,
  retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 1 },
  ...over,
});

const runOne = (records: RawListing[], over: Partial<StepSpec> = {}) =>
  dryRun({
    pipeline: definePipeline({
      name: 'executor-test',
      topics: { 't.in': { partitions: 1, schema: 'RawListing' }, 't.out': { partitions: 1, schema: 'RawListing' } },
      steps: [step(over)],
    }),
    operators: { scripted: perRecord, 'scripted-batch': perBatch },
    inputs: records.map((r) => ({ key: r.listingKey, value: r })),
    filesDir: __dirname,
  });

beforeEach(() => {
  calls.clear();
  batches.splice(0);
});

describe('process: one record, the step retry policy', () => {
  test.each([
    { name: 'succeeds at once', payload: 'ok', attempts: 1, out: true, reject: null },
    { name: 'retriable: retried until it succeeds', payload: 'flaky:2', attempts: 3, out: true, reject: null },
    {
      name: 'retriable: dead-lettered after maxAttempts',
      payload: 'down',
      attempts: 3,
      out: false,
      reject: { code: 'PUBLISH_DB_UNAVAILABLE', kind: 'retriable', attempts: 3 },
    },
    {
      name: 'permanent: not retried',
      payload: 'permanent',
      attempts: 1,
      out: false,
      reject: { code: 'NORMALIZE_PRICE_INVALID', kind: 'permanent', attempts: 1, detail: { field: 'price' } },
    },
    {
      name: 'a bug (TypeError): not retried',
      payload: 'bug',
      attempts: 1,
      out: false,
      reject: { code: 'OPERATOR_BUG', kind: 'bug', attempts: 1 },
    },
    {
      name: 'past its deadline: JOB_TIMEOUT, retried, then dead-lettered',
      payload: 'slow',
      attempts: 3,
      out: false,
      reject: { code: 'JOB_TIMEOUT', kind: 'retriable', attempts: 3 },
    },
    {
      name: 'an output to an unknown port is a bug',
      payload: 'bad-port',
      attempts: 1,
      out: false,
      reject: { code: 'OPERATOR_BUG', kind: 'bug', attempts: 1 },
    },
  ])('$name', async ({ payload, attempts, out, reject }) => {
    const r = await runOne([raw('k', payload)]);
    expect(calls.get('k')).toBe(attempts);
    expect(r.outputs.map((o) => o.key)).toEqual(out ? ['k'] : []);
    expect(r.rejects).toEqual(
      reject
        ? [
            expect.objectContaining({
              ...reject,
              step: 'only',
              operator: 'scripted',
              input: { topic: 't.in', offset: 0, key: 'k' },
            }),
          ]
        : [],
    );
  });

  test('emit.reject: a dead letter with the rejected payload, beside the outputs', async () => {
    const r = await runOne([raw('k', 'reject')]);
    expect(r.outputs.map((o) => o.key)).toEqual(['k']);
    expect(r.rejects).toEqual([
      {
        step: 'only',
        operator: 'scripted',
        code: 'INGEST_RECORD_UNPARSEABLE',
        kind: 'permanent',
        message: 'half of it is bad',
        attempts: 1,
        input: { topic: 't.in', offset: 0, key: 'k' },
        detail: { line: '2' },
        payload: 'the bad half',
      },
    ]);
  });

  test('outputs keep input order whatever the concurrency; each record has its own attempts', async () => {
    const records = ['ok', 'flaky:1', 'permanent', 'ok', 'down'].map((p, i) => raw(`k${i}`, p));
    const r = await runOne(records);
    expect(r.outputs.map((o) => o.key)).toEqual(['k0', 'k1', 'k3']);
    expect(r.rejects.map((x) => [x.input.key, x.code, x.attempts])).toEqual([
      ['k2', 'NORMALIZE_PRICE_INVALID', 1],
      ['k4', 'PUBLISH_DB_UNAVAILABLE', 3],
    ]);
    expect(r.outputs[1]!.headers['listflow.trace-id']).toBe('t.in-0-1');
  });
});

describe('processBatch: chunks, retried whole, split to isolate the record that fails', () => {
  test.each([
    {
      name: 'a clean batch is one call',
      payloads: ['ok', 'ok', 'ok', 'ok'],
      batches: [['k0', 'k1', 'k2', 'k3']],
      rejects: [],
    },
    {
      name: 'a permanent failure splits the batch until only the poisoned record is dead-lettered',
      payloads: ['ok', 'ok', 'permanent', 'ok'],
      batches: [['k0', 'k1', 'k2', 'k3'], ['k0', 'k1'], ['k2', 'k3'], ['k2'], ['k3']],
      rejects: [['k2', 'NORMALIZE_PRICE_INVALID', 1]],
    },
    {
      name: 'a retriable failure retries the whole batch first',
      payloads: ['ok', 'flaky:1', 'ok'],
      batches: [
        ['k0', 'k1', 'k2'],
        ['k0', 'k1', 'k2'],
      ],
      rejects: [],
    },
    {
      name: 'a bug is not retried, only split',
      payloads: ['bug', 'ok'],
      batches: [['k0', 'k1'], ['k0'], ['k1']],
      rejects: [['k0', 'OPERATOR_BUG', 1]],
    },
  ])('$name', async ({ payloads, batches: expected, rejects }) => {
    const r = await runOne(
      payloads.map((p, i) => raw(`k${i}`, p)),
      { operator: 'scripted-batch' },
    );
    expect(batches).toEqual(expected);
    expect(r.outputs.map((o) => o.key)).toEqual(
      payloads.flatMap((_, i) => (rejects.some(([k]) => k === `k${i}`) ? [] : [`k${i}`])),
    );
    expect(r.rejects.map((x) => [x.input.key, x.code, x.attempts])).toEqual(rejects);
  });

  test('more than BATCH_CHUNK records go in chunks of 500, in order', async () => {
    const r = await runOne(
      Array.from({ length: 1201 }, (_, i) => raw(`k${i}`, 'ok')),
      { operator: 'scripted-batch' },
    );
    expect(batches.map((b) => b.length)).toEqual([500, 500, 201]);
    expect(r.outputs).toHaveLength(1201);
    expect(r.outputs[1200]!.key).toBe('k1200');
  });
});

describe('trace context: outputs continue their input trace (runtime/trace/context.ts)', () => {
  test("a second step's outputs carry the first step's trace id, each job's span the next one's parent", async () => {
    const r = await dryRun({
      pipeline: definePipeline({
        name: 'executor-trace-test',
        topics: {
          't.in': { partitions: 1, schema: 'RawListing' },
          't.mid': { partitions: 1, schema: 'RawListing' },
          't.out': { partitions: 1, schema: 'RawListing' },
        },
        steps: [
          step({ id: 'first', outputs: { out: 't.mid' } }),
          step({ id: 'second', input: 't.mid', outputs: { out: 't.out' } }),
        ],
      }),
      operators: { scripted: perRecord },
      inputs: ['a', 'b'].map((k) => ({ key: k, value: raw(k, 'ok') })),
      filesDir: __dirname,
    });
    const mid = (r.topics.get('t.mid') ?? []).map((o) => parseTraceparent(o.headers[TRACEPARENT_HEADER]));
    const out = r.outputs.map((o) => parseTraceparent(o.headers[TRACEPARENT_HEADER]));
    expect(mid).toHaveLength(2);
    expect(out).toHaveLength(2);
    // Inputs without a traceparent (an older producer): each job starts its own trace.
    expect(mid[0]!.traceId).not.toBe(mid[1]!.traceId);
    for (const i of [0, 1]) {
      expect(out[i]!.traceId).toBe(mid[i]!.traceId);
      expect(out[i]!.spanId).not.toBe(mid[i]!.spanId);
    }
    // The Listflow trace id stays the first input's.
    expect(r.outputs.map((o) => o.headers['listflow.trace-id'])).toEqual(['t.in-0-0', 't.in-0-1']);
  });
});
