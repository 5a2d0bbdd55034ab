/**
 * Validation of a pipeline definition against the operator registry: every problem is found in one pass and
 * reported together, each naming the field path (`steps[2].input`), the value received and a fix.
 *
 * Why here and not in `definePipeline`: the checks need the operators (their input schema and output ports),
 * and a pipeline may also come from a JSON file (LISTFLOW_PIPELINE_FILE), which is untyped. So the input is
 * treated as `unknown` and shape errors are problems too, never crashes.
 */
import { type SchemaName, schemaNames } from '../schemas/generated/types';
import { describeValue, invalidParameterMessage, PermanentError } from './errors';
import type { PipelineSpec } from './pipeline';

/** What validation needs of an operator: its input schema and its output ports. */
export interface OperatorShape {
  readonly input: string;
  readonly outputs: Readonly<Record<string, string>>;
  readonly cpuBound?: boolean;
}

export interface PipelineProblem {
  /** Field path, e.g. `steps[2].input` or `topics["listings.raw"].partitions`. */
  readonly path: string;
  /** A full sentence: the path, the value received and a fix. */
  readonly message: string;
}

/** Bounds of the numeric step and topic fields (inclusive). */
export const PIPELINE_LIMITS = {
  partitions: { min: 1, max: 10_000 },
  concurrency: { min: 1, max: 1024 },
  threads: { min: 0, max: 64 },
  timeoutMs: { min: 100, max: 24 * 60 * 60 * 1000 },
  maxAttempts: { min: 1, max: 100 },
  backoffMs: { min: 0, max: 60 * 60 * 1000 },
} as const;

/** Kubernetes name part (Deployments, labels) and consumer-group part. */
const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const NAME_MAX = 40;
/** Kafka's legal topic names. */
const TOPIC_RE = /^[a-zA-Z0-9._-]{1,249}$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const topicPath = (t: string): string => `topics[${JSON.stringify(t)}]`;
const list = (xs: readonly string[]): string => (xs.length > 0 ? xs.join(', ') : '(none)');

