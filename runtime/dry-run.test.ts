/**
 * The dry-run harness on a two-step pipeline of test operators: the error policy (retries, rejects, schema
 * mismatches), config and the step names. The listings pipeline with its real operators is
 * test/unit/dry-run-listings.test.ts (the runtime's tests, like the runtime, name no operator).
 */
import type { RawListing } from '../schemas/generated/types';
import { rawListing } from '../test/support/raw-listing';
import { defineConfig, field } from './config';
import { dryRun, type DryRunOptions, stepsThrough } from './dry-run';
import { PermanentError, RetriableError } from './errors';
import { defineOperator, emit } from './operator';
import { definePipeline, type StepSpec } from './pipeline';

const clock = { now: () => new Date('2026-02-01T00:00:00Z') };

const calls = new Map<string, number>();
const first = defineOperator({
  name: 'first',
  summary: 'emits five raw listings for its one input',
  input: 'RawListing',
  outputs: { raw: 'RawListing' },
  config: defineConfig({}),
  process: (seed) =>
    ['ok', 'flaky', 'broken', 'bad-schema', 'always-down'].map((k, i) =>
      emit.output('raw', k, rawListing({ jobId: seed.jobId, listingKey: k, position: i })),
    ),
});
const second = defineOperator({
  name: 'second',
  summary: 'fails in several ways',
  input: 'RawListing',
  outputs: { raw: 'RawListing' },
  config: defineConfig({
    allowBroken: field.boolean({ description: 'Pass the broken record on instead of rejecting it.', default: false }),
  }),
  process: (r: RawListing, ctx) => {
    const n = (calls.get(r.listingKey) ?? 0) + 1;
    calls.set(r.listingKey, n);
    if (r.listingKey === 'flaky' && n < 3) throw new RetriableError('UNCLASSIFIED_ERROR', 'try again');
    if (r.listingKey === 'always-down') throw new RetriableError('PUBLISH_DB_UNAVAILABLE', 'down');
    if (r.listingKey === 'broken' && !ctx.config.allowBroken) {
      throw new PermanentError('NORMALIZE_PRICE_INVALID', 'bad price');
    }
    if (r.listingKey === 'bad-schema')
      return [emit.output('raw', r.listingKey, { ...r, position: 'x' as unknown as number })];
    return [emit.output('raw', r.listingKey, r)];
  },
});

const step = (over: Pick<StepSpec, 'id' | 'operator' | 'input' | 'outputs'> & Partial<StepSpec>): StepSpec => ({
  concurrency: 1,
  timeoutMs: 10_000,
  retry: { maxAttempts: 5, initialBackoffMs: 1000, maxBackoffMs: 60_000 },
  replicas: 1,
  ...over,
});
const twoSteps = definePipeline({
  name: 'tiny',
  topics: {},
  steps: [
    step({ id: 'a', operator: 'first', input: 't.in', outputs: { raw: 't.raw' } }),
    step({
      id: 'b',
      operator: 'second',
      input: 't.raw',
      outputs: { raw: 't.out' },
      concurrency: 64,
      retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 1 },
    }),
  ],
});

const run = (over: Partial<DryRunOptions> = {}) => {
  calls.clear();
  return dryRun({
    pipeline: twoSteps,
    operators: { first, second },
    inputs: [{ key: 'job-1', value: rawListing({ jobId: 'job-1', listingKey: 'seed' }) }],
    filesDir: __dirname,
    clock,
    ...over,
  });
};

describe('error policy, on a two-step pipeline of test operators', () => {
  test('retriable errors are retried up to maxAttempts; permanent ones and schema mismatches are rejects', async () => {
    const r = await run();
    expect(r.outputs.map((o) => o.key)).toEqual(['ok', 'flaky']);
    expect(calls.get('flaky')).toBe(3);
    expect(calls.get('always-down')).toBe(3);
    expect(calls.get('broken')).toBe(1);
    expect(r.rejects.map((x) => [x.input.key, x.code, x.kind, x.attempts])).toEqual([
      ['broken', 'NORMALIZE_PRICE_INVALID', 'permanent', 1],
      ['bad-schema', 'SERDE_ENCODE_FAILED', 'bug', 1],
      ['always-down', 'PUBLISH_DB_UNAVAILABLE', 'retriable', 3],
    ]);
    expect(r.rejects[1]!.message).toMatch(/^value does not match schema RawListing at position="x"/);
  });
});

describe('config and step names', () => {
  test('an unknown setting fails like a worker config', async () => {
    await expect(run({ set: { second: { colour: 'red' } } })).rejects.toThrow(
      /Invalid second config \(dry run\):\n {2}- Unknown option LISTFLOW_SECOND_COLOUR/,
    );
  });
  test("an operator's environment variables are read as a worker reads them; a step not run has no config", async () => {
    const r = await run({ through: 'a', env: { LISTFLOW_SECOND_ALLOW_BROKEN: 'true' } });
    expect(r.configs.a).toEqual({});
    expect(r.configs.b).toBeUndefined();
    const all = await run({ env: { LISTFLOW_SECOND_ALLOW_BROKEN: 'true' } });
    expect(all.configs.b).toEqual({ allowBroken: true });
    expect(all.outputs.map((o) => o.key)).toEqual(['ok', 'flaky', 'broken']);
  });
  test('an unknown --through names the steps', () => {
    expect(() => stepsThrough(twoSteps, 'nope')).toThrow(/Unknown operator or step "nope". Fix: use one of a, b/);
  });
  test('--through stops after that step, named by step id or operator name', async () => {
    for (const through of ['a', 'first']) {
      const r = await run({ through });
      expect([r.steps, r.through]).toEqual([['a'], 'a']);
      expect(r.outputs.map((o) => o.key)).toEqual(['ok', 'flaky', 'broken', 'bad-schema', 'always-down']);
    }
  });
});
