/**
 * The numbers of bench:latency: per-record latencies of each hop, their percentiles over every record (no
 * sampling: a p99.9 from a sample of a thousand would be one record's luck) and a histogram of them.
 */

/** One record's times (ms since the epoch) at each point of the chain; null where it never got there. */
export interface RecordTimes {
  /** CreateTime of its listings.raw record (set by the bench's producer). */
  readonly raw: number;
  /** CreateTime of its listings.normalized record (set by normalize's producer). */
  readonly normalized: number | null;
  /** CreateTime of its listings.enriched record (set by images' producer). */
  readonly enriched: number | null;
  /** When the bench saw its PostgreSQL row committed (the NOTIFY of the row's trigger arrived). */
  readonly row: number | null;
}

export const HOPS = ['raw -> normalized', 'normalized -> enriched', 'enriched -> PostgreSQL row', 'total'] as const;
export type Hop = (typeof HOPS)[number];

/** Each hop's latencies (ms) of the records that completed it. */
export function hopLatencies(records: Iterable<RecordTimes>): Record<Hop, number[]> {
  const out: Record<Hop, number[]> = {
    'raw -> normalized': [],
    'normalized -> enriched': [],
    'enriched -> PostgreSQL row': [],
    total: [],
  };
  for (const r of records) {
    if (r.normalized !== null) out['raw -> normalized'].push(r.normalized - r.raw);
    if (r.normalized !== null && r.enriched !== null) out['normalized -> enriched'].push(r.enriched - r.normalized);
    if (r.enriched !== null && r.row !== null) out['enriched -> PostgreSQL row'].push(r.row - r.enriched);
    if (r.row !== null) out.total.push(r.row - r.raw);
  }
  return out;
}

/**
 * The nearest-rank percentile of ascending `sorted`: the smallest value that at least p% of the values are
 * at or below (so p100 is the maximum, and a p99.9 of 1,000 values is the 999th). NaN when empty.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  if (sorted.length === 0) return Number.NaN;
  // p99.9 of 1,000 is 999.0000000000001 in binary floating point: the epsilon keeps it the 999th.
  const rank = Math.ceil((p * sorted.length) / 100 - 1e-9);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface Summary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = Float64Array.from(values).sort();
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: percentile(sorted, 100),
  };
}

/** Upper bounds (ms, inclusive) of the histogram's buckets; the last bucket takes everything above. */
export const BUCKETS_MS = [5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000] as const;

/** Counts per bucket: index i holds values <= bounds[i] and > bounds[i-1]; the extra last one, values above all. */
export function histogram(values: readonly number[], bounds: readonly number[] = BUCKETS_MS): number[] {
  const counts = new Array<number>(bounds.length + 1).fill(0);
  for (const v of values) {
    let i = 0;
    while (i < bounds.length && v > bounds[i]!) i++;
    counts[i]!++;
  }
  return counts;
}

/** A bucket's label: `<= 5 ms`, ..., `> 10000 ms`. */
export function bucketLabels(bounds: readonly number[] = BUCKETS_MS): string[] {
  return [...bounds.map((b) => `<= ${b} ms`), `> ${bounds[bounds.length - 1]} ms`];
}

/** Milliseconds for the tables: one decimal below 10 ms, whole above; `-` for none. */
export const fmtMs = (ms: number): string =>
  Number.isNaN(ms) ? '-' : ms < 10 ? ms.toFixed(1) : Math.round(ms).toLocaleString('en-US');

/**
 * The histogram as table rows: a bucket per row, a hop per column (count, and for the total its cumulative
 * share), rows only from the first to the last non-empty bucket.
 */
export function histogramRows(byHop: Record<Hop, number[]>, bounds: readonly number[] = BUCKETS_MS): string[][] {
  const counts = HOPS.map((h) => histogram(byHop[h], bounds));
  const labels = bucketLabels(bounds);
  const used = labels.map((_, i) => counts.some((c) => c[i]! > 0));
  const first = used.indexOf(true);
  const last = used.lastIndexOf(true);
  if (first < 0) return [];
  const total = byHop.total.length;
  let cumulative = 0;
  const rows: string[][] = [];
  for (let i = 0; i <= last; i++) {
    cumulative += counts[HOPS.length - 1]![i]!;
    if (i < first) continue;
    const share = total > 0 ? `${((100 * cumulative) / total).toFixed(2)}%` : '-';
    rows.push([labels[i]!, ...counts.map((c) => String(c[i])), share]);
  }
  return rows;
}