/** Returns every problem of `spec` (empty when valid). Never throws. */
export function validatePipeline(spec: unknown, operators: Readonly<Record<string, OperatorShape>>): PipelineProblem[] {
  const problems: PipelineProblem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  const expect = (path: string, expected: string, received: unknown, fix: string) =>
    add(path, invalidParameterMessage(path, expected, received, fix));
  const int = (path: string, v: unknown, min: number, max: number, fix: string): v is number => {
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return true;
    expect(path, `an integer between ${min} and ${max}`, v, fix);
    return false;
  };

  if (!isObj(spec)) {
    expect('(pipeline)', 'an object with name, topics and steps', spec, 'export a definePipeline({...}) object.');
    return problems;
  }
  if (typeof spec.name !== 'string' || !NAME_RE.test(spec.name) || spec.name.length > NAME_MAX) {
    expect(
      'name',
      `lowercase letters, digits and "-" (at most ${NAME_MAX} characters)`,
      spec.name,
      'name the pipeline like "listings"; it is part of consumer group ids and Kubernetes labels.',
    );
  }

  // --- Topics ---
  const topics: Record<string, Obj> = {};
  if (!isObj(spec.topics)) {
    expect('topics', 'an object of topic name -> { partitions, schema }', spec.topics, 'declare the topics.');
  } else {
    for (const [name, t] of Object.entries(spec.topics)) {
      const p = topicPath(name);
      if (!TOPIC_RE.test(name)) {
        expect(p, 'a Kafka topic name (letters, digits, ".", "_", "-")', name, 'rename the topic.');
      }
      if (!isObj(t)) {
        expect(p, 'an object { partitions, schema }', t, 'declare the topic with its partitions and schema.');
        continue;
      }
      topics[name] = t;
      const { min, max } = PIPELINE_LIMITS.partitions;
      int(`${p}.partitions`, t.partitions, min, max, `give the topic at least ${min} partition (e.g. 3).`);
      if (!schemaNames.includes(t.schema as SchemaName)) {
        expect(
          `${p}.schema`,
          `one of the schemas in schemas/*.avsc (${schemaNames.join(', ')})`,
          t.schema,
          'use the name of a schema file without .avsc.',
        );
      }
      for (const flag of ['compact', 'external'] as const) {
        if (t[flag] !== undefined && typeof t[flag] !== 'boolean') {
          expect(`${p}.${flag}`, 'true, false or nothing', t[flag], `set ${flag} to true or remove it.`);
        }
      }
      if (t.retentionMs !== undefined && t.retentionMs !== -1) {
        int(
          `${p}.retentionMs`,
          t.retentionMs,
          1,
          Number.MAX_SAFE_INTEGER,
          'give milliseconds (e.g. 604800000 for 7 days), -1 to keep forever, or omit it for the broker default.',
        );
      }
    }
  }
  const topicNames = Object.keys(topics);
  const topicFix = `declare it under topics, or use one of ${list(topicNames)}.`;

  // --- Steps ---
  if (!Array.isArray(spec.steps)) {
    expect('steps', 'an array of steps', spec.steps, 'list the steps of the pipeline.');
    return problems;
  }
  if (spec.steps.length === 0) expect('steps', 'at least one step', spec.steps, 'add a step.');
  const operatorNames = Object.keys(operators);
  const firstIdAt = new Map<string, number>();
  const written = new Set<string>();
  const reads: { path: string; topic: string }[] = [];

  spec.steps.forEach((s: unknown, i: number) => {
    const at = `steps[${i}]`;
    if (!isObj(s)) {
      expect(at, 'an object { id, operator, input, outputs, ... }', s, 'declare the step as an object.');
      return;
    }
    // Identity.
    if (typeof s.id !== 'string' || !NAME_RE.test(s.id) || s.id.length > NAME_MAX) {
      expect(
        `${at}.id`,
        `lowercase letters, digits and "-" (at most ${NAME_MAX} characters)`,
        s.id,
        'name the step like "clean-records"; it names its consumer group and Deployment.',
      );
    } else if (firstIdAt.has(s.id)) {
      add(
        `${at}.id`,
        `Step id ${JSON.stringify(s.id)} at ${at}.id is already used by steps[${firstIdAt.get(s.id)}].id. Fix: give every step a unique id (ids name consumer groups).`,
      );
    } else {
      firstIdAt.set(s.id, i);
    }
    const operator = typeof s.operator === 'string' ? operators[s.operator] : undefined;
    if (!operator) {
      expect(
        `${at}.operator`,
        `an operator from operators/index.ts (${list(operatorNames)})`,
        s.operator,
        'use a registered operator name, or register the operator in operators/index.ts.',
      );
    }

    // Input.
    const input = typeof s.input === 'string' ? topics[s.input] : undefined;
    if (typeof s.input !== 'string' || !input) {
      expect(`${at}.input`, 'a topic declared in topics', s.input, topicFix);
    } else {
      reads.push({ path: `${at}.input`, topic: s.input });
      if (operator && input.schema !== operator.input) {
        add(
          `${at}.input`,
          `Schema mismatch at ${at}.input: topic ${JSON.stringify(s.input)} carries ${describeValue(input.schema)} but operator ${JSON.stringify(s.operator)} reads ${operator.input}. Fix: read a topic whose schema is ${operator.input}, or set ${topicPath(s.input)}.schema to ${operator.input}.`,
        );
      }
    }

    // Outputs: the step maps exactly the operator's ports to declared topics of the port's schema.
    if (!isObj(s.outputs)) {
      expect(`${at}.outputs`, 'an object of output port -> topic', s.outputs, 'map each output port to a topic.');
    } else {
      for (const [port, topic] of Object.entries(s.outputs)) {
        const p = `${at}.outputs.${port}`;
        const declared = typeof topic === 'string' ? topics[topic] : undefined;
        if (typeof topic !== 'string' || !declared) {
          expect(p, 'a topic declared in topics', topic, topicFix);
        } else {
          written.add(topic);
        }
        if (!operator) continue;
        const portSchema = operator.outputs[port];
        if (portSchema === undefined) {
          add(
            p,
            `Operator ${JSON.stringify(s.operator)} has no output port ${JSON.stringify(port)} (at ${p}); its ports are ${list(Object.keys(operator.outputs))}. Fix: remove ${p} or rename it to one of those ports.`,
          );
        } else if (declared && typeof topic === 'string' && declared.schema !== portSchema) {
          add(
            p,
            `Schema mismatch at ${p}: operator ${JSON.stringify(s.operator)} writes ${portSchema} on port ${JSON.stringify(port)} but topic ${JSON.stringify(topic)} carries ${describeValue(declared.schema)}. Fix: route the port to a topic whose schema is ${portSchema}, or set ${topicPath(topic)}.schema to ${portSchema}.`,
          );
        }
      }
      if (operator) {
        for (const port of Object.keys(operator.outputs)) {
          if (!Object.hasOwn(s.outputs, port)) {
            add(
              `${at}.outputs`,
              `Missing output port at ${at}.outputs: operator ${JSON.stringify(s.operator)} writes port ${JSON.stringify(port)} (${operator.outputs[port]}) but the step maps only ${list(Object.keys(s.outputs))}. Fix: add ${at}.outputs.${port} with a topic of schema ${operator.outputs[port]}.`,
            );
          }
        }
      }
    }

    // Sizing and policies.
    const c = PIPELINE_LIMITS.concurrency;
    int(`${at}.concurrency`, s.concurrency, c.min, c.max, 'set the jobs in flight per partition, e.g. 4.');
    if (s.threads !== undefined) {
      const t = PIPELINE_LIMITS.threads;
      const ok = int(
        `${at}.threads`,
        s.threads,
        t.min,
        t.max,
        'set the worker threads for process, e.g. 1, or 0 for none.',
      );
      if (ok && (s.threads as number) > 0 && operator && !operator.cpuBound) {
        add(
          `${at}.threads`,
          `Operator ${JSON.stringify(s.operator)} cannot run on threads (at ${at}.threads, received ${describeValue(s.threads)}): only operators that declare cpuBound do, because their process needs no services and returns a list. Fix: remove ${at}.threads or set it to 0.`,
        );
      }
    }
    const tm = PIPELINE_LIMITS.timeoutMs;
    int(`${at}.timeoutMs`, s.timeoutMs, tm.min, tm.max, 'set the per-job deadline in milliseconds, e.g. 30000.');
    if (!isObj(s.retry)) {
      expect(
        `${at}.retry`,
        'an object { maxAttempts, initialBackoffMs, maxBackoffMs }',
        s.retry,
        'set a retry policy, e.g. { maxAttempts: 3, initialBackoffMs: 200, maxBackoffMs: 5000 }.',
      );
    } else {
      const r = s.retry;
      const a = PIPELINE_LIMITS.maxAttempts;
      int(`${at}.retry.maxAttempts`, r.maxAttempts, a.min, a.max, 'count every attempt including the first, e.g. 3.');
      const b = PIPELINE_LIMITS.backoffMs;
      const initialOk = int(
        `${at}.retry.initialBackoffMs`,
        r.initialBackoffMs,
        b.min,
        b.max,
        'set the first retry delay in milliseconds, e.g. 200.',
      );
      int(
        `${at}.retry.maxBackoffMs`,
        r.maxBackoffMs,
        initialOk ? (r.initialBackoffMs as number) : b.min,
        b.max,
        'set the longest retry delay, at least initialBackoffMs.',
      );
    }
    const partitions = input && typeof input.partitions === 'number' ? input.partitions : undefined;
    const maxReplicas = partitions !== undefined && partitions >= 1 ? partitions : PIPELINE_LIMITS.partitions.max;
    int(
      `${at}.replicas`,
      s.replicas,
      1,
      maxReplicas,
      partitions !== undefined
        ? `replicas beyond the ${partitions} partitions of ${JSON.stringify(s.input)} would sit idle; lower replicas or raise ${topicPath(String(s.input))}.partitions.`
        : 'set the number of worker processes, e.g. 1.',
    );
  });

  // --- Topology: everything read must be written by a step or come from outside. ---
  for (const { path, topic } of reads) {
    if (written.has(topic) || topics[topic]?.external === true) continue;
    add(
      path,
      `Topic ${JSON.stringify(topic)} read at ${path} is written by no step and is not marked external. Fix: route a step output to it, or set ${topicPath(topic)}.external to true if it is written from outside the pipeline.`,
    );
  }
  return problems;
}

