/**
 * `listflow status [JOB_ID]`.
 * - With a job id: the job's latest IngestJobStatus from the compacted listings.ingest-status topic (PENDING
 *   when the job was submitted to listings.ingest-jobs but has no status yet).
 * - Without: per step, consumer-group state and members, lag (committed offsets vs high watermarks), the
 *   commit rate over a short sample, and how many dead letters `<input>.dlq` holds; then the latest offset
 *   resets `listflow replay` recorded in the pipeline's replay ledger.
 */
import type { IngestJobStatus } from '../../schemas/generated/types';
import { countDeadLetters } from '../../runtime/dead-letters/read';
import { fetchCommittedOffsets } from '../../runtime/kafka';
import { stages } from '../../runtime/pipeline';
import { type Command, intOption, type Io, printJson } from '../command';
import { type CliContext, cliContext } from '../context';
import { pipelineTopics } from '../job-tracker';
import { CLI_OFFSETS, connectAdmin, sleep, withKafka } from '../kafka-io';
import { readTopicsToEnd } from '../topic-reader';
import type { ReplayLedgerEntry } from '../../runtime/replay';
import { entryReread } from '../../runtime/replay';
import { readReplayLedger } from './replay';
import { sourcesLag } from './sources';
import { type SourceLag, sourceLagText } from './sources-plan';
import type { KafkaAdmin } from '../../runtime/kafka-client';

/** Resets shown by the text view (JSON has them all). */
const REPLAYS_SHOWN = 5;

export interface StepStatus {
  readonly step: string;
  readonly input: string;
  readonly group: string;
  readonly state: string;
  readonly members: number;
  readonly lag: number | null;
  readonly ratePerSecond: number | null;
  readonly deadLetters: number | null;
}

function lagOf(ends: Map<number, { low: bigint; high: bigint }>, commits: Map<number, bigint>): number {
  let lag = 0n;
  for (const [p, { low, high }] of ends) {
    const c = commits.get(p) ?? -1n;
    const from = c < low ? low : c;
    if (high > from) lag += high - from;
  }
  return Number(lag);
}

const sum = (m: Map<number, bigint>, low: Map<number, { low: bigint }>) =>
  [...low.keys()].reduce((n, p) => {
    const c = m.get(p) ?? -1n;
    const l = low.get(p)!.low;
    return n + (c < l ? l : c);
  }, 0n);

export async function pipelineStatus(ctx: CliContext, admin: KafkaAdmin, sampleMs: number): Promise<StepStatus[]> {
  const existing = new Set(await admin.listTopics());
  const all = stages(ctx.pipeline);
  const steps = all.filter((s) => existing.has(s.input));
  const groups = steps.map((s) => s.group);
  const described = groups.length ? (await admin.describeGroups(groups)).groups : [];
  const ends = new Map<string, Map<number, { low: bigint; high: bigint }>>();
  const first = new Map<string, Map<number, bigint>>();
  for (const s of steps) {
    const offsets = await admin.fetchTopicOffsets(s.input);
    ends.set(s.input, new Map(offsets.map((p) => [p.partition, { low: BigInt(p.low), high: BigInt(p.high) }])));
    first.set(s.step.id, await fetchCommittedOffsets(admin, s.group, s.input, CLI_OFFSETS));
  }
  let second: Map<string, Map<number, bigint>> | null = null;
  if (sampleMs > 0) {
    await sleep(sampleMs);
    second = new Map();
    for (const s of steps) second.set(s.step.id, await fetchCommittedOffsets(admin, s.group, s.input, CLI_OFFSETS));
  }
  const deadLetters = await countDeadLetters(admin, ctx.pipeline);
  const out: StepStatus[] = [];
  for (const { step, group, dlq } of all) {
    if (!existing.has(step.input)) {
      out.push({
        step: step.id,
        input: step.input,
        group,
        state: 'NO TOPIC',
        members: 0,
        lag: null,
        ratePerSecond: null,
        deadLetters: null,
      });
      continue;
    }
    const d = described.find((g) => g.groupId === group);
    const e = ends.get(step.input)!;
    const latest = (second ?? first).get(step.id)!;
    const rate = second ? Number(sum(second.get(step.id)!, e) - sum(first.get(step.id)!, e)) / (sampleMs / 1000) : null;
    out.push({
      step: step.id,
      input: step.input,
      group,
      state: d?.state ?? 'Unknown',
      members: d?.members.length ?? 0,
      lag: lagOf(e, latest),
      ratePerSecond: rate === null ? null : Number(rate.toFixed(1)),
      deadLetters: deadLetters.get(dlq) ?? null,
    });
  }
  return out;
}

export interface JobStatusView {
  readonly jobId: string;
  readonly state: IngestJobStatus['state'] | 'UNKNOWN';
  readonly status: IngestJobStatus | null;
}

