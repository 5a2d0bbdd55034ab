/**
 * Live progress of followed ingest jobs on stderr, and the final summary. On a TTY the block of lines is
 * redrawn in place (cursor up + clear line); otherwise a plain line is written every few seconds, so logs and
 * CI output stay readable.
 */
import { type JobProgress, type PipelineTopics, ROW_POINT, type StageProgress } from './job-tracker';

export interface Totals {
  readonly jobs: number;
  readonly pending: number;
  readonly feedRecords: number;
  readonly ingested: number;
  readonly ingestRejects: number;
  readonly ingestRejectReasons: Record<string, number>;
  /** By stage name, in pipeline order. */
  readonly stages: Record<string, StageProgress>;
  readonly photos: { ok: number; failed: number; reasons: Record<string, number> };
  readonly finished: boolean;
}

const add = (into: Record<string, number>, from: Record<string, number>) => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
};

/** Sums the jobs' progress; the stages are the first job's (every job of a tracker has the same). */
export function totals(jobs: readonly JobProgress[]): Totals {
  const names = Object.keys(jobs[0]?.stages ?? {});
  const stages: Record<string, { -readonly [K in keyof StageProgress]: StageProgress[K] }> = Object.fromEntries(
    names.map((s) => [s, { entered: 0, done: 0, output: 0, failed: 0, skipped: 0, inFlight: 0, reasons: {} }]),
  );
  const t = {
    jobs: jobs.length,
    pending: 0,
    feedRecords: 0,
    ingested: 0,
    ingestRejects: 0,
    ingestRejectReasons: {} as Record<string, number>,
    photos: { ok: 0, failed: 0, reasons: {} as Record<string, number> },
  };
  for (const j of jobs) {
    if (j.state === 'PENDING') t.pending++;
    t.ingested += j.rawSeen;
    t.ingestRejects += Object.values(j.rejectReasons).reduce((a, b) => a + b, 0);
    add(t.ingestRejectReasons, j.rejectReasons);
    t.photos.ok += j.photos.ok;
    t.photos.failed += j.photos.failed;
    add(t.photos.reasons, j.photos.reasons);
    for (const s of names) {
      const a = stages[s]!;
      const b = j.stages[s]!;
      a.entered += b.entered;
      a.done += b.done;
      a.output += b.output;
      a.failed += b.failed;
      a.skipped += b.skipped;
      a.inFlight += b.inFlight;
      add(a.reasons, b.reasons);
    }
  }
  t.feedRecords = t.ingested + t.ingestRejects;
  return { ...t, stages, finished: jobs.every((j) => j.finished) };
}

/** The rate key of the feed's records (not a stage name: those are step ids, which cannot hold a space). */
const FEED = 'feed records';

/** Done per second over the last ~5 s, per stage. */
class Rates {
  private readonly samples: { at: number; done: Record<string, number> }[] = [];
  update(t: Totals, now: number): Record<string, number> {
    // Keyed like the stages; the feed's records are what the job's source step read.
    const done: Record<string, number> = { [FEED]: t.ingested + t.ingestRejects };
    for (const [s, x] of Object.entries(t.stages)) done[s] = x.done;
    this.samples.push({ at: now, done });
    while (this.samples.length > 2 && now - this.samples[0]!.at > 5000) this.samples.shift();
    const first = this.samples[0]!;
    const secs = (now - first.at) / 1000;
    const out: Record<string, number> = {};
    for (const k of Object.keys(done)) out[k] = secs > 0 ? (done[k]! - (first.done[k] ?? 0)) / secs : 0;
    return out;
  }
}

const n = (v: number) => String(v).padStart(6);
const rate = (r: number | undefined) => `${(r ?? 0).toFixed(0).padStart(5)}/s`;

export function progressLines(t: Totals, r: Record<string, number>, elapsedMs: number): string[] {
  const ingestState =
    t.pending === t.jobs ? 'waiting for the worker reading the jobs' : `${t.jobs - t.pending}/${t.jobs} started`;
  const lines = [
    `${'ingested'.padEnd(10)} listings ${n(t.ingested)}  rejected ${n(t.ingestRejects)}  ${rate(r[FEED])}  (${ingestState})`,
  ];
  for (const [s, x] of Object.entries(t.stages)) {
    lines.push(`${s.padEnd(10)} done ${n(x.done)}  in flight ${n(x.inFlight)}  failed ${n(x.failed)}  ${rate(r[s])}`);
  }
  lines.push(`elapsed ${(elapsedMs / 1000).toFixed(1)}s`);
  return lines;
}

export interface ProgressView {
  update(t: Totals): void;
  done(): void;
}

