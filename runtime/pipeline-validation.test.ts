import { PermanentError } from './errors';
import type { PipelineSpec, StepSpec } from './pipeline';
import { assertValidPipeline, assertValidStep, type OperatorShape, validatePipeline } from './pipeline-validation';

/** Operator shapes only: validation needs nothing else of an operator. */
const shapes: Record<string, OperatorShape> = {
  parse: { input: 'IngestJob', outputs: { raw: 'RawListing', status: 'IngestJobStatus' } },
  clean: { input: 'RawListing', outputs: { listings: 'Listing' }, cpuBound: true },
};

const step = (over: Partial<StepSpec>): StepSpec => ({
  id: 'clean',
  operator: 'clean',
  input: 'raw',
  outputs: { listings: 'clean' },
  concurrency: 4,
  timeoutMs: 10_000,
  retry: { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 1000 },
  replicas: 2,
  ...over,
});

const valid = (): PipelineSpec => ({
  name: 'demo',
  topics: {
    jobs: { partitions: 1, schema: 'IngestJob', external: true },
    status: { partitions: 1, schema: 'IngestJobStatus', compact: true },
    raw: { partitions: 3, schema: 'RawListing', retentionMs: 1000 },
    clean: { partitions: 3, schema: 'Listing' },
  },
  steps: [
    step({ id: 'parse', operator: 'parse', input: 'jobs', outputs: { raw: 'raw', status: 'status' }, replicas: 1 }),
    step({}),
  ],
});

type Mutate = (p: PipelineSpec) => unknown;
const withStep =
  (i: number, over: Partial<StepSpec>): Mutate =>
  (p) => ({
    ...p,
    steps: p.steps.map((s, j) => (j === i ? { ...s, ...over } : s)),
  });
const withTopic =
  (name: string, over: object | undefined): Mutate =>
  (p) => {
    const topics: Record<string, unknown> = { ...p.topics };
    if (over === undefined) delete topics[name];
    else topics[name] = { ...(p.topics[name] ?? {}), ...over };
    return { ...p, topics };
  };

