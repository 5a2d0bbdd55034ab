/** The latency part of ingest --wait's summary: nearest-rank p50 and max, and how they read. */
import listings from '../pipelines/listings';
import { latencyPoints, pipelineTopics } from './job-tracker';
import { latencyLines, latencySummary } from './progress';

const chain = pipelineTopics(listings);
const LATENCY_POINTS = latencyPoints(chain);
const samples = (ms: readonly number[]): Record<string, number[]> =>
  Object.fromEntries(LATENCY_POINTS.map((p) => [p, [...ms]]));

test('the latency points of the listings pipeline: each stage, the row before the last', () => {
  expect(LATENCY_POINTS).toEqual(['normalize', 'images', 'postgresRow', 'publish']);
  expect([chain.jobs, chain.status, chain.raw, chain.photos, chain.sink.output]).toEqual([
    'listings.ingest-jobs',
    'listings.ingest-status',
    'listings.raw',
    'images',
    'listings.published',
  ]);
});

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
  expect(latencyLines(s, chain.sink)).toEqual([
    "latency           from submission to each stage's output",
    '  normalize       p50 41 ms     max 41 ms     (1 listing)',
    '  images          p50 63 ms     max 63 ms     (1 listing)',
    "  PostgreSQL row  p50 1.88 s    max 2.40 s    (2 listings; the row's published_at)",
    '  publish         none got there',
  ]);
  expect(latencyLines(latencySummary({ ...samples([]), publish: [7] }), chain.sink).at(-1)).toBe(
    '  publish         p50 7 ms      max 7 ms      (1 listing; on listings.published)',
  );
});
