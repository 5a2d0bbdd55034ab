/**
 * `listflow topics apply|list`: the pipeline's topics on the broker, declared in pipelines/*.ts.
 *
 * `apply` is safe to re-run: it creates what is missing (every pipeline topic and each step's `<input>.dlq`),
 * raises partition counts, and brings `cleanup.policy` / `retention.ms` in line. It never shrinks a topic:
 * Kafka cannot remove partitions and re-keying would break per-key order, so a smaller count is refused before
 * anything is changed.
 *
 * kafkajs 2.2 has no IncrementalAlterConfigs (tulios/kafkajs#1517) and AlterConfigs replaces every
 * topic-level override, so changes are read-modify-write: the topic's current overrides are kept and only the
 * two keys the pipeline owns are set or removed.
 */
import { waitForTopics } from '../../runtime/kafka';
import type { KafkaAdmin } from '../../runtime/kafka-client';
import { type PipelineSpec, type TopicRole, topicsOf } from '../../runtime/pipeline';
import { type Command, intOption, type Io, type ParsedArgs, printJson, UsageError } from '../command';
import { cliContext } from '../context';

export const REPLICATION_FACTOR_ENV = 'LISTFLOW_REPLICATION_FACTOR';
const CLEANUP_POLICY = 'cleanup.policy';
const RETENTION_MS = 'retention.ms';

/** A topic as the pipeline wants it. `configs` holds the owned keys: a value to set, or null to remove. */
export interface DesiredTopic {
  readonly topic: string;
  readonly partitions: number;
  readonly role: TopicRole;
  readonly configs: Readonly<Record<string, string | null>>;
}

/**
 * The pipeline's topics (runtime/pipeline.ts topicsOf) as Kafka configs. retention.ms is owned only for
 * delete-policy pipeline topics; omitted means the broker default.
 */
export function desiredTopics(pipeline: PipelineSpec): DesiredTopic[] {
  return topicsOf(pipeline).map((t) => {
    const configs: Record<string, string | null> = t.compact
      ? { [CLEANUP_POLICY]: 'compact' }
      : t.role === 'pipeline'
        ? { [CLEANUP_POLICY]: 'delete', [RETENTION_MS]: t.retentionMs === undefined ? null : String(t.retentionMs) }
        : { [CLEANUP_POLICY]: 'delete' };
    return { topic: t.topic, partitions: t.partitions, role: t.role, configs };
  });
}

/** The config entries a new topic is created with (a null config means the broker default: not set). */
export const creationConfigs = (d: DesiredTopic): { name: string; value: string }[] =>
  Object.entries(d.configs)
    .filter((e): e is [string, string] => e[1] !== null)
    .map(([name, value]) => ({ name, value }));

export type TopicAction = 'created' | 'updated' | 'unchanged' | 'refused';

export interface TopicOutcome {
  readonly topic: string;
  readonly role: TopicRole;
  readonly action: TopicAction;
  /** Partitions after apply (or current, when refused). */
  readonly partitions: number;
  readonly policy: string;
  /** Human descriptions of what changed, e.g. `partitions 3 -> 6`. */
  readonly changes: readonly string[];
}

export interface ApplyResult {
  readonly topics: readonly TopicOutcome[];
  /** One message per topic that the pipeline would shrink; when non-empty nothing was changed. */
  readonly refused: readonly string[];
}

interface CurrentTopic {
  readonly partitions: number;
  /** Effective values of every config. */
  readonly values: ReadonlyMap<string, string>;
  /** Topic-level overrides (what AlterConfigs would replace). */
  readonly overrides: ReadonlyMap<string, string>;
}

async function describeTopics(admin: KafkaAdmin, topics: readonly string[]): Promise<Map<string, CurrentTopic>> {
  const existing = new Set(await admin.listTopics());
  const present = topics.filter((t) => existing.has(t));
  const out = new Map<string, CurrentTopic>();
  if (present.length === 0) return out;
  const { topics: meta } = await admin.fetchTopicMetadata({ topics: present });
  const partitions = new Map(meta.map((m) => [m.name, m.partitions.length]));
  for (const [topic, entries] of await admin.describeTopicConfigs(present)) {
    const values = new Map<string, string>();
    const overrides = new Map<string, string>();
    for (const e of entries) {
      if (e.value === null) continue;
      values.set(e.name, e.value);
      if (e.isTopicOverride) overrides.set(e.name, e.value);
    }
    out.set(topic, { partitions: partitions.get(topic) ?? 0, values, overrides });
  }
  return out;
}

