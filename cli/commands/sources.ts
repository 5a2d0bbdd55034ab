/**
 * `listflow sources apply|list|sync|reset`: the operations side of continuous ingest (issue 15), through the
 * `sourceReplication` tool (operators/tools.ts) so no command names an operator. The step they act on is the
 * pipeline's step whose operator offers the tool (the `sources` step); its input topic holds the declarations
 * (listings.sources), its `state` output the cursors (listings.source-state).
 *
 * - apply: the sources file (LISTFLOW_SOURCES_FILE or --file) validated with the profiles, its plan against the
 *   topic printed first (added / changed by digest / unchanged / retired -> tombstone); writes with --yes.
 * - list: per source its cursor, last poll, counts, next poll due and (one $count request, unless --no-remote)
 *   the records past the cursor; read_committed.
 * - sync NAME --once [--from TIME]: one pass until caught up through the worker's own commit path (the same
 *   transactional id and transaction per page); refused while the step's group has members.
 * - reset NAME --to TIME|beginning: plan first, refused while the group has members, writes with --yes a new
 *   state record (or a tombstone) through the source's transactional writer, fencing any poller.
 */
import { deploymentName } from '../../k8s/render';
import {
  type DeclaredSource,
  operatorOfTool,
  type ProfileCheck,
  type ReplicationPorts,
  type SourceStateView,
  toolOf,
} from '../../operators/tools';
import { latestByKey } from '../../runtime/assigned/latest';
import { askAgainWhileRetriable } from '../../runtime/kafka';
import { emit } from '../../runtime/operator';
import { groupId, type StepSpec } from '../../runtime/pipeline';
import type { SourceDeclaration, SourceState as SourceStateRecord } from '../../schemas/generated/types';
import { type Command, printJson, stringOption, UsageError } from '../command';
import { type CliContext, cliContext } from '../context';
import { cliKafka, connectAdmin, connectProducer, withKafka } from '../kafka-io';
import { openKeyIo } from '../owner-io';
import {
  applyLine,
  applyPlan,
  applyWrites,
  cursorText,
  membersRefusal,
  parseResetTo,
  parseSyncFrom,
  resetPlan,
  sourceLine,
  sourceLineText,
  type SourceLag,
  sourceLag,
  sourceName,
} from './sources-plan';
import type { KafkaAdmin } from '../../runtime/kafka-client';

class SourcesError extends Error {
  override readonly name = 'SourcesError';
}

const tool = () => toolOf('sourceReplication');
export const isInstant = (s: string): boolean => tool().stateFrom('x', s, undefined) !== undefined;

/** The pipeline's step that runs the operator offering the sourceReplication tool. */
export function replicationStep(ctx: Pick<CliContext, 'pipeline'>): StepSpec {
  const operator = operatorOfTool('sourceReplication');
  const steps = ctx.pipeline.steps.filter((s) => s.operator === operator);
  if (steps.length !== 1 || !steps[0]!.outputs.state) {
    throw new SourcesError(
      `Expected one step running the ${operator} operator in pipeline ${ctx.pipeline.name} but found ${steps.length}. Fix: add it to the pipeline (LISTFLOW_PIPELINE_FILE).`,
    );
  }
  return steps[0]!;
}

export const profileCheck = (env: NodeJS.ProcessEnv): ProfileCheck => {
  const p = toolOf('sourceProfiles');
  return { profiles: p.deletionReaders(env), defaultProfile: p.defaultProfile };
};

async function needTopics(admin: KafkaAdmin, topics: readonly string[]): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t));
  if (missing.length > 0)
    throw new SourcesError(`topics missing: ${missing.join(', ')}. Fix: run \`listflow topics apply\`.`);
}

/**
 * A compacted topic's latest value per key. Asked again while Kafka says "not yet" (a partition's leader right
 * after `topics apply` or a broker restart), which the CLI's short retry policy alone does not outlast.
 */
const latest = (ctx: CliContext, topic: string) =>
  askAgainWhileRetriable(() => latestByKey(cliKafka(ctx), topic, { purpose: 'sources-cli' }), { timeoutMs: 20_000 });

/** The latest declaration per source in the step's input topic (read_committed). */
export async function readDeclarations(ctx: CliContext, step: StepSpec): Promise<Map<string, SourceDeclaration>> {
  const out = new Map<string, SourceDeclaration>();
  for (const [name, bytes] of await latest(ctx, step.input)) {
    const d = await ctx.serde().decode<SourceDeclaration>(bytes, 'SourceDeclaration');
    if (!d.ok)
      throw new SourcesError(`The declaration of ${name} in ${step.input} does not decode: ${d.error.message}`);
    out.set(name, d.value);
  }
  return out;
}

