/**
 * The SDK's standard batch-processor and sampler variables, read here: @opentelemetry/sdk-trace 3.x takes its
 * options only from code, so without this OTEL_BSP_* and OTEL_TRACES_SAMPLER would be silently ignored.
 * Pure (no SDK import): runtime/trace/otel.ts turns the result into the SDK's objects.
 */

export interface BatchOptions {
  maxQueueSize?: number;
  maxExportBatchSize?: number;
  scheduledDelayMillis?: number;
  exportTimeoutMillis?: number;
}

/** The sampler named by OTEL_TRACES_SAMPLER (the spec's names); `ratio` from OTEL_TRACES_SAMPLER_ARG. */
export type SamplerChoice =
  | { readonly kind: 'always_on' | 'always_off' | 'parentbased_always_on' | 'parentbased_always_off' }
  | { readonly kind: 'traceidratio' | 'parentbased_traceidratio'; readonly ratio: number };

const BATCH_VARS: Record<keyof BatchOptions, string> = {
  maxQueueSize: 'OTEL_BSP_MAX_QUEUE_SIZE',
  maxExportBatchSize: 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
  scheduledDelayMillis: 'OTEL_BSP_SCHEDULE_DELAY',
  exportTimeoutMillis: 'OTEL_BSP_EXPORT_TIMEOUT',
};

/** The batch processor's options from OTEL_BSP_*; a value that is not a positive integer is left to the default. */
export function batchOptions(env: NodeJS.ProcessEnv): BatchOptions {
  const out: BatchOptions = {};
  for (const [key, name] of Object.entries(BATCH_VARS) as [keyof BatchOptions, string][]) {
    const v = env[name]?.trim();
    if (v && /^\d+$/.test(v) && Number(v) > 0) out[key] = Number(v);
  }
  return out;
}

/**
 * The sampler from OTEL_TRACES_SAMPLER; unset or unknown is the spec's default, parentbased_always_on. Note for
 * a pipeline: the CLI marks every job it submits sampled, so a parent-based ratio samples everything;
 * `traceidratio` decides by trace id alone, the same way in every worker, so one listing's trace is kept whole.
 */
export function samplerChoice(env: NodeJS.ProcessEnv): SamplerChoice {
  const name = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase();
  switch (name) {
    case 'always_on':
    case 'always_off':
    case 'parentbased_always_on':
    case 'parentbased_always_off':
      return { kind: name };
    case 'traceidratio':
    case 'parentbased_traceidratio': {
      const arg = Number(env.OTEL_TRACES_SAMPLER_ARG);
      const ratio = env.OTEL_TRACES_SAMPLER_ARG !== undefined && arg >= 0 && arg <= 1 ? arg : 1;
      return { kind: name, ratio };
    }
    default:
      return { kind: 'parentbased_always_on' };
  }
}
