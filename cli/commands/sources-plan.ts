/**
 * The pure parts of `listflow sources apply|list|sync|reset`: apply's diff of the sources file against the
 * declarations in the sources topic, reset's plan, list's lines, and the argument checks. Kafka I/O lives in
 * sources.ts.
 */
import type { DeclaredSource, SourceStateView } from '../../operators/tools';
import type { SourceDeclaration } from '../../schemas/generated/types';
import { UsageError } from '../command';

export type ApplyAction = 'add' | 'change' | 'unchanged' | 'retire';

export interface ApplyEntry {
  readonly name: string;
  readonly action: ApplyAction;
  /** The declaration to write (add, change, unchanged); absent for retire (a tombstone). */
  readonly declaration?: SourceDeclaration;
  readonly digest?: string;
  readonly previousDigest?: string;
}

/**
 * What applying `next` (the sources file's declarations) to `current` (the topic's latest per source) does:
 * a source only in the file is added, one whose digest differs is changed, one only in the topic is retired
 * (its key gets a tombstone, which stops its poller). Sorted by name. `unchanged` ones are not written.
 */
export function applyPlan(
  current: ReadonlyMap<string, Pick<SourceDeclaration, 'digest'>>,
  next: readonly SourceDeclaration[],
): ApplyEntry[] {
  const out: ApplyEntry[] = [];
  const inFile = new Set(next.map((d) => d.name));
  for (const d of next) {
    const prior = current.get(d.name);
    if (!prior) out.push({ name: d.name, action: 'add', declaration: d, digest: d.digest });
    else if (prior.digest !== d.digest)
      out.push({ name: d.name, action: 'change', declaration: d, digest: d.digest, previousDigest: prior.digest });
    else out.push({ name: d.name, action: 'unchanged', declaration: d, digest: d.digest });
  }
  for (const [name, prior] of current) {
    if (!inFile.has(name)) out.push({ name, action: 'retire', previousDigest: prior.digest });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

const short = (digest: string | undefined) => (digest ?? '').slice(0, 12);

export function applyLine(e: ApplyEntry): string {
  switch (e.action) {
    case 'add':
      return `+ ${e.name}  added (${short(e.digest)})`;
    case 'change':
      return `~ ${e.name}  changed (${short(e.previousDigest)} -> ${short(e.digest)}): its poller restarts`;
    case 'unchanged':
      return `= ${e.name}  unchanged`;
    case 'retire':
      return `- ${e.name}  retired (not in the file): a tombstone stops its poller; its state stays`;
  }
}

/** The records apply writes: every added or changed declaration, a tombstone per retired source. */
export const applyWrites = (plan: readonly ApplyEntry[]): Array<{ name: string; value: SourceDeclaration | null }> =>
  plan
    .filter((e) => e.action !== 'unchanged')
    .map((e) => ({ name: e.name, value: e.action === 'retire' ? null : e.declaration! }));

export type ResetTarget = { readonly kind: 'beginning' } | { readonly kind: 'time'; readonly at: string };

/** `--to`: beginning or an instant with an offset (checked by `isInstant`, the cursor's own parser). */
export function parseResetTo(v: string | undefined, isInstant: (s: string) => boolean): ResetTarget {
  if (v === undefined)
    throw new UsageError('listflow sources reset needs --to <beginning|ISO instant, e.g. 2026-01-31T12:00:00Z>.');
  if (v === 'beginning') return { kind: 'beginning' };
  if (!isInstant(v)) {
    throw new UsageError(
      `Expected beginning or an ISO 8601 instant with an offset (e.g. 2026-01-31T12:00:00Z) for --to but received ${JSON.stringify(v)}.`,
    );
  }
  return { kind: 'time', at: v };
}

/** `--from` of `sources sync`: an instant with an offset, or a usage error naming the value. */
export function parseSyncFrom(v: string | undefined, isInstant: (s: string) => boolean): string | undefined {
  if (v === undefined) return undefined;
  if (!isInstant(v)) {
    throw new UsageError(
      `Expected an ISO 8601 instant with an offset (e.g. 2026-01-31T12:00:00Z) for --from but received ${JSON.stringify(v)}.`,
    );
  }
  return v;
}

/** The one source NAME a command takes, among the names it knows. */
export function sourceName(positionals: readonly string[], known: readonly string[], command: string): string {
  const name = positionals[0];
  if (name === undefined) throw new UsageError(`listflow sources ${command} needs a source NAME.`);
  if (!known.includes(name)) {
    throw new UsageError(
      `Expected one of ${known.length ? known.join(', ') : '(no sources applied: run listflow sources apply)'} for NAME but received ${JSON.stringify(name)}.`,
    );
  }
  return name;
}

export const cursorText = (s: SourceStateView | undefined): string =>
  s?.cursor ? `${s.cursor.timestamp} ${s.cursor.key || "''"}` : 'beginning';

export interface ResetPlan {
  readonly source: string;
  readonly from: string;
  readonly to: string;
  /** True for `beginning`: the state's key gets a tombstone (the next sync is a full reload). */
  readonly tombstone: boolean;
}

export function resetPlan(source: string, current: SourceStateView | undefined, to: ResetTarget): ResetPlan {
  return {
    source,
    from: cursorText(current),
    to: to.kind === 'beginning' ? 'beginning (full reload: no state)' : `${to.at} ''`,
    tombstone: to.kind === 'beginning',
  };
}

export interface SourceLine {
  readonly name: string;
  readonly kind: string | null;
  readonly declared: boolean;
  readonly cursor: { readonly timestamp: string; readonly key: string } | null;
  readonly initialDone: boolean | null;
  readonly lastPoll: string | null;
  readonly counts: SourceStateView['counts'] | null;
  readonly pollIntervalSeconds: number | null;
  /** lastPoll + pollInterval (ISO); null before the first poll or without a declaration. */
  readonly nextPollDue: string | null;
  /**
   * Records past the cursor ($count), null when not asked or unknown; for a snapshot source, the records of its
   * current snapshot not yet committed (total - position), with no request.
   */
  readonly remaining: number | null;
  readonly remainingError?: string;
  /** A snapshot source's progress (kind file|http): its snapshot, short id, position of total, done. */
  readonly snapshot: (NonNullable<SourceStateView['snapshot']> & { readonly shortId: string }) | null;
  /** The last snapshot refused for deleting too much (SOURCE_SNAPSHOT_REFUSED), until one commits. */
  readonly refused: SourceStateView['refused'] | null;
}

/** The snapshot kinds (file, http): their progress is a snapshot, not a cursor. */
const isSnapshotKind = (kind: string | null | undefined): boolean => kind === 'file' || kind === 'http';
/** A snapshot's id as `sources list` shows it: the first 12 hex digits of its sha256. */
export const shortSnapshotId = (id: string): string => id.slice(0, 12);

/** One source as `sources list` shows it (the declaration, the committed state, the remaining count). */
export function sourceLine(
  name: string,
  declared: DeclaredSource | undefined,
  state: SourceStateView | undefined,
  remaining: { readonly count?: number; readonly error?: string } | undefined,
): SourceLine {
  const last = state?.lastPoll ? state.lastPoll : null;
  const due = last !== null && declared ? new Date(Date.parse(last) + declared.pollIntervalMs).toISOString() : null;
  const snap = state?.snapshot;
  const snapshotLeft =
    snap === undefined ? null : snap.done ? 0 : snap.total === null ? null : Math.max(0, snap.total - snap.position);
  return {
    name,
    kind: declared?.kind ?? null,
    declared: declared !== undefined,
    cursor: state?.cursor ?? null,
    initialDone: state?.initialDone ?? null,
    lastPoll: last,
    counts: state?.counts ?? null,
    pollIntervalSeconds: declared ? declared.pollIntervalMs / 1000 : null,
    nextPollDue: due,
    remaining: remaining?.count ?? snapshotLeft,
    ...(remaining?.error ? { remainingError: remaining.error } : {}),
    snapshot: snap ? { ...snap, shortId: shortSnapshotId(snap.id) } : null,
    refused: state?.refused ?? null,
  };
}

/** `snapshot 1a2b3c4d5e6f 40/120 in progress, taken <time>` (position of total; `?` when the total is unknown). */
export function snapshotText(s: NonNullable<SourceLine['snapshot']>): string {
  const of = `${s.position}/${s.total ?? '?'}`;
  return `snapshot ${s.shortId} ${of} ${s.done ? 'done' : 'in progress'}, taken ${s.takenAt ?? 'unknown'}`;
}

/** The refusal as `sources list` shows it under the source: when, the counts, then the message with its fix. */
export function refusedText(r: NonNullable<SourceLine['refused']>): string {
  return `refused ${shortSnapshotId(r.snapshot)} at ${r.at} (${r.code}: would delete ${r.deletes} of ${r.known} known, lists ${r.listed}): ${r.message}`;
}

export function sourceLineText(l: SourceLine, remote: boolean): string {
  const c = l.counts;
  const parts = [
    l.name,
    l.declared ? `(${l.kind})` : '(retired: not in listings.sources)',
    isSnapshotKind(l.kind) || l.snapshot
      ? l.snapshot
        ? snapshotText(l.snapshot)
        : 'snapshot none yet'
      : `cursor ${l.cursor ? `${l.cursor.timestamp} ${l.cursor.key || "''"}` : 'beginning'}`,
    `last poll ${l.lastPoll ?? 'never'}`,
    c ? `records ${c.records} deletes ${c.deletes} pages ${c.pages} requests ${c.requests}` : 'no state',
    `next poll ${l.nextPollDue ?? (l.declared ? 'at the next owner start' : '-')}`,
  ];
  // A snapshot's remaining records come from its state (no request), so they show without --remote too.
  if (remote || (l.snapshot && l.remaining !== null))
    parts.push(`remaining ${l.remaining ?? (l.remainingError ? `? (${l.remainingError})` : '?')}`);
  const line = parts.join('  ');
  return l.refused ? `${line}\n    ${refusedText(l.refused)}` : line;
}

/**
 * Why a sync or reset may not run now: the sources step's group has members (a live poller would race it; its
 * transactional id would fence the CLI's writer, or be fenced by it mid-poll).
 */
export function membersRefusal(
  group: string,
  stepId: string,
  deployment: string,
  g: { readonly state: string; readonly members: ReadonlyArray<{ clientId: string; clientHost: string }> },
  what: string,
): string | undefined {
  if (g.members.length === 0) return undefined;
  const who = g.members.map((m) => `${m.clientId}@${m.clientHost.replace(/^\//, '')}`).join(', ');
  return [
    `The consumer group ${group} has ${g.members.length} active member(s) (state ${g.state}: ${who}); ${what} needs the ${stepId} step stopped, or it races the live poller.`,
    `Fix: stop the ${stepId} workers, then run it again:`,
    `  - on Kubernetes: kubectl scale deployment ${deployment} --replicas=0 (with KEDA, pause its ScaledObject first: annotate it autoscaling.keda.sh/paused-replicas=0);`,
    '  - locally: stop `listflow run --all` (Ctrl-C, or SIGTERM to the supervisor), or the `listflow run --operator` process of the step.',
    'Start them again afterwards; they resume from the committed state.',
  ].join('\n');
}

export interface SourceLag {
  readonly name: string;
  readonly cursor: string;
  /** Seconds since the last committed page (a quiet poll commits nothing); null before the first. */
  readonly lastPageAgeSeconds: number | null;
  /** Seconds between now and the newest replicated change (the cursor's timestamp); null without a cursor. */
  readonly cursorAgeSeconds: number | null;
  /** Seconds past the next poll due (lastPage + interval, 0 when not overdue); null when unknown. */
  readonly overdueSeconds: number | null;
  /** Records past the cursor: only with `status --remaining` (one request per source). */
  readonly remaining: number | null;
}

const ageOf = (iso: string | undefined, now: number): number | null => {
  const t = iso ? Date.parse(iso) : Number.NaN;
  return Number.isNaN(t) ? null : Math.max(0, Math.round((now - t) / 1000));
};

/** A source's lag from its committed state alone (status stays fast: no request unless asked). */
export function sourceLag(
  name: string,
  declared: DeclaredSource | undefined,
  state: SourceStateView | undefined,
  now: number,
  remaining: number | null = null,
): SourceLag {
  const lastPage = ageOf(state?.lastPoll, now);
  return {
    name,
    cursor: cursorText(state),
    lastPageAgeSeconds: lastPage,
    cursorAgeSeconds: ageOf(state?.cursor?.timestamp, now),
    overdueSeconds:
      lastPage === null || !declared ? null : Math.max(0, lastPage - Math.round(declared.pollIntervalMs / 1000)),
    remaining,
  };
}

const secs = (n: number | null): string =>
  n === null ? '-' : n < 120 ? `${n}s` : n < 7200 ? `${Math.round(n / 60)}m` : `${Math.round(n / 3600)}h`;

export function sourceLagText(l: SourceLag, remote: boolean): string {
  return [
    l.name.padEnd(16),
    `last page ${secs(l.lastPageAgeSeconds)} ago`.padEnd(20),
    `newest change ${secs(l.cursorAgeSeconds)} old`.padEnd(24),
    ...(remote ? [`remaining ${l.remaining ?? '?'}`] : []),
    `cursor ${l.cursor}`,
  ].join(' ');
}