/** Creates or updates the pipeline's topics. Refuses (changing nothing) if any topic would have to shrink. */
export async function applyTopics(
  admin: KafkaAdmin,
  pipeline: PipelineSpec,
  opts: { replicationFactor: number },
): Promise<ApplyResult> {
  const desired = desiredTopics(pipeline);
  const current = await describeTopics(
    admin,
    desired.map((d) => d.topic),
  );

  const refused: string[] = [];
  for (const d of desired) {
    const cur = current.get(d.topic);
    if (cur && cur.partitions > d.partitions) {
      refused.push(
        `Topic ${d.topic} has ${cur.partitions} partitions but the pipeline asks for ${d.partitions}; Kafka cannot remove partitions. Fix: set ${d.role === 'dlq' ? `the partitions of the step's input topic` : `topics[${JSON.stringify(d.topic)}].partitions`} to at least ${cur.partitions}, or migrate to a new topic.`,
      );
    }
  }
  if (refused.length > 0) {
    return {
      refused,
      topics: desired.map((d) => {
        const cur = current.get(d.topic);
        const shrink = cur !== undefined && cur.partitions > d.partitions;
        return {
          topic: d.topic,
          role: d.role,
          action: shrink ? 'refused' : 'unchanged',
          partitions: cur?.partitions ?? 0,
          policy: cur?.values.get(CLEANUP_POLICY) ?? '-',
          changes: shrink ? [`partitions ${cur.partitions} -> ${d.partitions} refused`] : [],
        };
      }),
    };
  }

  const outcomes: TopicOutcome[] = [];
  const toCreate = desired.filter((d) => !current.has(d.topic));
  if (toCreate.length > 0) {
    await admin.createTopics({
      // Without waiting for leaders: KRaft brokers answer UNKNOWN_TOPIC_OR_PARTITION until the new topic's
      // metadata has propagated, which waitForTopics below tolerates.
      topics: toCreate.map((d) => ({
        topic: d.topic,
        numPartitions: d.partitions,
        replicationFactor: opts.replicationFactor,
        configEntries: creationConfigs(d),
      })),
    });
  }

  const grow: { topic: string; count: number }[] = [];
  const alter: { topic: string; entries: { name: string; value: string }[] }[] = [];
  for (const d of desired) {
    const policy = d.configs[CLEANUP_POLICY] ?? 'delete';
    const cur = current.get(d.topic);
    if (!cur) {
      const changes = [`partitions ${d.partitions}`, `replication factor ${opts.replicationFactor}`];
      for (const [k, v] of Object.entries(d.configs)) if (v !== null) changes.push(`${k}=${v}`);
      outcomes.push({ topic: d.topic, role: d.role, action: 'created', partitions: d.partitions, policy, changes });
      continue;
    }
    const changes: string[] = [];
    if (cur.partitions < d.partitions) {
      grow.push({ topic: d.topic, count: d.partitions });
      changes.push(`partitions ${cur.partitions} -> ${d.partitions}`);
    }
    const next = new Map(cur.overrides);
    for (const [k, v] of Object.entries(d.configs)) {
      if (v === null) {
        if (cur.overrides.has(k)) {
          changes.push(`${k} ${cur.overrides.get(k)} -> broker default`);
          next.delete(k);
        }
      } else if (cur.values.get(k) !== v) {
        changes.push(`${k} ${cur.values.get(k) ?? '(unset)'} -> ${v}`);
        next.set(k, v);
      }
    }
    const overridesChanged = next.size !== cur.overrides.size || [...next].some(([k, v]) => cur.overrides.get(k) !== v);
    if (overridesChanged) alter.push({ topic: d.topic, entries: [...next].map(([name, value]) => ({ name, value })) });
    outcomes.push({
      topic: d.topic,
      role: d.role,
      action: changes.length > 0 ? 'updated' : 'unchanged',
      partitions: Math.max(cur.partitions, d.partitions),
      policy,
      changes,
    });
  }
  if (grow.length > 0) await admin.createPartitions({ topicPartitions: grow });
  await waitForTopics(admin, [...toCreate.map((d) => ({ topic: d.topic, count: d.partitions })), ...grow]);
  if (alter.length > 0) {
    await admin.alterTopicConfigs(alter);
  }
  return { topics: outcomes, refused: [] };
}

export interface ListedTopic {
  readonly topic: string;
  readonly role: TopicRole;
  /** null when the topic does not exist. */
  readonly partitions: number | null;
  readonly wantedPartitions: number;
  readonly policy: string | null;
  readonly retentionMs: string | null;
}

