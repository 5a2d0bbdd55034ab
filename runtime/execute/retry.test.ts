import { backoffMs, sleep } from './retry';

const policy = { maxAttempts: 5, initialBackoffMs: 100, maxBackoffMs: 1000 };

describe('backoffMs', () => {
  test.each([
    { attempt: 1, random: 0.999, max: 100 },
    { attempt: 2, random: 0.999, max: 200 },
    { attempt: 3, random: 0.999, max: 400 },
    { attempt: 5, random: 0.999, max: 1000 },
    { attempt: 30, random: 0.999, max: 1000 },
  ])('attempt $attempt is capped at $max', ({ attempt, random, max }) => {
    const v = backoffMs(policy, attempt, () => random);
    expect(v).toBeLessThan(max);
    expect(v).toBeGreaterThanOrEqual(Math.floor(max * 0.99));
  });
  test('full jitter reaches zero', () => {
    expect(backoffMs(policy, 4, () => 0)).toBe(0);
  });
});

describe('sleep', () => {
  test('rejects with the abort reason', async () => {
    const c = new AbortController();
    const p = sleep(10_000, c.signal);
    c.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
  });
});