/** The last committed state record per source (read_committed). */
export async function readStates(ctx: CliContext, step: StepSpec): Promise<Map<string, SourceStateRecord>> {
  const out = new Map<string, SourceStateRecord>();
  for (const [name, bytes] of await latest(ctx, step.outputs.state!)) {
    const d = await ctx.serde().decode<SourceStateRecord>(bytes, 'SourceState');
    if (d.ok) out.set(name, d.value);
  }
  return out;
}

async function refusalNow(
  admin: KafkaAdmin,
  ctx: CliContext,
  step: StepSpec,
  what: string,
): Promise<string | undefined> {
  const group = groupId(ctx.pipeline, step);
  const [g] = (await admin.describeGroups([group])).groups;
  return g ? membersRefusal(group, step.id, deploymentName(step), g, what) : undefined;
}

async function session<T>(
  name: string,
  fn: (ctx: CliContext, admin: KafkaAdmin, step: StepSpec) => Promise<T>,
): Promise<T> {
  const ctx = cliContext(process.env, name);
  const step = replicationStep(ctx);
  const admin = await connectAdmin(ctx);
  try {
    return await withKafka(ctx, async () => {
      await needTopics(admin, [step.input, step.outputs.state!]);
      return fn(ctx, admin, step);
    });
  } finally {
    await admin.disconnect().catch(() => undefined);
    await ctx.close();
  }
}

const apply: Command = {
  path: ['sources', 'apply'],
  summary:
    'Publish the sources file to listings.sources (plan first; --yes writes): the sources step polls what is there.',
  maxPositionals: 0,
  options: { file: { type: 'string' }, yes: { type: 'boolean' } },
  optionHelp: {
    file: 'The sources file (default: LISTFLOW_SOURCES_FILE, else the shipped pipelines/sources.yaml).',
    yes: 'Write the plan. Without --yes nothing changes.',
  },
  details: [
    'Validates the file (every problem at once, delete rules against the profiles), then prints per source:',
    '+ added, ~ changed (its digest differs: its poller restarts), = unchanged, - retired (in the topic, not in',
    'the file: a tombstone stops its poller; its cursor stays in listings.source-state).',
  ].join('\n'),
  async run(args, io) {
    const file = stringOption(args, 'file') ?? tool().sourcesFile(process.env);
    if (file === undefined) throw new UsageError('No sources file: pass --file or set LISTFLOW_SOURCES_FILE.');
    const next = tool().declarations(file, profileCheck(process.env), new Date());
    return session('sources-apply', async (ctx, _admin, step) => {
      const plan = applyPlan(await readDeclarations(ctx, step), next);
      const writes = applyWrites(plan);
      const yes = Boolean(args.values.yes);
      if (yes && writes.length > 0) {
        const serde = ctx.serde();
        const id = await serde.schemaIdFor(step.input, 'SourceDeclaration', ctx.settings.registerSchemas);
        const producer = await connectProducer(ctx);
        try {
          await producer.send({
            topic: step.input,
            messages: writes.map((w) => ({
              key: w.name,
              value: w.value === null ? null : serde.encode(id, 'SourceDeclaration', w.value),
            })),
          });
        } finally {
          await producer.disconnect().catch(() => undefined);
        }
      }
      if (io.json) {
        printJson(io, {
          file,
          topic: step.input,
          plan: plan.map(({ declaration: _d, ...e }) => e),
          applied: yes && writes.length > 0,
        });
        return 0;
      }
      io.out(`sources apply: ${file} -> ${step.input}`);
      for (const e of plan) io.out(`  ${applyLine(e)}`);
      if (writes.length === 0) io.out('Nothing to write: the topic already holds this file.');
      else if (!yes) io.out(`Nothing changed. Run again with --yes to write ${writes.length} record(s).`);
      else io.out(`done: ${writes.length} record(s) written to ${step.input}`);
      return 0;
    });
  },
};

