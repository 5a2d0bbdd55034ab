/**
 * `listflow run --operator NAME --check`: a worker's whole configuration, parsed the way its startup parses it
 * (worker settings, the pipeline file, the step, the operator's config, then the worker built from them as
 * prepareWorker builds it), without connecting to anything. Where startup stops at the first bad part, the
 * check goes on through every part it can still reach, so one run lists every problem.
 *
 * The report gives each effective value with its source: the environment, a default, or the pipeline file
 * (`file`; the built-in pipeline's values count as defaults). Secrets are never shown, only whether they are set.
 */
import { accessSync, constants } from 'node:fs';
import { type ExplainedValue, explainConfig, parseConfig, type ValueSource } from './config';
import { ListflowError } from './errors';
import type { AnyOperator, OperatorRegistry } from './operator';
import type { PipelineSpec, StepSpec } from './pipeline';
import { findStep, operatorEnvValues, parseOperatorConfig, prepareWorker, resolvePipeline } from './run';
import {
  operatorEnvPrefix,
  WORKER_ENV_PREFIX,
  type WorkerSettings,
  workerSettingsFromEnv,
  workerSettingsSpec,
} from './settings';

export interface CheckedGroup {
  /** `worker settings`, `<operator> config`, `step <id> (pipeline file /etc/...)`. */
  readonly title: string;
  readonly values: readonly ExplainedValue[];
}

export interface WorkerConfigCheck {
  readonly ok: boolean;
  readonly step: string | undefined;
  readonly operator: string | undefined;
  /** `built-in` or the pipeline file's path. */
  readonly pipeline: string;
  readonly groups: readonly CheckedGroup[];
  /** Every problem found, each naming the variable (or file), the value received and the fix. */
  readonly problems: readonly string[];
}

/** The problems an error carries: each line of a ConfigError, else its message. */
function problemsOf(e: unknown): string[] {
  if (e instanceof ListflowError && 'problems' in e && Array.isArray(e.problems)) return [...e.problems];
  if (e instanceof Error) return [e.message];
  throw e;
}

/** Runs one part of the configuration; its problems are collected instead of stopping the check. */
function attempt<T>(problems: string[], part: () => T): T | undefined {
  try {
    return part();
  } catch (e) {
    problems.push(...problemsOf(e));
    return undefined;
  }
}

/** Files the settings point at that startup reads before it connects (the Kafka CA, in createKafka). */
function fileProblems(settings: WorkerSettings): string[] {
  if (!settings.kafkaSsl || !settings.kafkaSslCaFile) return [];
  try {
    accessSync(settings.kafkaSslCaFile, constants.R_OK);
    return [];
  } catch (e) {
    return [
      `Cannot read ${WORKER_ENV_PREFIX}KAFKA_SSL_CA_FILE ${JSON.stringify(settings.kafkaSslCaFile)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}. Fix: mount the CA there (Secret listflow-kafka-ca) or point the variable at the PEM file.`,
    ];
  }
}

/** A step's pipeline values (what the pipeline file sets), with the one the environment may override. */
function stepValues(step: StepSpec, source: ValueSource, settings: WorkerSettings | undefined): ExplainedValue[] {
  const v = (key: string, shown: string, from: ValueSource = source): ExplainedValue => ({
    key,
    variable: key,
    shown,
    source: from,
    secret: false,
  });
  const concurrencyOverride = settings?.concurrency;
  return [
    v('operator', step.operator),
    v('input', step.input),
    v(
      'outputs',
      Object.entries(step.outputs)
        .map(([port, topic]) => `${port}=${topic}`)
        .join(','),
    ),
    concurrencyOverride !== undefined
      ? {
          ...v('concurrency', String(concurrencyOverride), 'environment'),
          variable: 'concurrency (LISTFLOW_CONCURRENCY)',
        }
      : v('concurrency', String(step.concurrency)),
    v('threads', String(step.threads ?? 0)),
    v('timeoutMs', String(step.timeoutMs)),
    v(
      'retry',
      `maxAttempts=${step.retry.maxAttempts},initialBackoffMs=${step.retry.initialBackoffMs},maxBackoffMs=${step.retry.maxBackoffMs}`,
    ),
    v('replicas', String(step.replicas)),
  ];
}

