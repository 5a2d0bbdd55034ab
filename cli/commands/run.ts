/**
 * `listflow run --operator NAME`: one worker in this process (what a Kubernetes pod runs).
 * `listflow run --operator NAME --check`: that worker's whole configuration parsed as its startup parses it,
 * printed with each value's source (secrets redacted), without connecting to anything (runtime/config-check.ts).
 * `listflow run --all`: one child process per pipeline step, supervised (cli/supervisor.ts): ports
 * base+index, logs in .listflow/logs/<step>.log, restarts with capped backoff, signals forwarded.
 */
import { join, resolve } from 'node:path';
import { platformLayout } from '../../infra/layout';
import { operators } from '../../operators';
import builtInPipeline from '../../pipelines/listings';
import { createTopicsAndWait } from '../../runtime/kafka';
import type { PipelineSpec } from '../../runtime/pipeline';
import { checkWorkerConfig, formatWorkerConfigCheck } from '../../runtime/config-check';
import { findStep, parseOperatorConfig, prepareWorker, runWorker } from '../../runtime/run';
import { type Command, intOption, printJson, stringOption, UsageError } from '../command';
import { type CliContext, cliContext } from '../context';
import { connectAdmin, withKafka } from '../kafka-io';
import { Supervisor } from '../supervisor';
import { creationConfigs, desiredTopics } from './topics';

/** Checks every step's operator config now, so a missing setting is one clear error, not a crash loop. */
function validateSteps(pipeline: PipelineSpec, env: NodeJS.ProcessEnv): void {
  for (const step of pipeline.steps) {
    findStep(pipeline, step.id);
    const operator = operators[step.operator as keyof typeof operators];
    if (!operator) throw new UsageError(`step ${step.id} names operator ${step.operator}, which does not exist.`);
    parseOperatorConfig(operator, env);
  }
}

/** Fails fast (one line) when Kafka is unreachable or topics are missing; creates them with --create-topics. */
async function checkTopics(ctx: CliContext, create: boolean, log: (l: string) => void): Promise<void> {
  const admin = await connectAdmin(ctx);
  try {
    const existing = new Set(await withKafka(ctx, () => admin.listTopics()));
    const missing = desiredTopics(ctx.pipeline).filter((d) => !existing.has(d.topic));
    if (missing.length === 0) return;
    if (!create) {
      throw new Error(
        `topics missing: ${missing.map((d) => d.topic).join(', ')}. Fix: run \`listflow topics apply\` (or pass --create-topics).`,
      );
    }
    await withKafka(ctx, () =>
      createTopicsAndWait(
        admin,
        // The same partitions, policy and retention as `topics apply` (local runs: one replica).
        missing.map((d) => ({
          topic: d.topic,
          numPartitions: d.partitions,
          replicationFactor: 1,
          configEntries: creationConfigs(d),
        })),
      ),
    );
    log(`run: created ${missing.length} missing topic(s): ${missing.map((d) => d.topic).join(', ')}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export const runCommands: Command[] = [
  {
    path: ['run'],
    summary: 'Run one worker (--operator NAME) in this process, or every step as supervised child processes (--all).',
    maxPositionals: 0,
    options: {
      operator: { type: 'string' },
      all: { type: 'boolean' },
      'base-port': { type: 'string' },
      'log-dir': { type: 'string' },
      'echo-logs': { type: 'boolean' },
      'ready-file': { type: 'string' },
      'max-restarts': { type: 'string' },
      'create-topics': { type: 'boolean' },
      check: { type: 'boolean' },
    },
    optionHelp: {
      operator: `Step id or operator name to run in this process (operators: ${Object.keys(operators).join(', ')}).`,
      all: 'Start one child process per pipeline step and supervise them until SIGTERM/SIGINT.',
      'base-port': '--all: HTTP port of the first child (LISTFLOW_HTTP_PORT); the others get base+1, base+2...',
      'log-dir': '--all: where <step>.log files go (default .listflow/logs).',
      'echo-logs': '--all: also copy every child log line to stderr, prefixed with [step].',
      'ready-file': '--all: write this JSON file once every worker answers /readyz.',
      'max-restarts': '--all: consecutive crashes of one step before giving up (default 5).',
      'create-topics': '--all: create missing topics instead of failing (local runs; deploys use `topics apply`).',
      check:
        "--operator: parse the worker's whole configuration as startup does, print every value and its source (secrets redacted), connect to nothing; exit 1 listing every problem.",
    },
    details:
      "Worker settings come from LISTFLOW_* and operator settings from LISTFLOW_<OPERATOR>_* (see docs).\nExit code: the worker's (0 after a clean drain); with --all, 1 if a step kept crashing or did not drain; with --check, 0 when the configuration is valid, else 1.",
    async run(args, io) {
      const operator = stringOption(args, 'operator');
      const all = args.values.all === true;
      if (!!operator === all) throw new UsageError('Pass exactly one of --operator NAME or --all.');
      if (args.values.check === true) {
        if (!operator) throw new UsageError('--check goes with --operator NAME (one worker at a time).');
        const check = checkWorkerConfig(builtInPipeline, operators, operator, process.env);
        if (io.json) printJson(io, check);
        else for (const line of formatWorkerConfigCheck(check)) (check.ok ? io.out : io.err)(line);
        return check.ok ? 0 : 1;
      }
      if (operator) {
        const prepared = prepareWorker(builtInPipeline, operators, operator, process.env);
        const code = await runWorker(prepared);
        // A library handle left open must not keep a stopped worker alive.
        setTimeout(() => process.exit(code), 2000).unref();
        return code;
      }
      const ctx = cliContext(process.env, 'run');
      validateSteps(ctx.pipeline, process.env);
      await checkTopics(ctx, args.values['create-topics'] === true, io.err);
      const basePort = intOption(args, 'base-port', 1, 65000) ?? ctx.settings.httpPort;
      const logDir = resolve(stringOption(args, 'log-dir') ?? platformLayout().logs);
      const main = process.argv[1];
      if (!main) throw new Error('cannot tell which script to run the workers with (process.argv[1] is empty)');
      const readyFile = stringOption(args, 'ready-file');
      const supervisor = new Supervisor({
        log: io.err,
        echo: args.values['echo-logs'] === true,
        maxRestarts: intOption(args, 'max-restarts', 0, 1000) ?? 5,
        graceMs: ctx.settings.shutdownGraceMs + 5000,
        readyFile: readyFile ? resolve(readyFile) : undefined,
        children: ctx.pipeline.steps.map((step, i) => ({
          name: step.id,
          command: process.execPath,
          args: [...process.execArgv, main, 'run', '--operator', step.id],
          env: { ...process.env, LISTFLOW_HTTP_PORT: String(basePort + i) },
          port: basePort + i,
          logFile: join(logDir, `${step.id}.log`),
        })),
      });
      const onSignal = (sig: NodeJS.Signals) => void supervisor.stop(sig);
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      supervisor.start();
      const code = await supervisor.done;
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      if (supervisor.failure) throw new Error(`gave up: ${supervisor.failure}`);
      io.err(`run: all workers stopped (exit ${code})`);
      return code;
    },
  },
];
