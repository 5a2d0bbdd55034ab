import { backoffMs, sleep, withRetry } from './retry';

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

describe('withRetry', () => {
  const fails = (n: number, error = new Error('down')) => {
    const calls: number[] = [];
    const fn = async (attempt: number) => {
      calls.push(attempt);
      if (attempt <= n) throw error;
      return `ok on ${attempt}`;
    };
    return { fn, calls };
  };
  const waits: number[] = [];
  const opts = {
    retriable: () => true,
    random: () => 1,
    sleep: async (ms: number) => void waits.push(ms),
  };
  beforeEach(() => waits.splice(0));

  test.each([
    { name: 'succeeds first time', failures: 0, result: 'ok on 1', calls: [1], waits: [] },
    { name: 'succeeds on the third', failures: 2, result: 'ok on 3', calls: [1, 2, 3], waits: [100, 200] },
    {
      name: 'gives up after maxAttempts',
      failures: 9,
      result: null,
      calls: [1, 2, 3, 4, 5],
      waits: [100, 200, 400, 800],
    },
  ])('$name', async ({ failures, result, calls, waits: expected }) => {
    const f = fails(failures);
    const p = withRetry(policy, f.fn, opts);
    if (result === null) await expect(p).rejects.toThrow('down');
    else await expect(p).resolves.toBe(result);
    expect(f.calls).toEqual(calls);
    expect(waits).toEqual(expected);
  });

  test('an error not worth another attempt is thrown at once, and onFailure says there is no next wait', async () => {
    const f = fails(9, new TypeError('bug'));
    const seen: [number, number | null][] = [];
    await expect(
      withRetry(policy, f.fn, {
        ...opts,
        retriable: (e) => !(e instanceof TypeError),
        onFailure: (_e, n, wait) => void seen.push([n, wait]),
      }),
    ).rejects.toThrow(TypeError);
    expect(f.calls).toEqual([1]);
    expect(seen).toEqual([[1, null]]);
  });

  test('a time budget ends the loop before maxAttempts', async () => {
    const f = fails(99);
    await expect(
      withRetry({ maxAttempts: Number.POSITIVE_INFINITY, initialBackoffMs: 100, maxBackoffMs: 1000 }, f.fn, {
        ...opts,
        budgetMs: 250,
      }),
    ).rejects.toThrow('down');
    // The fake sleep takes no time: waits of 100 and 200 ms fit the budget, the next one (400 ms) does not.
    expect(f.calls).toEqual([1, 2, 3]);
    expect(waits).toEqual([100, 200]);
  });

  test('an abort during the wait rejects with its reason', async () => {
    const c = new AbortController();
    const f = fails(9);
    const p = withRetry(policy, f.fn, { retriable: () => true, signal: c.signal, random: () => 1 });
    c.abort(new Error('stopping'));
    await expect(p).rejects.toThrow('stopping');
  });
});

describe('withRetry with options built on the first failure', () => {
  test.each([
    { failures: 0, built: 0, result: 'ok on 1' },
    { failures: 2, built: 1, result: 'ok on 3' },
  ])('$failures failures: options built $built times', async ({ failures, built, result }) => {
    let n = 0;
    const options = () => {
      n++;
      return { retriable: () => true, sleep: async () => undefined };
    };
    const out = await withRetry(
      policy,
      async (a) => {
        if (a <= failures) throw new Error('down');
        return `ok on ${a}`;
      },
      options,
    );
    expect(out).toBe(result);
    expect(n).toBe(built);
  });
});
