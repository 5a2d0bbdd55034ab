/**
 * Live progress of followed ingest jobs on stderr, and the final summary. On a TTY the block of lines is
 * redrawn in place (cursor up + clear line); otherwise a plain line is written every few seconds, so logs and
 * CI output stay readable.
 */
import { type JobProgress, LATENCY_POINTS, type LatencyPoint, STAGES, type StageName } from './job-tracker';

export interface Totals {
  readonly jobs: number;
  readonly pending: number;
  readonly feedRecords: number;
  readonly ingested: number;
  readonly ingestRejects: number;
  readonly ingestRejectReasons: Record<string, number>;
  readonly stages: Record<
    StageName,
    {
      entered: number;
      done: number;
      output: number;
      failed: number;
      skipped: number;
      inFlight: number;
      reasons: Record<string, number>;
    }
  >;
  readonly photos: { ok: number; failed: number; reasons: Record<string, number> };
  readonly finished: boolean;
}

const add = (into: Record<string, number>, from: Record<string, number>) => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
};

export function totals(jobs: readonly JobProgress[]): Totals {
  const stages = Object.fromEntries(
    STAGES.map((s) => [
      s,
      { entered: 0, done: 0, output: 0, failed: 0, skipped: 0, inFlight: 0, reasons: {} as Record<string, number> },
    ]),
  ) as Totals['stages'];
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
    for (const s of STAGES) {
      const a = stages[s];
      const b = j.stages[s];
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

/** Done per second over the last ~5 s, per stage. */
class Rates {
  private readonly samples: { at: number; done: Record<string, number> }[] = [];
  update(t: Totals, now: number): Record<string, number> {
    const done: Record<string, number> = { ingest: t.ingested + t.ingestRejects };
    for (const s of STAGES) done[s] = t.stages[s].done;
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
    t.pending === t.jobs ? 'waiting for the ingest worker' : `${t.jobs - t.pending}/${t.jobs} started`;
  const lines = [
    `ingest     listings ${n(t.ingested)}  rejected ${n(t.ingestRejects)}  ${rate(r.ingest)}  (${ingestState})`,
  ];
  for (const s of STAGES) {
    const x = t.stages[s];
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
        const s = t.stages;
        write(
          `progress ${((now - started) / 1000).toFixed(0)}s: ingested ${t.ingested} (+${t.ingestRejects} rejected) | normalize ${s.normalize.done} done, ${s.normalize.inFlight} in flight, ${s.normalize.failed} failed | images ${s.images.done} done, ${s.images.inFlight} in flight | publish ${s.publish.done} done, ${s.publish.inFlight} in flight\n`,
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
export type LatencySummary = Record<LatencyPoint, LatencyStats | null>;

/** Nearest-rank p50 and the max of each point's samples (milliseconds). */
export function latencySummary(samples: Readonly<Record<LatencyPoint, readonly number[]>>): LatencySummary {
  const stats = (ms: readonly number[]): LatencyStats | null => {
    if (ms.length === 0) return null;
    const sorted = [...ms].sort((a, b) => a - b);
    return { listings: sorted.length, p50: sorted[Math.ceil(sorted.length / 2) - 1]!, max: sorted.at(-1)! };
  };
  return Object.fromEntries(LATENCY_POINTS.map((p) => [p, stats(samples[p])])) as LatencySummary;
}

const LATENCY_LABELS: Record<LatencyPoint, [label: string, note: string]> = {
  normalize: ['normalize', ''],
  images: ['images', ''],
  postgresRow: ['PostgreSQL row', "; the row's published_at"],
  publish: ['publish', '; on listings.published'],
};

const duration = (ms: number) => (Math.abs(ms) < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`);

export function latencyLines(l: LatencySummary): string[] {
  const lines = ["latency           from submission to each stage's output"];
  for (const p of LATENCY_POINTS) {
    const [label, note] = LATENCY_LABELS[p];
    const x = l[p];
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
}

export function summaryLines(t: Totals, x: SummaryExtras): string[] {
  const s = t.stages;
  const secs = x.wallMs / 1000;
  const dead = Object.values(x.deadLetters).reduce((a, b) => a + b, 0);
  return [
    `jobs              ${t.jobs}`,
    `feed records      ${t.feedRecords}`,
    `ingested          ${t.ingested}   (rejected by ingest: ${t.ingestRejects}: ${top(t.ingestRejectReasons)})`,
    `normalized        ${s.normalize.output}   (rejected: ${s.normalize.failed}: ${top(s.normalize.reasons)})`,
    `photos            ${t.photos.ok} processed, ${t.photos.failed} failed (${top(t.photos.reasons)})`,
    `images dead letters ${s.images.failed}${s.images.failed ? ` (${top(s.images.reasons)})` : ''}`,
    `published         ${s.publish.output} to Kafka${s.publish.skipped ? `, ${s.publish.skipped} skipped (older than stored)` : ''}${s.publish.failed ? `, ${s.publish.failed} dead-lettered (${top(s.publish.reasons)})` : ''}; ${x.inPostgres ?? '?'} rows in PostgreSQL`,
    `dead letters      ${dead} (${
      Object.entries(x.deadLetters)
        .filter(([, c]) => c > 0)
        .map(([topic, c]) => `${topic} ${c}`)
        .join(', ') || 'none'
    })`,
    ...latencyLines(x.latency),
    `wall time         ${secs.toFixed(1)}s`,
    `throughput        ${(t.feedRecords / Math.max(secs, 0.001)).toFixed(1)} records/s end to end`,
  ];
}
