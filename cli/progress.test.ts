/** The latency part of ingest --wait's summary: nearest-rank p50 and max, and how they read. */
import { LATENCY_POINTS, type LatencyPoint } from './job-tracker';
import { latencyLines, latencySummary } from './progress';

const samples = (ms: readonly number[]): Record<LatencyPoint, number[]> =>
  Object.fromEntries(LATENCY_POINTS.map((p) => [p, [...ms]])) as Record<LatencyPoint, number[]>;

test.each([
  { ms: [], want: null },
  { ms: [5], want: { listings: 1, p50: 5, max: 5 } },
  { ms: [3, 1, 2], want: { listings: 3, p50: 2, max: 3 } },
  { ms: [40, 10, 30, 20], want: { listings: 4, p50: 20, max: 40 } },
  { ms: [7, 7, 900, 7, 7], want: { listings: 5, p50: 7, max: 900 } },
])('latencySummary($ms) = $want', ({ ms, want }) => {
  const s = latencySummary(samples(ms));
  for (const p of LATENCY_POINTS) expect(s[p]).toEqual(want);
});

test('summary lines: one per point, in pipeline order, ms below a second and seconds above', () => {
  const s = latencySummary({ normalize: [41], images: [63], postgresRow: [1880, 2400], publish: [] });
  expect(latencyLines(s)).toEqual([
    "latency           from submission to each stage's output",
    '  normalize       p50 41 ms     max 41 ms     (1 listing)',
    '  images          p50 63 ms     max 63 ms     (1 listing)',
    "  PostgreSQL row  p50 1.88 s    max 2.40 s    (2 listings; the row's published_at)",
    '  publish         none got there',
  ]);
});