export async function jobStatus(ctx: CliContext, admin: KafkaAdmin, jobId: string): Promise<JobStatusView> {
  const t = pipelineTopics(ctx.pipeline);
  const existing = new Set(await admin.listTopics());
  let latest: IngestJobStatus | null = null;
  let submitted = false;
  await readTopicsToEnd(
    ctx,
    'status',
    [t.status, t.jobs].filter((x) => existing.has(x)),
    async ({ topic, message }) => {
      if (message.key?.toString('utf8') !== jobId) return;
      if (topic === t.jobs) {
        submitted = true;
        return;
      }
      if (!message.value) return;
      const d = await ctx.serde().decode<IngestJobStatus>(message.value, 'IngestJobStatus');
      if (d.ok && (!latest || latest.updatedAt <= d.value.updatedAt)) latest = d.value;
    },
  );
  const status = latest as IngestJobStatus | null;
  return { jobId, state: status?.state ?? (submitted ? 'PENDING' : 'UNKNOWN'), status };
}

function printReplays(io: Io, replays: readonly ReplayLedgerEntry[]): void {
  if (replays.length === 0) return;
  io.out(`\nreplays (latest ${Math.min(REPLAYS_SHOWN, replays.length)} of ${replays.length}, listflow replay):`);
  for (const r of replays.slice(-REPLAYS_SHOWN).reverse()) {
    io.out(
      `  ${r.resetAt}  ${r.step.padEnd(14)} --from ${r.from}  ${entryReread(r)} re-read  by ${r.by}  ${r.replayId}`,
    );
  }
}

function printSources(io: Io, sources: readonly SourceLag[] | string | undefined, remote: boolean): void {
  if (sources === undefined) return;
  io.out('\nsources (lag from the committed cursors; listflow sources list for more):');
  if (typeof sources === 'string') io.out(`  ${sources}`);
  else if (sources.length === 0) io.out('  none applied (listflow sources apply)');
  else for (const s of sources) io.out(`  ${sourceLagText(s, remote)}`);
}

function printPipeline(io: Io, steps: StepStatus[]): void {
  io.out(
    `${'step'.padEnd(14)} ${'group state'.padEnd(20)} ${'members'.padStart(7)} ${'lag'.padStart(8)} ${'rate/s'.padStart(8)} ${'dead letters'.padStart(12)}`,
  );
  for (const s of steps) {
    io.out(
      `${s.step.padEnd(14)} ${s.state.padEnd(20)} ${String(s.members).padStart(7)} ${String(s.lag ?? '-').padStart(8)} ${String(s.ratePerSecond ?? '-').padStart(8)} ${String(s.deadLetters ?? '-').padStart(12)}`,
    );
  }
}

export const statusCommands: Command[] = [
  {
    path: ['status'],
    summary: "A job's state (with JOB_ID), or the pipeline's: lag, rate, dead letters per step, latest replays.",
    args: '[JOB_ID]',
    maxPositionals: 1,
    options: { 'sample-ms': { type: 'string' }, remaining: { type: 'boolean' } },
    optionHelp: {
      'sample-ms': 'Pipeline view: measure the commit rate over this many ms (default 1000; 0 skips it).',
      remaining: 'Pipeline view: also ask each source for the records past its cursor (one $count request per source).',
    },
    details: 'Exit code 1 for an unknown job id or a FAILED job.',
    async run(args, io) {
      const ctx = cliContext(process.env, 'status');
      const admin = await connectAdmin(ctx);
      try {
        const jobId = args.positionals[0];
        if (jobId !== undefined) {
          const v = await withKafka(ctx, () => jobStatus(ctx, admin, jobId));
          if (io.json) printJson(io, v);
          if (v.state === 'UNKNOWN') {
            io.err(`listflow status: no job ${jobId} in ${pipelineTopics(ctx.pipeline).jobs} or its status topic.`);
            return 1;
          }
          const s = v.status;
          io.out(`job ${jobId}: ${v.state}`);
          if (s) {
            io.out(`  source   ${s.source}`);
            io.out(`  uri      ${s.uri}`);
            io.out(`  records  ${s.records}   rejects ${s.rejects}`);
            if (s.errorCode) io.out(`  error    [${s.errorCode}] ${s.message ?? ''}`);
            io.out(`  updated  ${s.updatedAt.toISOString()}`);
          }
          return v.state === 'FAILED' ? 1 : 0;
        }
        const sampleMs = intOption(args, 'sample-ms', 0, 60_000) ?? 1000;
        const steps = await withKafka(ctx, () => pipelineStatus(ctx, admin, sampleMs));
        const replays = await withKafka(ctx, () => readReplayLedger(ctx.kafka(), ctx.pipeline));
        const remote = Boolean(args.values.remaining);
        const sources = await withKafka(ctx, () => sourcesLag(ctx, admin, remote));
        if (io.json) printJson(io, { pipeline: ctx.pipeline.name, steps, replays, ...(sources ? { sources } : {}) });
        else {
          printPipeline(io, steps);
          printSources(io, sources, remote);
          printReplays(io, replays);
        }
        return 0;
      } finally {
        await admin.disconnect().catch(() => undefined);
        await ctx.close();
      }
    },
  },
];