const list: Command = {
  path: ['sources', 'list'],
  summary:
    "Each source's cursor (or snapshot progress), last poll, counts, next poll due, records remaining and a refused snapshot.",
  maxPositionals: 0,
  options: { 'no-remote': { type: 'boolean' } },
  optionHelp: { 'no-remote': 'Skip the one $count request per source (remaining records).' },
  details: [
    'Read from listings.sources and listings.source-state (read_committed). A snapshot source (file, http) shows its',
    'snapshot instead of a cursor: short id, position/total, done, when it was taken, and under the line a snapshot',
    'refused for deleting too much (SOURCE_SNAPSHOT_REFUSED) until one commits. Other poll failures are not state:',
    'see the listflow_owned_poll_failures gauge of the sources workers.',
  ].join('\n'),
  async run(args, io) {
    const remote = !args.values['no-remote'];
    return session('sources-list', async (ctx, _admin, step) => {
      const decls = await readDeclarations(ctx, step);
      const states = await readStates(ctx, step);
      const names = [...new Set([...decls.keys(), ...states.keys()])].sort();
      const lines = [];
      for (const name of names) {
        const d = decls.get(name);
        const st = states.get(name);
        let remaining: { count?: number; error?: string } | undefined;
        if (remote && d && d.kind === 'reso-web-api') {
          try {
            const n = await tool().remaining(d, st, process.env, AbortSignal.timeout(30_000));
            remaining = n === undefined ? { error: 'no @odata.count' } : { count: n };
          } catch (e) {
            remaining = { error: (e as Error).message.split('\n')[0]! };
          }
        }
        let declared: DeclaredSource | undefined;
        try {
          declared = d ? tool().sourceOf(d) : undefined;
        } catch (e) {
          remaining = { error: `declaration invalid: ${(e as Error).message.split('\n')[0]}` };
        }
        lines.push(sourceLine(name, declared, st ? tool().stateOf(st) : undefined, remaining));
      }
      if (io.json) printJson(io, { sources: lines });
      else if (lines.length === 0) io.out(`No sources in ${step.input}. Run listflow sources apply.`);
      else for (const l of lines) io.out(sourceLineText(l, remote));
      return 0;
    });
  },
};

const sync: Command = {
  path: ['sources', 'sync'],
  summary: "One pass of a source until caught up (--once), through the workers' commit path; --from TIME backfills.",
  args: '<NAME>',
  minPositionals: 1,
  maxPositionals: 1,
  options: { once: { type: 'boolean' }, from: { type: 'string' }, 'allow-mass-delete': { type: 'boolean' } },
  optionHelp: {
    once: 'Required: one pass until caught up, then exit (the workers poll continuously).',
    from: 'An ISO 8601 instant with an offset: re-read the source from there (a backfill) instead of the cursor.',
    'allow-mass-delete':
      'A snapshot source: apply a snapshot even if it deletes more than maxDeleteFraction of the known listings, or all of them.',
  },
  details: [
    "Pages and the state after each go in one transaction with the source's transactional id",
    '(listflow.<pipeline>.sources.<NAME>), as the worker writes them. Refused while the sources group has members.',
  ].join('\n'),
  async run(args, io) {
    if (!args.values.once) throw new UsageError('listflow sources sync needs --once (the workers poll continuously).');
    const from = parseSyncFrom(stringOption(args, 'from'), isInstant);
    return session('sources-sync', async (ctx, admin, step) => {
      const decls = await readDeclarations(ctx, step);
      const name = sourceName(args.positionals, [...decls.keys()], 'sync');
      const refused = await refusalNow(admin, ctx, step, 'a sync from the CLI');
      if (refused) {
        io.err(`listflow sources sync: ${refused}`);
        return 1;
      }
      const abort = new AbortController();
      const onSignal = () => abort.abort(new Error('interrupted'));
      process.once('SIGINT', onSignal);
      const k = await openKeyIo<ReplicationPorts>(ctx, step, name, abort.signal);
      try {
        const r = await tool().syncOnce(decls.get(name)!, k.io, {
          env: process.env,
          ...(from ? { from } : {}),
          ...(args.values['allow-mass-delete'] ? { allowMassDelete: true } : {}),
        });
        if (io.json) printJson(io, { source: name, transactionalId: k.transactionalId, ...r });
        else {
          io.out(`sources sync ${name}: from ${cursorText(r.started)}${from ? ` (--from ${from})` : ''}`);
          io.out(
            `  ${r.pages} page(s), ${r.records} record(s), ${r.deletes} delete(s), ${r.requests} request(s); caught up at ${cursorText(r.state)}`,
          );
        }
        return 0;
      } finally {
        process.off('SIGINT', onSignal);
        await k.close();
      }
    });
  },
};