export async function listTopics(admin: KafkaAdmin, pipeline: PipelineSpec): Promise<ListedTopic[]> {
  const desired = desiredTopics(pipeline);
  const current = await describeTopics(
    admin,
    desired.map((d) => d.topic),
  );
  return desired.map((d) => {
    const cur = current.get(d.topic);
    return {
      topic: d.topic,
      role: d.role,
      partitions: cur?.partitions ?? null,
      wantedPartitions: d.partitions,
      policy: cur?.values.get(CLEANUP_POLICY) ?? null,
      retentionMs: cur?.values.get(RETENTION_MS) ?? null,
    };
  });
}

/** --replication-factor, else LISTFLOW_REPLICATION_FACTOR, else 1 (the local single-node broker). */
export function replicationFactor(args: ParsedArgs, env: NodeJS.ProcessEnv): number {
  const fromFlag = intOption(args, 'replication-factor', 1, 32767);
  if (fromFlag !== undefined) return fromFlag;
  const raw = env[REPLICATION_FACTOR_ENV];
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 32767) {
    throw new UsageError(
      `Expected an integer between 1 and 32767 for ${REPLICATION_FACTOR_ENV} but received ${JSON.stringify(raw)}. Fix: set it to the number of brokers that should hold each partition, e.g. 3.`,
    );
  }
  return n;
}

export function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

async function withAdmin<T>(fn: (admin: KafkaAdmin, pipeline: PipelineSpec) => Promise<T>): Promise<T> {
  const ctx = cliContext(process.env, 'topics');
  const admin = ctx.kafka().admin();
  await admin.connect();
  try {
    return await fn(admin, ctx.pipeline);
  } finally {
    await admin.disconnect();
    await ctx.close();
  }
}

function printApply(io: Io, result: ApplyResult): void {
  const rows = [['TOPIC', 'PARTITIONS', 'POLICY', 'ACTION', 'CHANGES']];
  for (const t of result.topics) {
    rows.push([t.topic, String(t.partitions), t.policy, t.action, t.changes.join(', ')]);
  }
  for (const line of table(rows)) io.out(line);
  const count = (a: TopicAction) => result.topics.filter((t) => t.action === a).length;
  io.out(
    `\n${count('created')} created, ${count('updated')} updated, ${count('unchanged')} unchanged${result.refused.length > 0 ? `, ${result.refused.length} refused (nothing was changed)` : ''}`,
  );
}

export const topicsCommands: Command[] = [
  {
    path: ['topics', 'apply'],
    summary: "Create or update the pipeline's topics and dead-letter topics; never shrinks partitions.",
    maxPositionals: 0,
    options: { 'replication-factor': { type: 'string' } },
    optionHelp: {
      'replication-factor': `Replicas of each new topic (default: ${REPLICATION_FACTOR_ENV}, else 1 for the local broker).`,
    },
    details:
      'Creates every topic of the pipeline and `<input>.dlq` for each step (same partitions as the input), with\n' +
      'cleanup.policy=compact for compacted topics and retention.ms where the pipeline gives one. Re-running is\n' +
      'safe: partitions are raised and configs updated to match. A topic with more partitions than the pipeline asks\n' +
      'for is refused (exit 1) and nothing is changed.',
    async run(args, io) {
      const rf = replicationFactor(args, process.env);
      const result = await withAdmin((admin, pipeline) => applyTopics(admin, pipeline, { replicationFactor: rf }));
      if (io.json) printJson(io, { ok: result.refused.length === 0, ...result });
      else printApply(io, result);
      for (const r of result.refused) io.err(`listflow topics apply: ${r}`);
      return result.refused.length > 0 ? 1 : 0;
    },
  },
  {
    path: ['topics', 'list'],
    summary: "Show the pipeline's topics on the broker: partitions, cleanup policy, retention, missing ones.",
    maxPositionals: 0,
    async run(_args, io) {
      const listed = await withAdmin((admin, pipeline) => listTopics(admin, pipeline));
      if (io.json) {
        printJson(io, { topics: listed });
      } else {
        const rows = [['TOPIC', 'PARTITIONS', 'POLICY', 'RETENTION.MS', 'STATE']];
        for (const t of listed) {
          const state =
            t.partitions === null
              ? 'missing'
              : t.partitions < t.wantedPartitions
                ? `wants ${t.wantedPartitions} partitions`
                : 'ok';
          rows.push([t.topic, String(t.partitions ?? '-'), t.policy ?? '-', t.retentionMs ?? '-', state]);
        }
        for (const line of table(rows)) io.out(line);
      }
      return 0;
    },
  },
];
