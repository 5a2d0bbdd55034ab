import { describe, expect, test } from '@jest/globals';
import {
  bucketLabels,
  fmtMs,
  histogram,
  histogramRows,
  hopLatencies,
  percentile,
  type RecordTimes,
  summarize,
} from './latency-stats';

const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('percentile (nearest rank over every value)', () => {
  test.each([
    { name: 'p50 of 1..100 is the 50th', values: oneTo(100), p: 50, want: 50 },
    { name: 'p99 of 1..100 is the 99th', values: oneTo(100), p: 99, want: 99 },
    { name: 'p99.9 of 1..100 is the maximum', values: oneTo(100), p: 99.9, want: 100 },
    { name: 'p99.9 of 1..1000 is the 999th', values: oneTo(1000), p: 99.9, want: 999 },
    { name: 'p99.9 of 1..10000 is the 9990th', values: oneTo(10_000), p: 99.9, want: 9990 },
    { name: 'p100 is the maximum', values: oneTo(7), p: 100, want: 7 },
    { name: 'a tiny p is the minimum', values: oneTo(7), p: 0.001, want: 1 },
    { name: 'one value is every percentile', values: [42], p: 99.9, want: 42 },
    { name: 'p50 of an even count is the lower middle', values: [1, 2, 3, 4], p: 50, want: 2 },
  ])('$name', ({ values, p, want }) => {
    expect(percentile(values, p)).toBe(want);
  });

  test('no values: NaN', () => {
    expect(percentile([], 50)).toBeNaN();
  });

  test.each([0, -1, 100.5, Number.NaN])('p = %p is refused', (p) => {
    expect(() => percentile([1], p)).toThrow(RangeError);
  });
});

describe('summarize', () => {
  test.each([
    {
      name: 'unsorted input is sorted numerically (not as strings)',
      values: [100, 9, 1000, 20, 3],
      want: { count: 5, p50: 20, p99: 1000, p999: 1000, max: 1000 },
    },
    {
      name: 'a long tail shows in p99 and p99.9, not in p50',
      values: [...new Array(989).fill(10), ...new Array(10).fill(300), 5000],
      want: { count: 1000, p50: 10, p99: 300, p999: 300, max: 5000 },
    },
    {
      name: 'negative values (clocks of one machine, but a timestamp taken early) are kept',
      values: [-2, 5, 1],
      want: { count: 3, p50: 1, p99: 5, p999: 5, max: 5 },
    },
  ])('$name', ({ values, want }) => {
    expect(summarize(values)).toEqual(want);
  });
});

describe('histogram', () => {
  test.each([
    { name: 'bounds are inclusive', values: [5, 10, 10.01], bounds: [5, 10], want: [1, 1, 1] },
    { name: 'below the first bound', values: [0, -3, 1], bounds: [5, 10], want: [3, 0, 0] },
    { name: 'above the last bound', values: [11, 1e9], bounds: [5, 10], want: [0, 0, 2] },
    { name: 'no values', values: [], bounds: [5, 10], want: [0, 0, 0] },
  ])('$name', ({ values, bounds, want }) => {
    const counts = histogram(values, bounds);
    expect(counts).toEqual(want);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(values.length);
  });

  test('labels: one per bound and one for above', () => {
    expect(bucketLabels([5, 10])).toEqual(['<= 5 ms', '<= 10 ms', '> 10 ms']);
  });
});

describe('hopLatencies', () => {
  const records: RecordTimes[] = [
    { raw: 1000, normalized: 1010, enriched: 1030, row: 1100 },
    { raw: 2000, normalized: 2005, enriched: null, row: null },
    { raw: 3000, normalized: null, enriched: null, row: null },
  ];
  test.each([
    { hop: 'raw -> normalized', want: [10, 5] },
    { hop: 'normalized -> enriched', want: [20] },
    { hop: 'enriched -> PostgreSQL row', want: [70] },
    { hop: 'total', want: [100] },
  ] as const)('$hop: only the records that completed it', ({ hop, want }) => {
    expect(hopLatencies(records)[hop]).toEqual(want);
  });
});

describe('histogramRows', () => {
  test('rows from the first to the last used bucket, counts per hop and the total cumulative share', () => {
    const byHop = {
      'raw -> normalized': [3, 4],
      'normalized -> enriched': [12, 15],
      'enriched -> PostgreSQL row': [30, 40],
      total: [45, 59],
    };
    expect(histogramRows(byHop, [5, 10, 20, 50, 100])).toEqual([
      ['<= 5 ms', '2', '0', '0', '0', '0.00%'],
      ['<= 10 ms', '0', '0', '0', '0', '0.00%'],
      ['<= 20 ms', '0', '2', '0', '0', '0.00%'],
      ['<= 50 ms', '0', '0', '2', '1', '50.00%'],
      ['<= 100 ms', '0', '0', '0', '1', '100.00%'],
    ]);
  });

  test('no values: no rows', () => {
    const empty = {
      'raw -> normalized': [],
      'normalized -> enriched': [],
      'enriched -> PostgreSQL row': [],
      total: [],
    };
    expect(histogramRows(empty)).toEqual([]);
  });
});

describe('fmtMs', () => {
  test.each([
    [3.24, '3.2'],
    [12.6, '13'],
    [12_345.4, '12,345'],
    [Number.NaN, '-'],
  ])('%p -> %p', (ms, want) => {
    expect(fmtMs(ms)).toBe(want);
  });
});
