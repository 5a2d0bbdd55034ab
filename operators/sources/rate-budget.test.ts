import { RateBudget, retryAfterMs } from './rate-budget';

function run(limits: ConstructorParameters<typeof RateBudget>[0], requests: number) {
  let t = 0;
  const budget = new RateBudget(limits, () => t);
  const sentAt: number[] = [];
  for (let i = 0; i < requests; i++) {
    t += budget.waitMs();
    expect(budget.waitMs()).toBe(0);
    budget.spent();
    sentAt.push(t);
  }
  return { sentAt, budget, at: () => t };
}

test.each<[string, ConstructorParameters<typeof RateBudget>[0], number, number]>([
  ['no limits: all at once', {}, 100, 0],
  ['2 per second: 10 requests take 4 s', { perSecond: 2 }, 10, 4000],
  ['7,200 per hour binds after the first 7,200', { perSecond: 1000, perHour: 7200 }, 7201, 3_600_000],
  ['40,000 per day binds after 40,000', { perDay: 40_000 }, 40_001, 86_400_000],
])('%s', (_what, limits, n, lastAt) => {
  const { sentAt } = run(limits, n);
  expect(sentAt.at(-1)).toBe(lastAt);
});

test('2 per second never sends 3 within a second', () => {
  const { sentAt } = run({ perSecond: 2 }, 50);
  for (let i = 2; i < sentAt.length; i++) expect(sentAt[i]! - sentAt[i - 2]!).toBeGreaterThanOrEqual(1000);
});

test('a Retry-After pause holds every request until it ends', () => {
  let t = 1000;
  const b = new RateBudget({}, () => t);
  b.pause(30_000);
  expect(b.waitMs()).toBe(30_000);
  t += 10_000;
  b.pause(5_000); // a shorter pause does not shorten the longer one
  expect(b.waitMs()).toBe(20_000);
  t += 20_000;
  expect(b.waitMs()).toBe(0);
});

test('count reports the requests in a window', () => {
  const { budget } = run({ perSecond: 2, perHour: 100 }, 10);
  expect(budget.count(1000)).toBe(2);
  expect(budget.count(3_600_000)).toBe(10);
});

test.each<[string | undefined, number | undefined]>([
  [undefined, undefined],
  ['0', 0],
  ['120', 120_000],
  ['99999999', 3_600_000],
  ['Thu, 01 Jan 2026 00:01:00 GMT', 60_000],
  ['Wed, 31 Dec 2025 23:00:00 GMT', 0],
  ['soon', undefined],
  ['-5', undefined],
])('retryAfterMs(%p) = %p', (v, ms) => {
  expect(retryAfterMs(v, Date.UTC(2026, 0, 1), 3_600_000)).toBe(ms);
});
