/**
 * `listflow schemas register|check`: the pipeline's Avro schemas in the registry (Confluent API).
 *
 * - register: each pipeline topic's schema under `<topic>-value`. Dead-letter topics carry the original bytes
 *   and have no schema.
 * - check, for every link producer step --port--> topic --> consumer step:
 *   (a) the producer's output schema (writer) must be readable by the consumer's input schema (reader), with
 *       avsc's resolver. With --schemas-dir the candidate schemas are checked against the built-in ones in both
 *       rollout orders too (a new producer before old consumers, old data read by a new consumer);
 *   (b) every topic's schema must be compatible with what is registered under its subject (the registry's
 *       configured level, e.g. BACKWARD). Apicurio answers only true/false, so the reason is recomputed with avsc
 *       from the latest registered version.
 */
import avro from 'avsc';
import type { OperatorShape } from '../../runtime/pipeline-validation';
import type { PipelineSpec } from '../../runtime/pipeline';
import { PermanentError } from '../../runtime/errors';
import { type RegistryOptions, registryMessage, registryRequest } from '../../runtime/registry-client';
import { avroTypeOptions, subjectFor } from '../../runtime/serde';
import type { SchemaName } from '../../schemas/generated/types';
import { operators } from '../../operators';
import { type Command, printJson, stringOption } from '../command';
import { cliContext } from '../context';
import { builtInSchemas, loadSchemasDir, type SchemaSet } from './schema-set';
import { table } from './topics';

// --- Links ---

export interface Link {
  readonly producerStep: string;
  readonly port: string;
  readonly topic: string;
  readonly consumerStep: string;
  readonly writer: SchemaName;
  readonly reader: SchemaName;
}

/** Every producer-port -> topic -> consumer edge of the pipeline. External topics have no producer link. */
export function pipelineLinks(pipeline: PipelineSpec, ops: Readonly<Record<string, OperatorShape>>): Link[] {
  const links: Link[] = [];
  for (const consumer of pipeline.steps) {
    const reader = ops[consumer.operator]?.input as SchemaName | undefined;
    if (!reader) continue;
    for (const producer of pipeline.steps) {
      for (const [port, topic] of Object.entries(producer.outputs)) {
        if (topic !== consumer.input) continue;
        const writer = ops[producer.operator]?.outputs[port] as SchemaName | undefined;
        if (!writer) continue;
        links.push({ producerStep: producer.id, port, topic, consumerStep: consumer.id, writer, reader });
      }
    }
  }
  return links;
}

export interface LinkCheck extends Link {
  readonly writerSource: string;
  readonly readerSource: string;
  readonly ok: boolean;
  readonly reason?: string;
}

