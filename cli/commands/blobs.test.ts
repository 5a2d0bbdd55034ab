import { parseDuration, planGc, planMediaGc } from './blobs';

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

const entry = (file: string, c: string | null, ageMs: number) => ({
  file,
  sha256: c === null ? null : c.repeat(64),
  modifiedAt: 1_000_000 - ageMs,
});

test.each<[string, ReturnType<typeof entry>, string[], string[], number, boolean]>([
  // what, entry, stored after the run, removed by the run, grace, entry removed
  ['its image is stored: kept, however old', entry('e', 'a', 5_000), ['a'], [], 100, false],
  ['its image went in this run: removed, even when young', entry('e', 'b', 10), ['a'], ['b'], 100, true],
  ['its image went earlier, entry old: removed', entry('e', 'c', 5_000), ['a'], [], 100, true],
  // A worker may have stored the image after gc listed the store: a young entry stays.
  ['its image is not listed, entry young: kept', entry('e', 'c', 10), ['a'], [], 100, false],
  ['damaged, old: removed', entry('e', null, 5_000), ['a'], [], 100, true],
  ['damaged, young: kept', entry('e', null, 10), ['a'], [], 100, false],
])('planMediaGc: %s', (_what, e, storedAfter, removedNow, grace, removed) => {
  const set = (cs: string[]) => new Set(cs.map((c) => c.repeat(64)));
  expect(planMediaGc([e], set(storedAfter), set(removedNow), 1_000_000, grace)).toEqual(removed ? [e] : []);
});
