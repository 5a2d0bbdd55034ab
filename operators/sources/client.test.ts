/** The page client against the RESO test server: each failure ends in a page or a coded error. */
import { PermanentError, RetriableError } from '../../runtime/errors';
import type { GuardedClient } from '../../runtime/http/guarded-client';
import { PRESETS, ResoDataset, type ResoServer, startResoServer } from '../../test/support/reso-server';
import { createSourceClient, NextLinkExpired, type SourceClient } from './client';
import { RateBudget } from './rate-budget';
import { type ReplicationSpec, replicatePass } from './replicate';
import { staticBearer } from './token';
import { localGuardedClient } from '../../test/support/reso-clients';

let clock = Date.UTC(2026, 1, 1);
const slept: number[] = [];
let server: ResoServer;
let http: GuardedClient;
const signal = new AbortController().signal;

beforeAll(async () => {
  server = await startResoServer({
    now: () => clock,
    sources: [
      { name: 'plain', quirks: PRESETS.plain, dataset: new ResoDataset({ seed: 3, count: 12, deletes: 'status' }) },
    ],
  });
  http = localGuardedClient(server.url);
});
afterAll(async () => {
  await http.close();
  await server.close();
});
beforeEach(() => {
  slept.length = 0;
});

const client = (token = 'local-token', limits = {}) =>
  createSourceClient({
    source: 'plain',
    guarded: http,
    tokens: staticBearer(token),
    budget: new RateBudget(limits, () => clock),
    retry: { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 1000 },
    maxRetryAfterMs: 60_000,
    maxPageBytes: 1 << 20,
    pageTimeoutMs: 5000,
    now: () => clock,
    random: () => 1,
    sleep: async (ms) => {
      slept.push(ms);
      clock += ms;
    },
  });

const resource = () => new URL(server.source('plain').resourceUrl);
const page = (c: SourceClient, url = resource(), nextLink = false) =>
  c.getPage(url, { nextLink, sameOriginAs: resource(), signal });
const caught = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

test('a page is parsed; requests are counted', async () => {
  const c = client();
  const p = await page(c);
  expect(p.records).toHaveLength(12);
  expect(c.requests()).toBe(1);
});

test('a 429 pauses the budget for its Retry-After, then the page comes', async () => {
  server.source('plain').injectFaults({ kind: '429', retryAfterSeconds: 4 });
  const c = client();
  expect((await page(c)).records).toHaveLength(12);
  expect(slept).toEqual([4000]);
  expect(c.requests()).toBe(2);
});

test('503s and a reset back off (capped, jittered), then the page comes', async () => {
  server.source('plain').injectFaults({ kind: '503' }, { kind: 'reset' });
  const c = client();
  expect((await page(c)).records).toHaveLength(12);
  expect(slept).toEqual([100, 200]);
});

test('past the attempts: SOURCE_UNAVAILABLE, retriable', async () => {
  server.source('plain').injectFaults({ kind: '503' }, { kind: '503' }, { kind: '503' });
  const e = await caught(page(client()));
  expect(e).toBeInstanceOf(RetriableError);
  expect(e).toMatchObject({
    code: 'SOURCE_UNAVAILABLE',
    message: expect.stringContaining('HTTP 503 after 3 attempts'),
  });
});

test('a refused static token: SOURCE_AUTH_FAILED, permanent', async () => {
  const e = await caught(page(client('wrong')));
  expect(e).toBeInstanceOf(PermanentError);
  expect((e as PermanentError).code).toBe('SOURCE_AUTH_FAILED');
});

test('a 400 carries the OData error message: SOURCE_REFUSED', async () => {
  const url = resource();
  url.search = '$filter=contains(City,%27x%27)';
  const e = await caught(page(client(), url));
  expect(e).toMatchObject({
    code: 'SOURCE_REFUSED',
    message: expect.stringContaining('Invalid $filter: expected eq, ne, gt, ge, lt, le or in'),
  });
});

