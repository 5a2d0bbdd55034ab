import { type BatchOptions, batchOptions, type SamplerChoice, samplerChoice } from './otel-env';

describe('batchOptions', () => {
  const cases: { env: NodeJS.ProcessEnv; want: BatchOptions }[] = [
    { env: {}, want: {} },
    {
      env: {
        OTEL_BSP_MAX_QUEUE_SIZE: '65536',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '4096',
        OTEL_BSP_SCHEDULE_DELAY: '200',
        OTEL_BSP_EXPORT_TIMEOUT: '10000',
      },
      want: { maxQueueSize: 65536, maxExportBatchSize: 4096, scheduledDelayMillis: 200, exportTimeoutMillis: 10000 },
    },
    { env: { OTEL_BSP_SCHEDULE_DELAY: ' 250 ' }, want: { scheduledDelayMillis: 250 } },
    { env: { OTEL_BSP_MAX_QUEUE_SIZE: 'lots', OTEL_BSP_SCHEDULE_DELAY: '0' }, want: {} },
    { env: { OTEL_BSP_MAX_QUEUE_SIZE: '-1', OTEL_BSP_EXPORT_TIMEOUT: '1.5' }, want: {} },
  ];
  test.each(cases)('$env', ({ env, want }) => {
    expect(batchOptions(env)).toEqual(want);
  });
});

describe('samplerChoice', () => {
  const cases: { env: NodeJS.ProcessEnv; want: SamplerChoice }[] = [
    { env: {}, want: { kind: 'parentbased_always_on' } },
    { env: { OTEL_TRACES_SAMPLER: 'always_off' }, want: { kind: 'always_off' } },
    { env: { OTEL_TRACES_SAMPLER: 'AlWays_On' }, want: { kind: 'always_on' } },
    { env: { OTEL_TRACES_SAMPLER: 'parentbased_always_off' }, want: { kind: 'parentbased_always_off' } },
    {
      env: { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
      want: { kind: 'traceidratio', ratio: 0.1 },
    },
    { env: { OTEL_TRACES_SAMPLER: 'traceidratio' }, want: { kind: 'traceidratio', ratio: 1 } },
    {
      env: { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' },
      want: { kind: 'parentbased_traceidratio', ratio: 1 },
    },
    {
      env: { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: 'half' },
      want: { kind: 'traceidratio', ratio: 1 },
    },
    { env: { OTEL_TRACES_SAMPLER: 'jaeger_remote' }, want: { kind: 'parentbased_always_on' } },
  ];
  test.each(cases)('$env', ({ env, want }) => {
    expect(samplerChoice(env)).toEqual(want);
  });
});