const reset: Command = {
  path: ['sources', 'reset'],
  summary: "Move a source's cursor to a time, or to the beginning (a full reload); plan first, --yes writes.",
  args: '<NAME>',
  minPositionals: 1,
  maxPositionals: 1,
  options: { to: { type: 'string' }, yes: { type: 'boolean' } },
  optionHelp: {
    to: 'beginning (the state gets a tombstone: a full reload) or an ISO 8601 instant with an offset.',
    yes: 'Write it. Without --yes the plan is printed and nothing changes.',
  },
  details:
    "Refused while the sources group has members. Written through the source's transactional id, so it also fences a poller that is still running somewhere.",
  async run(args, io) {
    const to = parseResetTo(stringOption(args, 'to'), isInstant);
    return session('sources-reset', async (ctx, admin, step) => {
      const decls = await readDeclarations(ctx, step);
      const states = await readStates(ctx, step);
      const name = sourceName(args.positionals, [...new Set([...decls.keys(), ...states.keys()])].sort(), 'reset');
      const current = states.get(name);
      const plan = resetPlan(name, current ? tool().stateOf(current) : undefined, to);
      const refused = await refusalNow(admin, ctx, step, 'a cursor reset');
      const yes = Boolean(args.values.yes);
      let applied = false;
      if (yes && !refused) {
        const record = to.kind === 'beginning' ? null : tool().stateFrom(name, to.at, current)!;
        const k = await openKeyIo<ReplicationPorts>(ctx, step, name, new AbortController().signal);
        try {
          const writer = await k.io.transactions();
          await writer.commit([emit.output('state', name, record)]);
          applied = true;
        } finally {
          await k.close();
        }
      }
      if (io.json) printJson(io, { ...plan, applied, ...(refused ? { refused } : {}) });
      else io.out(`sources reset ${name}: cursor ${plan.from} -> ${plan.to}`);
      if (refused) {
        io.err(`listflow sources reset: ${refused}`);
        return 1;
      }
      if (!applied) io.out('Nothing changed. Run again with --yes to write it.');
      else io.out(`done: ${plan.tombstone ? 'tombstone' : 'state'} committed to ${step.outputs.state}`);
      return 0;
    });
  },
};

export const sourcesCommands: Command[] = [apply, list, sync, reset];

export interface SourceOverview {
  readonly name: string;
  readonly declared: DeclaredSource | undefined;
  readonly state: SourceStateView | undefined;
}

/** Each source's declaration and committed state, from the records read (a declaration that no longer validates shows none). */
function overviewOf(decls: Map<string, SourceDeclaration>, states: Map<string, SourceStateRecord>): SourceOverview[] {
  return [...new Set([...decls.keys(), ...states.keys()])].sort().map((name) => {
    const d = decls.get(name);
    const s = states.get(name);
    let declared: DeclaredSource | undefined;
    try {
      declared = d ? tool().sourceOf(d) : undefined;
    } catch {
      declared = undefined; // the worker dead-letters such a declaration
    }
    return { name, declared, state: s ? tool().stateOf(s) : undefined };
  });
}

/** For status and the web page: each source's declaration and committed state (read_committed); no request. */
export async function sourcesOverview(ctx: CliContext): Promise<SourceOverview[]> {
  const step = replicationStep(ctx);
  return overviewOf(await readDeclarations(ctx, step), await readStates(ctx, step));
}

/**
 * The sources' lag for `status` (undefined when the pipeline has no replication step or its topics do not exist
 * yet; a message when they cannot be read): from the committed state only, unless `remote` (one $count each).
 */
export async function sourcesLag(
  ctx: CliContext,
  admin: KafkaAdmin,
  remote: boolean,
): Promise<SourceLag[] | string | undefined> {
  let step: StepSpec;
  try {
    step = replicationStep(ctx);
  } catch {
    return undefined;
  }
  const existing = new Set(await admin.listTopics());
  if (!existing.has(step.input) || !existing.has(step.outputs.state!)) return undefined;
  try {
    const decls = await readDeclarations(ctx, step);
    const states = await readStates(ctx, step);
    const now = Date.now();
    const out: SourceLag[] = [];
    for (const o of overviewOf(decls, states)) {
      let remaining: number | null = null;
      const d = decls.get(o.name);
      if (remote && d && d.kind === 'reso-web-api') {
        remaining =
          (await tool()
            .remaining(d, states.get(o.name), process.env, AbortSignal.timeout(15_000))
            .catch(() => undefined)) ?? null;
      }
      out.push(sourceLag(o.name, o.declared, o.state, now, remaining));
    }
    return out;
  } catch (e) {
    return `cannot read the sources' state: ${(e as Error).message.split('\n')[0]}`;
  }
}