describe('validatePipeline', () => {
  test('the small valid pipeline has no problems', () => {
    expect(validatePipeline(valid(), shapes)).toEqual([]);
    expect(validatePipeline(withStep(1, { threads: 2 })(valid()), shapes)).toEqual([]);
  });

  test.each<[string, Mutate, { path: string; message: string }[]]>([
    [
      'duplicate step ids',
      withStep(1, { id: 'parse' }),
      [
        {
          path: 'steps[1].id',
          message:
            'Step id "parse" at steps[1].id is already used by steps[0].id. Fix: give every step a unique id (ids name consumer groups).',
        },
      ],
    ],
    [
      'threads for an operator that is not cpuBound',
      withStep(0, { threads: 2 }),
      [
        {
          path: 'steps[0].threads',
          message:
            'Operator "parse" cannot run on threads (at steps[0].threads, received 2 of type number): only operators that declare cpuBound do, because their process needs no services and returns a list. Fix: remove steps[0].threads or set it to 0.',
        },
      ],
    ],
    [
      'threads out of range',
      withStep(1, { threads: -1 }),
      [
        {
          path: 'steps[1].threads',
          message:
            'Expected an integer between 0 and 64 for steps[1].threads but received -1 of type number. Fix: set the worker threads for process, e.g. 1, or 0 for none.',
        },
      ],
    ],
    [
      'unknown operator',
      withStep(1, { operator: 'cleen' }),
      [
        {
          path: 'steps[1].operator',
          message:
            'Expected an operator from operators/index.ts (parse, clean) for steps[1].operator but received "cleen" of type string. Fix: use a registered operator name, or register the operator in operators/index.ts.',
        },
      ],
    ],
    [
      'input topic not declared',
      withStep(1, { input: 'rwa' }),
      [
        {
          path: 'steps[1].input',
          message:
            'Expected a topic declared in topics for steps[1].input but received "rwa" of type string. Fix: declare it under topics, or use one of jobs, status, raw, clean.',
        },
      ],
    ],
    [
      'output topic not declared',
      withStep(1, { outputs: { listings: 'cleaned' } }),
      [
        {
          path: 'steps[1].outputs.listings',
          message:
            'Expected a topic declared in topics for steps[1].outputs.listings but received "cleaned" of type string. Fix: declare it under topics, or use one of jobs, status, raw, clean.',
        },
      ],
    ],
    [
      'missing output port',
      withStep(0, { outputs: { raw: 'raw' } }),
      [
        {
          path: 'steps[0].outputs',
          message:
            'Missing output port at steps[0].outputs: operator "parse" writes port "status" (IngestJobStatus) but the step maps only raw. Fix: add steps[0].outputs.status with a topic of schema IngestJobStatus.',
        },
      ],
    ],
    [
      'extra output port',
      withStep(1, { outputs: { listings: 'clean', rejects: 'clean' } }),
      [
        {
          path: 'steps[1].outputs.rejects',
          message:
            'Operator "clean" has no output port "rejects" (at steps[1].outputs.rejects); its ports are listings. Fix: remove steps[1].outputs.rejects or rename it to one of those ports.',
        },
      ],
    ],
    [
      "input topic's schema differs from the operator's input schema",
      withTopic('raw', { schema: 'Listing' }),
      [
        {
          path: 'steps[0].outputs.raw',
          message:
            'Schema mismatch at steps[0].outputs.raw: operator "parse" writes RawListing on port "raw" but topic "raw" carries "Listing" of type string. Fix: route the port to a topic whose schema is RawListing, or set topics["raw"].schema to RawListing.',
        },
        {
          path: 'steps[1].input',
          message:
            'Schema mismatch at steps[1].input: topic "raw" carries "Listing" of type string but operator "clean" reads RawListing. Fix: read a topic whose schema is RawListing, or set topics["raw"].schema to RawListing.',
        },
      ],
    ],
    [
      'a topic read by a step but written by nobody and not external',
      withTopic('jobs', { external: false }),
      [
        {
          path: 'steps[0].input',
          message:
            'Topic "jobs" read at steps[0].input is written by no step and is not marked external. Fix: route a step output to it, or set topics["jobs"].external to true if it is written from outside the pipeline.',
        },
      ],
    ],
    [
      'replicas above the input partitions',
      withStep(1, { replicas: 4 }),
      [
        {
          path: 'steps[1].replicas',
          message:
            'Expected an integer between 1 and 3 for steps[1].replicas but received 4 of type number. Fix: replicas beyond the 3 partitions of "raw" would sit idle; lower replicas or raise topics["raw"].partitions.',
        },
      ],
    ],
    [
      'partitions below 1',
      withTopic('clean', { partitions: 0 }),
      [
        {
          path: 'topics["clean"].partitions',
          message:
            'Expected an integer between 1 and 10000 for topics["clean"].partitions but received 0 of type number. Fix: give the topic at least 1 partition (e.g. 3).',
        },
      ],
    ],
    [
      'concurrency out of range',
      withStep(1, { concurrency: 0 }),
      [
        {
          path: 'steps[1].concurrency',
          message:
            'Expected an integer between 1 and 1024 for steps[1].concurrency but received 0 of type number. Fix: set the jobs in flight per partition, e.g. 4.',
        },
      ],
    ],
    [
      'timeout out of range',
      withStep(1, { timeoutMs: 5 }),
      [
        {
          path: 'steps[1].timeoutMs',
          message:
            'Expected an integer between 100 and 86400000 for steps[1].timeoutMs but received 5 of type number. Fix: set the per-job deadline in milliseconds, e.g. 30000.',
        },
      ],
    ],
    [
      'retry: zero attempts and max backoff below initial backoff',
      withStep(1, { retry: { maxAttempts: 0, initialBackoffMs: 500, maxBackoffMs: 100 } }),
      [
        {
          path: 'steps[1].retry.maxAttempts',
          message:
            'Expected an integer between 1 and 100 for steps[1].retry.maxAttempts but received 0 of type number. Fix: count every attempt including the first, e.g. 3.',
        },
        {
          path: 'steps[1].retry.maxBackoffMs',
          message:
            'Expected an integer between 500 and 3600000 for steps[1].retry.maxBackoffMs but received 100 of type number. Fix: set the longest retry delay, at least initialBackoffMs.',
        },
      ],
    ],
    [
      'unknown schema name (e.g. from a JSON pipeline file)',
      withTopic('status', { schema: 'Status' }),
      [
        {
          path: 'topics["status"].schema',
          message:
            'Expected one of the schemas in schemas/*.avsc (EnrichedListing, ImageAsset, IngestJob, IngestJobStatus, Listing, PriceChanged, PublishedListing, RawListing, SourceDeclaration, SourceKey, SourceState) for topics["status"].schema but received "Status" of type string. Fix: use the name of a schema file without .avsc.',
        },
        {
          path: 'steps[0].outputs.status',
          message:
            'Schema mismatch at steps[0].outputs.status: operator "parse" writes IngestJobStatus on port "status" but topic "status" carries "Status" of type string. Fix: route the port to a topic whose schema is IngestJobStatus, or set topics["status"].schema to IngestJobStatus.',
        },
      ],
    ],
    [
      'a string where a number belongs (JSON file)',
      withStep(1, { concurrency: '4' as unknown as number }),
      [
        {
          path: 'steps[1].concurrency',
          message:
            'Expected an integer between 1 and 1024 for steps[1].concurrency but received "4" of type string. Fix: set the jobs in flight per partition, e.g. 4.',
        },
      ],
    ],
  ])('%s', (_name, mutate, expected) => {
    expect(validatePipeline(mutate(valid()), shapes)).toEqual(expected);
  });

  test.each<[string, unknown, string[]]>([
    ['not an object', 'pipeline', ['(pipeline)']],
    ['no steps array', { name: 'demo', topics: {} }, ['steps']],
    ['a step that is not an object', { name: 'demo', topics: {}, steps: [null] }, ['steps[0]']],
    ['bad pipeline name', { ...valid(), name: 'Demo Pipeline' }, ['name']],
  ])('shape problems never crash: %s', (_name, spec, paths) => {
    expect(validatePipeline(spec, shapes).map((p) => p.path)).toEqual(paths);
  });
});

