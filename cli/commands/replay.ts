/**
 * `listflow replay --step S --from <ISO time|earliest|latest> [--yes]`: moves a step's consumer group on its
 * input topic, so the step processes those records again (a rule change, a fixed bug) or skips ahead.
 *
 * - Where to: earliest/latest are each partition's start and end; a time is Kafka's offsets-for-times per
 *   partition (the first record at or after it; the end where there is none).
 * - Safety: it refuses while the group has members (a live member's next commit would overwrite the reset),
 *   and says how to stop them. It always prints the plan; only `--yes` changes anything.
 * - Record: the new offsets are committed for the group in one Kafka transaction with the entry in the
 *   pipeline's replay ledger (`listflow.<pipeline>.replay-ledger`), so every reset that happened is recorded
 *   and nothing recorded failed to happen. `listflow status` lists the ledger.
 */
import { hostname, userInfo } from 'node:os';
import { randomUUID } from 'node:crypto';
import { deploymentName } from '../../k8s/render';
import { ensureCompactedTopic, fetchCommittedOffsets } from '../../runtime/kafka';
import type { KafkaAdmin, KafkaClient } from '../../runtime/kafka-client';
import { groupId, type PipelineSpec, replayLedgerTopic, type StepSpec } from '../../runtime/pipeline';
import {
  describeFrom,
  ledgerEntry,
  type PartitionPlan,
  type PartitionState,
  parseReplayFrom,
  planLines,
  planReplay,
  type ReplayFrom,
  type ReplayLedgerEntry,
  readLedgerEntry,
  refusal,
  totalReread,
  totalSkipped,
} from '../../runtime/replay';
import { type Command, printJson, stringOption, UsageError } from '../command';
import { type CliContext, cliContext } from '../context';
import { CLI_OFFSETS, CLI_RETRY, cliKafka, connectAdmin, withKafka } from '../kafka-io';
import { readMessages } from '../../runtime/dead-letters/read';
import { operators } from '../../operators';

class ReplayError extends Error {
  override readonly name = 'ReplayError';
}

export interface ReplayPlan {
  readonly pipeline: string;
  readonly step: string;
  readonly group: string;
  readonly topic: string;
  readonly from: string;
  readonly partitions: readonly PartitionPlan[];
  /** Why the reset may not run now (active members), if so. */
  readonly refused?: string;
}

export function findStep(pipeline: PipelineSpec, id: string): StepSpec {
  const step = pipeline.steps.find((s) => s.id === id);
  if (!step) {
    throw new UsageError(
      `Expected one of ${pipeline.steps.map((s) => s.id).join(', ')} for --step but received ${JSON.stringify(id)}.`,
    );
  }
  return step;
}

/** The plan of a reset of `step` to `from`, read from the broker; changes nothing. */
export async function replayPlan(
  admin: KafkaAdmin,
  pipeline: PipelineSpec,
  step: StepSpec,
  from: ReplayFrom,
): Promise<ReplayPlan> {
  const group = groupId(pipeline, step);
  if (!(await admin.listTopics()).includes(step.input)) {
    throw new ReplayError(
      `The input topic ${step.input} of step ${step.id} does not exist. Fix: listflow topics apply.`,
    );
  }
  const ends = await admin.fetchTopicOffsets(step.input);
  const committed = await fetchCommittedOffsets(admin, group, step.input, CLI_OFFSETS);
  const atTime =
    from.kind === 'time'
      ? new Map(
          (await admin.fetchTopicOffsetsByTimestamp(step.input, from.at.getTime())).map((p) => [
            p.partition,
            BigInt(p.offset),
          ]),
        )
      : undefined;
  const states: PartitionState[] = ends.map((e) => ({
    partition: e.partition,
    low: BigInt(e.low),
    high: BigInt(e.high),
    committed: committed.get(e.partition) ?? -1n,
    ...(atTime?.has(e.partition) ? { atTime: atTime.get(e.partition) } : {}),
  }));
  const [described] = (await admin.describeGroups([group])).groups;
  const why = described ? refusal(group, step.id, deploymentName(step), described) : undefined;
  return {
    pipeline: pipeline.name,
    step: step.id,
    group,
    topic: step.input,
    from: describeFrom(from),
    partitions: planReplay(from, states),
    ...(why ? { refused: why } : {}),
  };
}

/**
 * Commits the plan's offsets for the group and writes its ledger entry, in one transaction. A transactional
 * offset commit, not admin.setOffsets: that one joins the group as a member for seconds, which is exactly what a
 * worker starting meanwhile would then have to wait for.
 */
export async function applyReplay(kafka: KafkaClient, admin: KafkaAdmin, plan: ReplayPlan): Promise<ReplayLedgerEntry> {
  if (plan.refused) throw new ReplayError(plan.refused);
  const ledger = replayLedgerTopic({ name: plan.pipeline });
  // `topics apply` creates it; a replay before that creates it itself.
  await ensureCompactedTopic(admin, ledger);
  const entry = ledgerEntry(
    {
      replayId: randomUUID(),
      pipeline: plan.pipeline,
      step: plan.step,
      group: plan.group,
      topic: plan.topic,
      from: plan.from,
      resetAt: new Date().toISOString(),
      by: `${userInfo().username}@${hostname()}`,
    },
    plan.partitions,
  );
  const producer = kafka.producer({
    transactionalId: `listflow.replay.${plan.pipeline}.${plan.step}`,
    idempotent: true,
    retry: CLI_RETRY,
  });
  await producer.connect();
  try {
    const tx = await producer.transaction();
    try {
      await tx.send({ topic: ledger, messages: [{ key: entry.replayId, value: JSON.stringify(entry) }] });
      await tx.sendOffsets({
        consumerGroupId: plan.group,
        topics: [
          {
            topic: plan.topic,
            partitions: plan.partitions.map((p) => ({ partition: p.partition, offset: String(p.to) })),
          },
        ],
      });
      await tx.commit();
    } catch (e) {
      await tx.abort().catch(() => undefined);
      throw e;
    }
  } finally {
    await producer.disconnect();
  }
  return entry;
}

