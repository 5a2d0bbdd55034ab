/**
 * The pure parts of `listflow replay`: what `--from` means, the per-partition plan (where the step's group is,
 * where it will be, how many records it re-reads or skips), the refusal while the group has members, and the
 * ledger entry that records a reset. Kafka I/O lives in cli/commands/replay.ts.
 *
 * Why a replay is safe to run: every effect downstream of a step is idempotent (deterministic keys,
 * content-addressed blobs, upserts guarded by a modification time), so re-reading records that were already
 * processed rewrites nothing that was right. What it can change is what a rule change made different.
 */

/** `--from`: a point in time, or one end of the partition. */
export type ReplayFrom =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'time'; readonly at: Date };

/** Parses `--from`: earliest, latest, or an ISO 8601 date-time with a zone; a message on failure. */
export function parseReplayFrom(s: string): ReplayFrom | string {
  if (s === 'earliest' || s === 'latest') return { kind: s };
  const at = new Date(s);
  if (
    !/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/.test(s) ||
    Number.isNaN(at.getTime())
  ) {
    return `Expected earliest, latest or an ISO 8601 date-time (e.g. 2026-01-31T12:00:00Z) for --from but received ${JSON.stringify(s)}.`;
  }
  return { kind: 'time', at };
}

export const describeFrom = (f: ReplayFrom): string => (f.kind === 'time' ? f.at.toISOString() : f.kind);

/** One partition of the step's input as the broker reports it. */
export interface PartitionState {
  readonly partition: number;
  readonly low: bigint;
  readonly high: bigint;
  /** The group's committed offset (next to read); -1 when it has committed nothing. */
  readonly committed: bigint;
  /** offsets-for-times' answer for `--from <time>` (the first offset at or after it, else the end). */
  readonly atTime?: bigint;
}

export interface PartitionPlan {
  readonly partition: number;
  /** Where the group is now: its committed offset, or the start of the partition when it has none. */
  readonly from: bigint;
  /** Where the group will be. */
  readonly to: bigint;
  /** Records already processed that the step processes again (moving back). */
  readonly reread: bigint;
  /** Records not yet processed that the step will never see (moving forward, e.g. --from latest). */
  readonly skipped: bigint;
}

const clamp = (v: bigint, low: bigint, high: bigint): bigint => (v < low ? low : v > high ? high : v);

/**
 * Where each partition goes. A group without a commit on a partition reads it from the start (the workers
 * subscribe from the beginning), so that is its `from`. Targets are clamped to what the partition still holds:
 * retention may have removed the records before a time.
 */
export function planReplay(from: ReplayFrom, partitions: readonly PartitionState[]): PartitionPlan[] {
  return [...partitions]
    .sort((a, b) => a.partition - b.partition)
    .map((p) => {
      const current = p.committed < 0n ? p.low : clamp(p.committed, p.low, p.high);
      const target =
        from.kind === 'earliest' ? p.low : from.kind === 'latest' ? p.high : clamp(p.atTime ?? p.high, p.low, p.high);
      return {
        partition: p.partition,
        from: current,
        to: target,
        reread: current > target ? current - target : 0n,
        skipped: target > current ? target - current : 0n,
      };
    });
}

export const totalReread = (plan: readonly PartitionPlan[]): bigint => plan.reduce((n, p) => n + p.reread, 0n);
export const totalSkipped = (plan: readonly PartitionPlan[]): bigint => plan.reduce((n, p) => n + p.skipped, 0n);

/** The plan as the command prints it, one partition a line. */
export function planLines(plan: readonly PartitionPlan[]): string[] {
  const rows = [
    ['PARTITION', 'FROM', 'TO', 'RE-READ', 'SKIPPED'],
    ...plan.map((p) => [String(p.partition), String(p.from), String(p.to), String(p.reread), String(p.skipped)]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
}

/** A group's members as describeGroups reports them. */
export interface GroupState {
  readonly state: string;
  readonly members: readonly { readonly clientId: string; readonly clientHost: string }[];
}

/**
 * Why the group may not be moved now, or undefined. Kafka ignores (and the next commit of a live member
 * overwrites) an offset reset made while members own the partitions, so a replay needs the step stopped.
 */
export function refusal(group: string, stepId: string, deployment: string, g: GroupState): string | undefined {
  if (g.members.length === 0) return undefined;
  const who = g.members.map((m) => `${m.clientId}@${m.clientHost.replace(/^\//, '')}`).join(', ');
  return [
    `The consumer group ${group} has ${g.members.length} active member(s) (state ${g.state}: ${who}); an offset reset needs the step stopped.`,
    `Fix: stop the ${stepId} workers, then run replay again:`,
    `  - on Kubernetes: kubectl scale deployment ${deployment} --replicas=0 (with KEDA, pause its ScaledObject first: annotate it autoscaling.keda.sh/paused-replicas=0);`,
    '  - locally: stop `listflow run --all` (Ctrl-C, or SIGTERM to the supervisor), or the `listflow run --operator` process of the step.',
    'Start them again after the reset; they continue from the new offsets.',
  ].join('\n');
}

/** What the ledger records per reset (JSON value, key = replayId). */
export interface ReplayLedgerEntry {
  readonly replayId: string;
  readonly pipeline: string;
  readonly step: string;
  readonly group: string;
  readonly topic: string;
  /** `--from` as given: earliest, latest or an ISO time. */
  readonly from: string;
  readonly resetAt: string;
  /** Who ran it: user@host of the CLI process. */
  readonly by: string;
  readonly partitions: readonly { partition: number; from: string; to: string; reread: string; skipped: string }[];
}

export function ledgerEntry(
  base: Omit<ReplayLedgerEntry, 'partitions'>,
  plan: readonly PartitionPlan[],
): ReplayLedgerEntry {
  return {
    ...base,
    partitions: plan.map((p) => ({
      partition: p.partition,
      from: String(p.from),
      to: String(p.to),
      reread: String(p.reread),
      skipped: String(p.skipped),
    })),
  };
}

/** Parses a ledger value; undefined for anything that is not an entry (another writer, a corrupt record). */
export function readLedgerEntry(value: Buffer | null): ReplayLedgerEntry | undefined {
  if (!value) return undefined;
  try {
    const v = JSON.parse(value.toString('utf8')) as Partial<ReplayLedgerEntry>;
    if (typeof v.replayId !== 'string' || typeof v.step !== 'string' || !Array.isArray(v.partitions)) return undefined;
    return v as ReplayLedgerEntry;
  } catch {
    return undefined;
  }
}

/** Records re-read (moved back) over all partitions of an entry. */
export const entryReread = (e: ReplayLedgerEntry): bigint => e.partitions.reduce((n, p) => n + BigInt(p.reread), 0n);