export function progressView(write: (s: string) => void, isTty: boolean, started: number): ProgressView {
  const rates = new Rates();
  let drawn = 0;
  let lastPlain = 0;
  return {
    update(t) {
      const now = Date.now();
      const lines = progressLines(t, rates.update(t, now), now - started);
      if (isTty) {
        const up = drawn > 0 ? `\x1b[${drawn}A` : '';
        write(`${up}${lines.map((l) => `\x1b[2K${l}`).join('\n')}\n`);
        drawn = lines.length;
      } else if (now - lastPlain >= 5000 || t.finished) {
        lastPlain = now;
        const stages = Object.entries(t.stages).map(
          ([s, x]) => ` | ${s} ${x.done} done, ${x.inFlight} in flight${x.failed > 0 ? `, ${x.failed} failed` : ''}`,
        );
        write(
          `progress ${((now - started) / 1000).toFixed(0)}s: ingested ${t.ingested} (+${t.ingestRejects} rejected)${stages.join('')}\n`,
        );
      }
    },
    done() {
      drawn = 0;
    },
  };
}

const top = (reasons: Record<string, number>, k = 5) =>
  Object.entries(reasons)
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(([code, c]) => `${code} ${c}`)
    .join(', ') || 'none';

/** p50 and max of one latency, over `listings` listings; null when none got there. */
export interface LatencyStats {
  readonly listings: number;
  readonly p50: number;
  readonly max: number;
}
/** By latency point (JobTracker.latencyPoints), in pipeline order. */
export type LatencySummary = Record<string, LatencyStats | null>;

/** Nearest-rank p50 and the max of each point's samples (milliseconds), keeping the points' order. */
export function latencySummary(samples: Readonly<Record<string, readonly number[]>>): LatencySummary {
  const stats = (ms: readonly number[]): LatencyStats | null => {
    if (ms.length === 0) return null;
    const sorted = [...ms].sort((a, b) => a - b);
    return { listings: sorted.length, p50: sorted[Math.ceil(sorted.length / 2) - 1]!, max: sorted.at(-1)! };
  };
  return Object.fromEntries(Object.entries(samples).map(([p, ms]) => [p, stats(ms)]));
}

/** How a point reads: the row is named for what it is; a stage by its name. */
const latencyLabel = (point: string): [label: string, note: string] =>
  point === ROW_POINT ? ['PostgreSQL row', "; the row's published_at"] : [point, ''];

const duration = (ms: number) => (Math.abs(ms) < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`);

/** `sink`: the last stage and the topic it writes, whose line says where it was measured. */
export function latencyLines(l: LatencySummary, sink?: { name: string; output: string }): string[] {
  const lines = ["latency           from submission to each stage's output"];
  for (const [p, x] of Object.entries(l)) {
    const [label, stageNote] = latencyLabel(p);
    const note = sink && p === sink.name ? `; on ${sink.output}` : stageNote;
    lines.push(
      x
        ? `  ${label.padEnd(16)}p50 ${duration(x.p50).padEnd(9)} max ${duration(x.max).padEnd(9)} (${x.listings} listing${x.listings === 1 ? '' : 's'}${note})`
        : `  ${label.padEnd(16)}none got there`,
    );
  }
  return lines;
}

export interface SummaryExtras {
  readonly wallMs: number;
  readonly inPostgres: number | null;
  readonly deadLetters: Record<string, number>;
  readonly latency: LatencySummary;
  /** The stage that reports photos, and the last one (what PostgreSQL holds): from pipelineTopics. */
  readonly chain: Pick<PipelineTopics, 'photos'> & {
    readonly sink: { readonly name: string; readonly output: string };
  };
}

const col = (label: string) => label.padEnd(17);

/** One line per stage of the chain: what came out, what was skipped (no output) and dead-lettered. */
function stageLine(name: string, x: StageProgress, extra = ''): string {
  const skipped = x.skipped ? `, ${x.skipped} skipped (nothing to write)` : '';
  const failed = `, ${x.failed} dead-lettered${x.failed ? ` (${top(x.reasons)})` : ''}`;
  return `${col(name)} ${x.output} out${skipped}${failed}${extra}`;
}

export function summaryLines(t: Totals, x: SummaryExtras): string[] {
  const secs = x.wallMs / 1000;
  const dead = Object.values(x.deadLetters).reduce((a, b) => a + b, 0);
  const stages: string[] = [];
  for (const [name, s] of Object.entries(t.stages)) {
    const sink = name === x.chain.sink.name;
    stages.push(stageLine(name, s, sink ? ` (${x.chain.sink.output}); ${x.inPostgres ?? '?'} rows in PostgreSQL` : ''));
    if (name === x.chain.photos) {
      stages.push(`${col('photos')} ${t.photos.ok} processed, ${t.photos.failed} failed (${top(t.photos.reasons)})`);
    }
  }
  return [
    `${col('jobs')} ${t.jobs}`,
    `${col('feed records')} ${t.feedRecords}`,
    `${col('ingested')} ${t.ingested}   (rejected on reading: ${t.ingestRejects}: ${top(t.ingestRejectReasons)})`,
    ...stages,
    `${col('dead letters')} ${dead} (${
      Object.entries(x.deadLetters)
        .filter(([, c]) => c > 0)
        .map(([topic, c]) => `${topic} ${c}`)
        .join(', ') || 'none'
    })`,
    ...latencyLines(x.latency, x.chain.sink),
    `${col('wall time')} ${secs.toFixed(1)}s`,
    `${col('throughput')} ${(t.feedRecords / Math.max(secs, 0.001)).toFixed(1)} records/s end to end`,
  ];
}
