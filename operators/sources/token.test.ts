import { staticBearer, tokenManager } from './token';

const signal = new AbortController().signal;

function manager(lifetimeSeconds = 600, refreshBeforeMs = 60_000) {
  let t = 0;
  let n = 0;
  const m = tokenManager({
    now: () => t,
    refreshBeforeMs,
    issue: async () => ({ accessToken: `t${++n}`, expiresInSeconds: lifetimeSeconds }),
  });
  const advance = (ms: number) => {
    t += ms;
  };
  return { m, advance };
}

test.each<[string, number, number, string]>([
  ['reused while fresh', 600, 539_999, 'Bearer t1'],
  ['refreshed 60 s before expiry', 600, 540_000, 'Bearer t2'],
  ['a short-lived token is refreshed at half its life', 60, 30_000, 'Bearer t2'],
  ['a short-lived token is kept before half its life', 60, 29_999, 'Bearer t1'],
])('%s', async (_what, lifetime, after, expected) => {
  const { m, advance } = manager(lifetime);
  expect(await m.authorization(signal)).toBe('Bearer t1');
  advance(after);
  expect(await m.authorization(signal)).toBe(expected);
});

test('a 401 with the current token makes the next call fetch a new one; a stale one is ignored', async () => {
  const { m } = manager();
  const first = await m.authorization(signal);
  m.rejected('Bearer old');
  expect(await m.authorization(signal)).toBe(first);
  m.rejected(first);
  expect(await m.authorization(signal)).toBe('Bearer t2');
  expect(m.issued()).toBe(2);
});

test('concurrent callers share one token request', async () => {
  const { m } = manager();
  const all = await Promise.all([m.authorization(signal), m.authorization(signal), m.authorization(signal)]);
  expect(all).toEqual(['Bearer t1', 'Bearer t1', 'Bearer t1']);
  expect(m.issued()).toBe(1);
});

test('a failed token request is not cached', async () => {
  let fail = true;
  const m = tokenManager({
    issue: async () => {
      if (fail) throw new Error('token endpoint down');
      return { accessToken: 'ok', expiresInSeconds: 600 };
    },
  });
  await expect(m.authorization(signal)).rejects.toThrow('token endpoint down');
  fail = false;
  expect(await m.authorization(signal)).toBe('Bearer ok');
});

test('a static bearer token cannot be refreshed', async () => {
  const s = staticBearer('abc');
  expect(s.refreshable).toBe(false);
  s.rejected('Bearer abc');
  expect(await s.authorization(signal)).toBe('Bearer abc');
});
