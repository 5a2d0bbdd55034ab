import { parseDuration, planGc } from './blobs';

test.each<[string, number | undefined]>([
  ['90s', 90_000],
  ['30m', 1_800_000],
  ['36h', 129_600_000],
  ['7d', 604_800_000],
  ['7', undefined],
  ['1w', undefined],
  ['-1d', undefined],
])('parseDuration(%j)', (text, ms) => {
  expect(parseDuration(text)).toBe(ms);
});

const image = (c: string, ageMs: number) => ({
  sha256: c.repeat(64),
  files: [],
  bytes: 1,
  modifiedAt: 1_000_000 - ageMs,
});

test.each<[string, number, string[], number, number]>([
  // what, grace, removed, referenced, young
  ['unreferenced and old goes', 100, ['b'], 1, 1],
  ['a longer grace keeps it', 10_000, [], 1, 2],
  ['grace 0 removes every unreferenced one', 0, ['b', 'c'], 1, 0],
])('planGc: %s', (_what, grace, removed, referenced, young) => {
  const plan = planGc(
    [image('a', 5_000), image('b', 5_000), image('c', 50)],
    new Set(['a'.repeat(64)]),
    1_000_000,
    grace,
  );
  expect(plan.remove.map((i) => i.sha256[0])).toEqual(removed);
  expect([plan.referenced, plan.young]).toEqual([referenced, young]);
});