/** Every reset recorded for the pipeline, oldest first. */
export async function readReplayLedger(
  kafka: KafkaClient,
  pipeline: Pick<PipelineSpec, 'name'>,
): Promise<ReplayLedgerEntry[]> {
  const out: ReplayLedgerEntry[] = [];
  for (const m of await readMessages(kafka, [replayLedgerTopic(pipeline)])) {
    const e = readLedgerEntry(m.value);
    if (e) out.push(e);
  }
  return out.sort((a, b) => a.resetAt.localeCompare(b.resetAt));
}

const count = (n: bigint) => `${n} record${n === 1n ? '' : 's'}`;

async function withAdmin<T>(ctx: CliContext, fn: (admin: KafkaAdmin) => Promise<T>): Promise<T> {
  const admin = await connectAdmin(ctx);
  try {
    return await withKafka(ctx, () => fn(admin));
  } finally {
    await admin.disconnect().catch(() => undefined);
    await ctx.close();
  }
}

export const replayCommands: Command[] = [
  {
    path: ['replay'],
    summary: "Move a step's consumer group back (or forward) on its input topic, so it processes the records again.",
    maxPositionals: 0,
    options: { step: { type: 'string' }, from: { type: 'string' }, yes: { type: 'boolean' } },
    optionHelp: {
      step: 'The step whose group moves (a step id of the pipeline).',
      from: 'earliest, latest, or an ISO 8601 time: each partition goes to its first record at or after it.',
      yes: 'Do it. Without --yes the plan is printed and nothing changes.',
    },
    details: [
      'Prints the plan first (per partition: where the group is, where it goes, records re-read or skipped).',
      "Refuses while the step's group has members: stop its workers (kubectl scale deployment listflow-<step>",
      '--replicas=0, or stop `listflow run --all`), replay, start them again. With --yes the offsets are committed',
      'in one Kafka transaction with an entry in listflow.<pipeline>.replay-ledger, which `listflow status` shows.',
      'A replay re-reads only what the input topic still holds (listings.raw keeps 7 days); for older records',
      're-read the source itself (`listflow ingest` of the feed again). Effects are idempotent: re-processed',
      'records rewrite nothing that was already right.',
    ].join('\n'),
    async run(args, io) {
      const stepId = stringOption(args, 'step');
      const fromRaw = stringOption(args, 'from');
      if (stepId === undefined || fromRaw === undefined) {
        throw new UsageError('listflow replay needs --step <step> and --from <earliest|latest|ISO time>.');
      }
      const from = parseReplayFrom(fromRaw);
      if (typeof from === 'string') throw new UsageError(from);
      const ctx = cliContext(process.env, 'replay');
      const step = findStep(ctx.pipeline, stepId);
      if (operators[step.operator as keyof typeof operators]?.own !== undefined) {
        // An owning step's workers commit no offsets and re-read their assignments from the start: a committed
        // offset would hide assignments from them, and there is nothing to re-process.
        throw new UsageError(
          `Step ${step.id} owns keys (its input holds standing assignments, not jobs), so it has no offsets to move. Fix: move a key's own state instead (for sources: listflow sources reset NAME --to TIME, or sources sync NAME --once --from TIME).`,
        );
      }
      return withAdmin(ctx, async (admin) => {
        const plan = await replayPlan(admin, ctx.pipeline, step, from);
        const yes = Boolean(args.values.yes);
        const entry = yes && !plan.refused ? await applyReplay(cliKafka(ctx), admin, plan) : undefined;
        if (io.json) {
          printJson(io, {
            ...plan,
            partitions: plan.partitions.map((p) => ({
              partition: p.partition,
              from: String(p.from),
              to: String(p.to),
              reread: String(p.reread),
              skipped: String(p.skipped),
            })),
            applied: entry !== undefined,
            ...(entry ? { replayId: entry.replayId, ledger: replayLedgerTopic(ctx.pipeline) } : {}),
          });
        } else {
          io.out(`replay ${plan.step}: group ${plan.group} on ${plan.topic}, --from ${plan.from}`);
          for (const line of planLines(plan.partitions)) io.out(`  ${line}`);
          io.out(
            `  total: ${count(totalReread(plan.partitions))} to re-read, ${count(totalSkipped(plan.partitions))} skipped`,
          );
        }
        if (plan.refused) {
          io.err(`listflow replay: ${plan.refused}`);
          return 1;
        }
        if (!entry) {
          io.out('Nothing changed. Run again with --yes to move the group.');
          return 0;
        }
        io.out(`done: offsets committed, recorded as ${entry.replayId} in ${replayLedgerTopic(ctx.pipeline)}`);
        return 0;
      });
    },
  },
];
