import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ListflowError, RetriableError } from '../../runtime/errors';
import { createGuardedClient, type GuardedClient } from '../../runtime/http/guarded-client';
import { issueClientCredentialsToken, staticBearer, tokenManager } from './token';

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

describe('issueClientCredentialsToken', () => {
  let server: Server;
  let reply: { status: number; body: string } = { status: 200, body: '' };
  let seen = '';
  let guarded: GuardedClient;
  let tokenUrl = '';
  beforeAll(async () => {
    server = createServer((q, r) => {
      let body = '';
      q.on('data', (c: Buffer) => {
        body += c.toString();
      });
      q.on('end', () => {
        seen = body;
        r.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body);
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    tokenUrl = `http://${host}/token`;
    guarded = createGuardedClient({
      allowHosts: [host],
      allowSetting: 'X',
      blockedCode: 'SOURCE_BLOCKED_URL',
      what: 'token endpoint',
      connectTimeoutMs: 1000,
      idleTimeoutMs: 1000,
      maxRedirects: 0,
    });
  });
  afterAll(async () => {
    await guarded.close();
    await new Promise((ok) => server.close(ok));
  });
  const credentials = () => ({ tokenUrl, clientId: 'id', clientSecret: 's3cr&t', scope: 'api' });

  test.each<
    [string, number, string, { accessToken: string; expiresInSeconds: number } | { code: string; retriable: boolean }]
  >([
    [
      'a token with its lifetime',
      200,
      '{"access_token":"abc","expires_in":120}',
      { accessToken: 'abc', expiresInSeconds: 120 },
    ],
    [
      'no lifetime: an hour, and the 401 refresh',
      200,
      '{"access_token":"abc"}',
      { accessToken: 'abc', expiresInSeconds: 3600 },
    ],
    ['no token in a 200', 200, '{"token_type":"Bearer"}', { code: 'SOURCE_AUTH_FAILED', retriable: false }],
    ['not JSON', 200, '<html>', { code: 'SOURCE_AUTH_FAILED', retriable: false }],
    ['refused credentials', 401, '{"error":"invalid_client"}', { code: 'SOURCE_AUTH_FAILED', retriable: false }],
    ['the endpoint is down', 503, '', { code: 'SOURCE_UNAVAILABLE', retriable: true }],
    ['the endpoint throttles', 429, '', { code: 'SOURCE_UNAVAILABLE', retriable: true }],
  ])('%s', async (_what, status, body, expected) => {
    reply = { status, body };
    const got = await issueClientCredentialsToken(guarded, credentials(), 'mls', signal).then(
      (t) => t,
      (e: ListflowError) => ({ code: e.code, retriable: e instanceof RetriableError }),
    );
    expect(got).toEqual(expected);
    expect(seen).toBe('grant_type=client_credentials&client_id=id&client_secret=s3cr%26t&scope=api');
  });

  test('a refusal names the source and the fix, never the secret', async () => {
    reply = { status: 401, body: '{}' };
    const e = await issueClientCredentialsToken(guarded, credentials(), 'mls', signal).catch((x: Error) => x);
    expect((e as Error).message).toBe(
      'The token endpoint of source mls refused the client credentials (401). Fix: check the client id and secret variables named in the sources file.',
    );
  });
});