test('a 4xx on a nextLink means it expired: NextLinkExpired', async () => {
  const url = resource();
  url.search = '$skiptoken=gone';
  expect(await caught(page(client(), url, true))).toBeInstanceOf(NextLinkExpired);
});

test('a nextLink on another origin is refused before any request', async () => {
  const before = server.log.length;
  const other = new URL(resource().href.replace('127.0.0.1', 'localhost'));
  const e = await caught(page(client(), other, true));
  expect(e).toMatchObject({ code: 'SOURCE_BLOCKED_URL', detail: expect.objectContaining({ rule: 'otherOrigin' }) });
  expect(server.log.length).toBe(before);
});

describe('replicatePass over a stub client', () => {
  const spec: ReplicationSpec = {
    source: 'stub',
    resource: 'https://api.example/Property',
    timestampField: 'ModificationTimestamp',
    keyField: 'ListingKey',
    tieMode: 'key',
    pageSize: 2,
    expandMedia: false,
    deletes: { kind: 'status', field: 'StandardStatus', values: ['Delete'] },
    nextLinkEncoding: 'standard',
    paging: 'next-link',
  };
  const stub = (
    pages: Array<() => { records: Record<string, unknown>[]; nextLink?: string }>,
  ): SourceClient & { urls: string[] } => {
    const urls: string[] = [];
    return {
      urls,
      requests: () => urls.length,
      getPage: async (url) => {
        urls.push(url.href);
        const next = pages.shift();
        if (!next) throw new Error('no more pages');
        return { url, ...next() };
      },
    };
  };
  const drain = async (c: SourceClient) => {
    const out = [];
    for await (const p of replicatePass(spec, c, { initialDone: true }, signal)) out.push(p);
    return out;
  };

  test('a record without its key or with a timestamp that is not an instant: SOURCE_RESPONSE_INVALID', async () => {
    for (const bad of [
      { ModificationTimestamp: '2026-01-01T00:00:00Z' },
      { ListingKey: 'A', ModificationTimestamp: '2026-01-01 00:00' },
    ]) {
      const e = await caught(drain(stub([() => ({ records: [bad] })])));
      expect(e).toMatchObject({ code: 'SOURCE_RESPONSE_INVALID' });
    }
  });

  test('an expired link restarts from the cursor of the last page, a bounded number of times', async () => {
    const expired = () => {
      throw new NextLinkExpired('x');
    };
    const c = stub([
      () => ({
        records: [{ ListingKey: 'A', ModificationTimestamp: '2026-01-01T00:00:00.000001Z' }],
        nextLink: 'Property?$skiptoken=1',
      }),
      expired,
      () => ({ records: [{ ListingKey: 'B', ModificationTimestamp: '2026-01-01T00:00:00.000001Z' }] }),
    ]);
    const pages = await drain(c);
    expect(pages.map((p) => p.records.map((r) => r.ListingKey))).toEqual([['A'], ['B']]);
    expect(decodeURIComponent(c.urls[2]!)).toContain("ListingKey gt 'A'");
    const endless = stub([
      () => ({
        records: [{ ListingKey: 'A', ModificationTimestamp: '2026-01-01T00:00:00Z' }],
        nextLink: 'Property?$skiptoken=1',
      }),
      ...Array.from({ length: 7 }, () => expired),
    ]);
    expect(await caught(drain(endless))).toBeInstanceOf(NextLinkExpired);
  });

  test('deleted records move the cursor but are not emitted as listings', async () => {
    const pages = await drain(
      stub([
        () => ({
          records: [
            { ListingKey: 'A', ModificationTimestamp: '2026-01-01T00:00:01Z', StandardStatus: 'Delete' },
            { ListingKey: 'B', ModificationTimestamp: '2026-01-01T00:00:00Z' },
          ],
        }),
      ]),
    );
    expect(pages[0]).toMatchObject({
      deletedKeys: ['A'],
      caughtUp: true,
      state: { cursor: { timestamp: '2026-01-01T00:00:01Z', key: 'A' }, initialDone: true },
    });
    expect(pages[0]!.records.map((r) => r.ListingKey)).toEqual(['B']);
  });
});