const canRead = (reader: avro.Type, writer: avro.Type): string | undefined => {
  try {
    reader.createResolver(writer);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
};

/** (a) for every link; with a candidate set, also candidate <-> built-in in both directions. */
export function checkLinks(links: readonly Link[], schemas: SchemaSet): LinkCheck[] {
  const builtIn = builtInSchemas();
  const out: LinkCheck[] = [];
  for (const l of links) {
    const pairs: [SchemaSet, SchemaSet][] = [[schemas, schemas]];
    // Rolling deploys mix versions: new producers write before old consumers are replaced, and new
    // consumers read what old producers wrote (and what is still in the topic).
    if (schemas.changed.has(l.writer)) pairs.push([schemas, builtIn]);
    if (schemas.changed.has(l.reader)) pairs.push([builtIn, schemas]);
    for (const [w, r] of pairs) {
      const reason = canRead(r.type(l.reader), w.type(l.writer));
      out.push({
        ...l,
        writerSource: w.source,
        readerSource: r.source,
        ok: reason === undefined,
        ...(reason === undefined ? {} : { reason }),
      });
    }
  }
  return out;
}

export const describeLink = (c: LinkCheck): string =>
  `step ${c.producerStep} port ${c.port} -> topic ${c.topic} -> step ${c.consumerStep}: writer ${c.writer} (${c.writerSource}) ${c.ok ? 'is readable by' : 'cannot be read by'} reader ${c.reader} (${c.readerSource})${c.reason ? `: ${c.reason}` : ''}`;

// --- Registry compatibility ---

export interface SubjectCheck {
  readonly topic: string;
  readonly subject: string;
  readonly schema: SchemaName;
  /** `compatible`, `incompatible`, or `new` (nothing registered yet). */
  readonly state: 'compatible' | 'incompatible' | 'new';
  readonly level?: string;
  readonly latestVersion?: number;
  readonly reason?: string;
}

async function compatibilityLevel(opts: RegistryOptions, subject: string): Promise<string | undefined> {
  const own = await registryRequest(opts, 'GET', `/config/${encodeURIComponent(subject)}?defaultToGlobal=true`);
  const pick = (j: unknown) =>
    typeof j === 'object' && j !== null
      ? ((j as Record<string, unknown>).compatibilityLevel ?? (j as Record<string, unknown>).compatibility)
      : undefined;
  const level = own.status === 200 ? pick(own.json) : undefined;
  if (typeof level === 'string') return level;
  const global = await registryRequest(opts, 'GET', '/config');
  const g = global.status === 200 ? pick(global.json) : undefined;
  return typeof g === 'string' ? g : undefined;
}

/** avsc's account of why `candidate` breaks `level` against `registered`, if it finds one. */
function incompatibilityReason(level: string | undefined, candidate: avro.Type, registered: avro.Type): string {
  const reasons: string[] = [];
  const lvl = level ?? 'BACKWARD';
  if (lvl.startsWith('BACKWARD') || lvl.startsWith('FULL')) {
    const r = canRead(candidate, registered);
    if (r) reasons.push(`the new schema cannot read data written with the registered one: ${r}`);
  }
  if (lvl.startsWith('FORWARD') || lvl.startsWith('FULL')) {
    const r = canRead(registered, candidate);
    if (r) reasons.push(`readers of the registered schema cannot read data written with the new one: ${r}`);
  }
  return reasons.length > 0 ? reasons.join('; ') : 'the registry gave no reason';
}

/** (b) each pipeline topic's schema against the latest version registered under `<topic>-value`. */
export async function checkRegistry(
  pipeline: PipelineSpec,
  schemas: SchemaSet,
  opts: RegistryOptions,
): Promise<SubjectCheck[]> {
  const out: SubjectCheck[] = [];
  for (const [topic, t] of Object.entries(pipeline.topics)) {
    const subject = subjectFor(topic);
    const schema = JSON.stringify(schemas.json(t.schema));
    const base = { topic, subject, schema: t.schema };
    const res = await registryRequest(
      opts,
      'POST',
      `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest?verbose=true`,
      { schema, schemaType: 'AVRO' },
    );
    if (res.status === 404) {
      out.push({ ...base, state: 'new' });
      continue;
    }
    if (res.status !== 200) {
      throw new PermanentError(
        'SERDE_SCHEMA_MISMATCH',
        `The registry refused the compatibility check of ${t.schema} for ${subject}: HTTP ${res.status} ${registryMessage(res.json)}`,
      );
    }
    const body = res.json as { is_compatible?: boolean; messages?: string[] };
    if (body.is_compatible !== false) {
      out.push({ ...base, state: 'compatible' });
      continue;
    }
    const level = await compatibilityLevel(opts, subject);
    const latest = await registryRequest(opts, 'GET', `/subjects/${encodeURIComponent(subject)}/versions/latest`);
    const latestBody = latest.json as { version?: number; schema?: string };
    let reason: string;
    if (latest.status === 200 && typeof latestBody.schema === 'string') {
      const registered = avro.Type.forSchema(JSON.parse(latestBody.schema) as avro.Schema, avroTypeOptions());
      reason = incompatibilityReason(level, schemas.type(t.schema), registered);
    } else {
      reason = 'the registry gave no reason';
    }
    if (body.messages && body.messages.length > 0) reason = `${body.messages.join('; ')} (${reason})`;
    out.push({
      ...base,
      state: 'incompatible',
      ...(level ? { level } : {}),
      ...(latestBody.version !== undefined ? { latestVersion: latestBody.version } : {}),
      reason,
    });
  }
  return out;
}

export const describeSubject = (s: SubjectCheck): string =>
  s.state === 'incompatible'
    ? `topic ${s.topic}: ${s.schema} is not ${s.level ?? 'compatibility'}-compatible with ${s.subject} version ${s.latestVersion ?? 'latest'} in the registry: ${s.reason}`
    : `topic ${s.topic}: ${s.schema} ${s.state === 'new' ? `is new under ${s.subject} (nothing registered yet)` : `is compatible with ${s.subject}`}`;

export interface CheckResult {
  readonly ok: boolean;
  readonly schemas: string;
  readonly links: readonly LinkCheck[];
  readonly subjects: readonly SubjectCheck[];
  /** One line per broken link or incompatible subject. */
  readonly problems: readonly string[];
}

export async function checkSchemas(
  pipeline: PipelineSpec,
  schemas: SchemaSet,
  registry: RegistryOptions,
  ops: Readonly<Record<string, OperatorShape>> = operators,
): Promise<CheckResult> {
  const links = checkLinks(pipelineLinks(pipeline, ops), schemas);
  const subjects = await checkRegistry(pipeline, schemas, registry);
  const problems = [
    ...links.filter((l) => !l.ok).map((l) => `broken link: ${describeLink(l)}`),
    ...subjects.filter((s) => s.state === 'incompatible').map((s) => `incompatible schema: ${describeSubject(s)}`),
  ];
  return { ok: problems.length === 0, schemas: schemas.source, links, subjects, problems };
}

// --- Register ---

export interface Registration {
  readonly topic: string;
  readonly subject: string;
  readonly schema: SchemaName;
  readonly id: number;
  readonly version?: number;
  readonly action: 'registered' | 'unchanged';
}

/**
 * Registers each pipeline topic's schema under `<topic>-value` (dead-letter topics have none). Plain HTTP rather
 * than the client library: its lookup turns a 404 into an error without a status, so "not registered yet" and
 * "registry broken" look alike.
 */
export async function registerSchemas(
  pipeline: PipelineSpec,
  schemas: SchemaSet,
  opts: RegistryOptions,
): Promise<Registration[]> {
  const out: Registration[] = [];
  for (const [topic, t] of Object.entries(pipeline.topics)) {
    const subject = subjectFor(topic);
    const body = { schema: JSON.stringify(schemas.json(t.schema)), schemaType: 'AVRO' };
    const base = { topic, subject, schema: t.schema };
    const found = await registryRequest(opts, 'POST', `/subjects/${encodeURIComponent(subject)}`, body);
    const foundBody = found.json as { id?: number; version?: number };
    if (found.status === 200 && typeof foundBody.id === 'number') {
      out.push({ ...base, id: foundBody.id, ...versionOf(foundBody), action: 'unchanged' });
      continue;
    }
    const res = await registryRequest(opts, 'POST', `/subjects/${encodeURIComponent(subject)}/versions`, body);
    const resBody = res.json as { id?: number };
    if (res.status === 409) {
      throw new PermanentError(
        'SERDE_SCHEMA_MISMATCH',
        `The registry refused ${t.schema} under ${subject} as incompatible with the registered versions (${registryMessage(res.json)}). Fix: run \`listflow schemas check\` for the reason and evolve the schema compatibly (add fields with defaults).`,
      );
    }
    if (res.status !== 200 || typeof resBody.id !== 'number') {
      throw new PermanentError(
        'SERDE_SCHEMA_MISMATCH',
        `The registry refused ${t.schema} under ${subject}: HTTP ${res.status} ${registryMessage(res.json)}`,
      );
    }
    out.push({ ...base, id: resBody.id, action: 'registered' });
  }
  return out;
}

const versionOf = (b: { version?: number }): { version?: number } =>
  typeof b.version === 'number' ? { version: b.version } : {};

// --- Commands ---

const schemasDirOption = { 'schemas-dir': { type: 'string' as const } };
const schemasDirHelp = {
  'schemas-dir': 'Use <Name>.avsc files from this directory instead of the built-in schemas of those names.',
};

function schemaSetFrom(dir: string | undefined): SchemaSet {
  return dir === undefined ? builtInSchemas() : loadSchemasDir(dir);
}

export const schemasCommands: Command[] = [
  {
    path: ['schemas', 'register'],
    summary: "Register each pipeline topic's schema under <topic>-value (dead-letter topics have none).",
    maxPositionals: 0,
    options: schemasDirOption,
    optionHelp: schemasDirHelp,
    async run(args, io) {
      const schemas = schemaSetFrom(stringOption(args, 'schemas-dir'));
      const ctx = cliContext(process.env, 'schemas');
      try {
        const result = await registerSchemas(ctx.pipeline, schemas, ctx.registry().options);
        if (io.json) {
          printJson(io, { schemas: schemas.source, subjects: result });
        } else {
          const rows = [['SUBJECT', 'SCHEMA', 'ID', 'VERSION', 'ACTION']];
          for (const r of result) rows.push([r.subject, r.schema, String(r.id), String(r.version ?? '-'), r.action]);
          for (const line of table(rows)) io.out(line);
        }
        return 0;
      } finally {
        await ctx.close();
      }
    },
  },
  {
    path: ['schemas', 'check'],
    summary: 'Check that every producer->consumer link can be read and every schema is compatible with the registry.',
    maxPositionals: 0,
    options: schemasDirOption,
    optionHelp: schemasDirHelp,
    details:
      'For each link (producer step, port, topic, consumer step) the producer writer schema must resolve to the\n' +
      "consumer's reader schema (avsc). Each topic's schema must pass the registry's compatibility check against\n" +
      'the latest version under <topic>-value. Exit code 1 when any link is broken or any schema is incompatible.\n' +
      'With --schemas-dir, candidate schemas are also checked against the built-in ones in both rollout orders.',
    async run(args, io) {
      const schemas = schemaSetFrom(stringOption(args, 'schemas-dir'));
      const ctx = cliContext(process.env, 'schemas');
      try {
        const result = await checkSchemas(ctx.pipeline, schemas, ctx.registry().options);
        if (io.json) {
          printJson(io, result);
        } else {
          io.out(`schemas: ${result.schemas}`);
          for (const l of result.links) io.out(`${l.ok ? 'ok  ' : 'FAIL'} link ${describeLink(l)}`);
          for (const s of result.subjects)
            io.out(`${s.state === 'incompatible' ? 'FAIL' : 'ok  '} ${describeSubject(s)}`);
        }
        for (const p of result.problems) io.err(`listflow schemas check: ${p}`);
        if (!io.json) {
          io.out(
            result.ok
              ? `\nall ${result.links.length} links and ${result.subjects.length} subjects are compatible`
              : `\n${result.problems.length} problem(s)`,
          );
        }
        return result.ok ? 0 : 1;
      } finally {
        await ctx.close();
      }
    },
  },
];