describe('assertValidPipeline', () => {
  test('returns the spec when valid', () => {
    const spec = valid();
    expect(assertValidPipeline(spec, shapes)).toBe(spec);
  });

  test('throws PIPELINE_INVALID listing every problem with its path', () => {
    const spec = withStep(1, { operator: 'nope', replicas: 9 })(valid());
    let thrown: unknown;
    try {
      assertValidPipeline(spec, shapes, 'pipeline file /tmp/p.json');
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(PermanentError);
    expect((thrown as PermanentError).code).toBe('PIPELINE_INVALID');
    expect((thrown as Error).message).toBe(
      [
        'Invalid pipeline file /tmp/p.json "demo" (2 problems):',
        '  - Expected an operator from operators/index.ts (parse, clean) for steps[1].operator but received "nope" of type string. Fix: use a registered operator name, or register the operator in operators/index.ts.',
        '  - Expected an integer between 1 and 3 for steps[1].replicas but received 9 of type number. Fix: replicas beyond the 3 partitions of "raw" would sit idle; lower replicas or raise topics["raw"].partitions.',
      ].join('\n'),
    );
  });
});

describe('assertValidStep: the one step a worker runs', () => {
  const clean = { name: 'clean', ...shapes.clean! };
  const onlyClean = (p: PipelineSpec): PipelineSpec => ({ ...p, steps: p.steps.filter((s) => s.id === 'clean') });
  test.each([
    { name: 'a valid step', pipeline: valid(), operator: clean, error: null },
    {
      // Nothing writes `raw` any more, and the other step is gone: neither is this worker's concern.
      name: 'alone in its pipeline, its input written by nobody',
      pipeline: onlyClean(valid()),
      operator: clean,
      error: null,
    },
    {
      name: 'an input topic of another schema',
      pipeline: valid(),
      operator: { ...clean, input: 'IngestJob' as const },
      error:
        /Schema mismatch at steps\[1\]\.input: topic "raw" carries "RawListing" of type string but operator "clean" reads IngestJob/,
    },
    {
      name: 'a port without a topic',
      pipeline: valid(),
      operator: { ...clean, outputs: { listings: 'Listing' as const, extra: 'Listing' as const } },
      error: /steps\[1\]\.outputs/,
    },
    {
      name: 'threads for an operator that is not cpuBound',
      pipeline: withStep(1, { threads: 2 })(valid()) as PipelineSpec,
      operator: { ...clean, cpuBound: false },
      error: /Operator "clean" cannot run on threads \(at steps\[1\]\.threads/,
    },
  ])('$name', ({ pipeline, operator, error }) => {
    const check = () => assertValidStep(pipeline, 'clean', operator);
    if (error === null) expect(check).not.toThrow();
    else expect(check).toThrow(error);
  });

  test('a step that is not in the pipeline', () => {
    expect(() => assertValidStep(valid(), 'nope', clean)).toThrow(/Step "nope" is not in the pipeline/);
  });
});
