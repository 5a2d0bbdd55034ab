/**
 * Starts one worker process for one pipeline step: the code behind `listflow run --operator NAME`.
 * Parses every setting once, up front (worker settings from LISTFLOW_*, operator config from
 * LISTFLOW_<OPERATOR>_*), installs SIGTERM/SIGINT handlers and resolves with the process exit code.
 */
import { readFileSync } from 'node:fs';
import { fromEnv, parseConfig } from './config';
import { PermanentError } from './errors';
import type { AnyContext, AnyOperator, OperatorRegistry } from './operator';
import type { PipelineSpec, StepSpec } from './pipeline';
import { assertValidPipeline } from './pipeline-validation';
import { loadWorkerSettings, operatorEnvPrefix, type WorkerSettings } from './settings';
import { AssignedWorker } from './assigned/worker';
import { Worker } from './worker';

/**
 * The pipeline: the built-in one, or LISTFLOW_PIPELINE_FILE (JSON, e.g. from a Kubernetes ConfigMap).
 * Either is validated against the operator registry; an invalid one throws PIPELINE_INVALID listing every problem.
 */
export function resolvePipeline(
  builtIn: PipelineSpec,
  settings: Pick<WorkerSettings, 'pipelineFile'>,
  registry: OperatorRegistry,
): PipelineSpec {
  if (!settings.pipelineFile) return assertValidPipeline(builtIn, registry, 'built-in pipeline');
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(settings.pipelineFile, 'utf8'));
  } catch (e) {
    throw new PermanentError(
      'PIPELINE_INVALID',
      `cannot read pipeline file ${settings.pipelineFile} (LISTFLOW_PIPELINE_FILE): ${(e as Error).message}. Fix: mount the pipeline there (ConfigMap listflow-pipeline) or unset LISTFLOW_PIPELINE_FILE to use the built-in pipeline.`,
    );
  }
  return assertValidPipeline(parsed, registry, `pipeline file ${settings.pipelineFile}`);
}

export function findStep(pipeline: PipelineSpec, name: string): StepSpec {
  const step = pipeline.steps.find((s) => s.id === name) ?? pipeline.steps.find((s) => s.operator === name);
  if (!step) {
    throw new PermanentError(
      'PIPELINE_INVALID',
      `Unknown operator or step ${JSON.stringify(name)}. Fix: use one of ${pipeline.steps.map((s) => s.id).join(', ')}.`,
    );
  }
  return step;
}

/** An operator's settings as the environment gives them: LISTFLOW_<OPERATOR>_* (and its fields' own names). */
export function operatorEnvValues(operator: AnyOperator, env: NodeJS.ProcessEnv): Record<string, unknown> {
  return fromEnv(operator.config, env, operatorEnvPrefix(operator.name));
}

export interface OperatorConfigOptions {
  /** Values over the environment's, later ones winning (the dry run's derived and explicit settings). */
  readonly over?: readonly Readonly<Record<string, unknown>>[];
  /** What the config is called in errors; default `<operator> config (environment)`. */
  readonly where?: string;
}

/**
 * The one parse of an operator's config from the environment (a worker's startup, `run --check`, the dry run).
 * ConfigError lists every problem.
 */
export function parseOperatorConfig(
  operator: AnyOperator,
  env: NodeJS.ProcessEnv,
  opts: OperatorConfigOptions = {},
): AnyContext['config'] {
  const raw = Object.assign(operatorEnvValues(operator, env), ...(opts.over ?? []));
  return parseConfig(operator.config, raw, {
    where: opts.where ?? `${operator.name} config (environment)`,
    envPrefix: operatorEnvPrefix(operator.name),
  });
}

/** What runWorker needs of a worker: the job worker (worker.ts) or an owning step's (assigned/worker.ts). */
export interface StepWorker {
  readonly logger: AnyContext['logger'];
  readonly done: Promise<number>;
  start(): Promise<void>;
  stop(reason: string): Promise<number>;
}

export interface PreparedWorker {
  readonly worker: StepWorker;
  readonly step: StepSpec;
}

/** Validates all configuration and builds the worker (without connecting). */
export function prepareWorker(
  builtIn: PipelineSpec,
  registry: OperatorRegistry,
  stepName: string,
  env: NodeJS.ProcessEnv,
): PreparedWorker {
  const settings = loadWorkerSettings(env, registry);
  const pipeline = resolvePipeline(builtIn, settings, registry);
  const step = findStep(pipeline, stepName);
  const operator = registry[step.operator];
  if (!operator)
    throw new PermanentError(
      'PIPELINE_INVALID',
      `step ${step.id} names operator ${step.operator}, which is not in operators/index.ts`,
    );
  const operatorConfig = parseOperatorConfig(operator, env);
  const options = { pipeline, step, operator, operatorConfig, settings };
  return { worker: operator.own ? new AssignedWorker({ ...options, env }) : new Worker(options), step };
}

/** Runs until SIGTERM/SIGINT or a crash; resolves with the exit code. */
export async function runWorker(prepared: PreparedWorker): Promise<number> {
  const { worker } = prepared;
  const onSignal = (signal: NodeJS.Signals) => void worker.stop(signal);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    await worker.start();
  } catch (e) {
    worker.logger.error({ err: e }, 'worker failed to start');
    await worker.stop('start failed');
    throw e;
  }
  return worker.done;
}