/**
 * Checks the configuration of the worker `stepName` (a step id or operator name) would start with in `env`.
 * Never connects: the worker is built (as prepareWorker builds it) but not started.
 */
export function checkWorkerConfig(
  builtIn: PipelineSpec,
  registry: OperatorRegistry,
  stepName: string,
  env: NodeJS.ProcessEnv,
): WorkerConfigCheck {
  const problems: string[] = [];
  const groups: CheckedGroup[] = [];

  const rawSettings = workerSettingsFromEnv(env, registry);
  const settings = attempt(problems, () =>
    parseConfig(workerSettingsSpec, rawSettings, { where: 'worker settings', envPrefix: WORKER_ENV_PREFIX }),
  );
  if (settings) {
    groups.push({
      title: 'worker settings',
      values: explainConfig(workerSettingsSpec, rawSettings, settings, WORKER_ENV_PREFIX),
    });
    problems.push(...fileProblems(settings));
  }

  // The pipeline file's name is one setting: read it even when another setting is bad.
  const fileField = workerSettingsSpec.fields.pipelineFile.parse(rawSettings.pipelineFile);
  const pipelineFile = settings?.pipelineFile ?? (fileField.ok ? fileField.value : undefined);
  const pipeline = attempt(problems, () => resolvePipeline(builtIn, { pipelineFile }, registry));
  // With a broken pipeline file, the built-in pipeline still tells which operator the step runs.
  const step = attempt(problems, () => findStep(pipeline ?? builtIn, stepName));
  if (step && pipeline) {
    const title = pipelineFile
      ? `step ${step.id} (pipeline file ${pipelineFile})`
      : `step ${step.id} (built-in pipeline)`;
    groups.push({ title, values: stepValues(step, pipelineFile ? 'file' : 'default', settings) });
  }

  let operator: AnyOperator | undefined;
  if (step) {
    operator = registry[step.operator];
    if (!operator) problems.push(`step ${step.id} names operator ${step.operator}, which is not in operators/index.ts`);
  }
  if (operator) {
    const prefix = operatorEnvPrefix(operator.name);
    const raw = operatorEnvValues(operator, env);
    const config = attempt(problems, () => parseOperatorConfig(operator, env, { where: `${operator.name} config` }));
    if (config)
      groups.push({ title: `${operator.name} config`, values: explainConfig(operator.config, raw, config, prefix) });
  }

  // Every part parsed: build the worker exactly as startup does, so anything it still refuses is reported too.
  if (problems.length === 0) attempt(problems, () => prepareWorker(builtIn, registry, stepName, env));

  return {
    ok: problems.length === 0,
    step: step?.id,
    operator: operator?.name,
    pipeline: pipelineFile ?? 'built-in',
    groups,
    problems,
  };
}

/** The check as text: a heading, then each group's variables, values and sources in columns. */
export function formatWorkerConfigCheck(check: WorkerConfigCheck): string[] {
  const lines: string[] = [];
  if (check.ok) {
    lines.push(
      `${check.step} (operator ${check.operator}, pipeline ${check.pipeline}): configuration OK. Nothing was connected to.`,
    );
  } else {
    lines.push(`${check.step ?? 'worker'}: ${check.problems.length} configuration problem(s):`);
    for (const p of check.problems) lines.push(`  - ${p}`);
  }
  for (const g of check.groups) {
    lines.push('', g.title);
    const width = Math.max(...g.values.map((v) => v.variable.length));
    const valueWidth = Math.min(60, Math.max(...g.values.map((v) => v.shown.length)));
    for (const v of g.values) {
      const line =
        v.source === 'unset'
          ? `  ${v.variable.padEnd(width)}  (unset)`
          : `  ${v.variable.padEnd(width)}  ${v.shown.padEnd(valueWidth)}  ${v.source}`;
      lines.push(line);
    }
  }
  return lines;
}