/** Throws PermanentError('PIPELINE_INVALID') listing every problem; returns the spec, typed, when valid. */
export function assertValidPipeline(
  spec: unknown,
  operators: Readonly<Record<string, OperatorShape>>,
  where = 'pipeline',
): PipelineSpec {
  const problems = validatePipeline(spec, operators);
  if (problems.length > 0) {
    const name = isObj(spec) && typeof spec.name === 'string' ? ` ${JSON.stringify(spec.name)}` : '';
    throw new PermanentError(
      'PIPELINE_INVALID',
      `Invalid ${where}${name} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.map((p) => p.message).join('\n  - ')}`,
    );
  }
  return spec as PipelineSpec;
}

/**
 * Checks the one step a worker runs, with its operator: the step's own problems of `validatePipeline` (its
 * input topic and schema, its ports and their topics, threads only for cpuBound operators). The other steps,
 * and which step writes its input, are the pipeline's concern (validated where it is loaded, resolvePipeline).
 * Throws PermanentError('PIPELINE_INVALID') listing every problem.
 */
export function assertValidStep(
  pipeline: PipelineSpec,
  stepId: string,
  operator: OperatorShape & { name: string },
): void {
  const index = pipeline.steps.findIndex((s) => s.id === stepId);
  const at = `steps[${index}]`;
  const step = pipeline.steps[index];
  const problems =
    index < 0 || !step
      ? [{ path: 'steps', message: `Step ${JSON.stringify(stepId)} is not in the pipeline.` }]
      : validatePipeline(ownInputExternal(pipeline, step.input), { [step.operator]: operator }).filter(
          (p) => p.path === at || p.path.startsWith(`${at}.`) || p.path.startsWith(`${at}[`),
        );
  if (problems.length > 0) {
    throw new PermanentError(
      'PIPELINE_INVALID',
      `Invalid step ${stepId} of pipeline ${JSON.stringify(pipeline.name)} for operator ${operator.name}:\n  - ${problems.map((p) => p.message).join('\n  - ')}`,
    );
  }
}

/** Whether anything writes a worker's input is the pipeline's concern, not the worker's: its input counts as external. */
function ownInputExternal(pipeline: PipelineSpec, input: string): PipelineSpec {
  const topic = pipeline.topics[input];
  return topic ? { ...pipeline, topics: { ...pipeline.topics, [input]: { ...topic, external: true } } } : pipeline;
}
