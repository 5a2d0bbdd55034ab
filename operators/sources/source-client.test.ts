import type { GuardedClient } from '../../runtime/http/guarded-client';
import { localGuardedClient, plainStatusSource } from '../../test/support/reso-clients';
import { PRESETS, ResoDataset, type ResoServer, startResoServer } from '../../test/support/reso-server';
import { replicationSpecs } from './source-spec';
import { sourceClientFor } from './source-client';
import { syncSource } from './sync';

let server: ResoServer;
let http: GuardedClient;
beforeAll(async () => {
  server = await startResoServer({
    sources: [
      { name: 'plain', quirks: PRESETS.plain, dataset: new ResoDataset({ seed: 3, count: 12, deletes: 'status' }) },
    ],
  });
  http = localGuardedClient(server.url, { connectTimeoutMs: 2000, idleTimeoutMs: 5000, maxRedirects: 2 });
});
afterAll(async () => {
  await http?.close();
  await server?.close();
});

const sourceAt = plainStatusSource;

describe('sourceClientFor', () => {
  it.each([
    ['the token from the named variable replicates everything', { PLAIN_TOKEN: 'local-token' }, 12],
    ['a wrong token is refused', { PLAIN_TOKEN: 'wrong' }, 'SOURCE_AUTH_FAILED'],
    ['an unset variable is SOURCES_INVALID', {}, 'SOURCES_INVALID'],
  ])('%s', async (_n, env, expected) => {
    const source = sourceAt(server.source('plain').resourceUrl);
    const run = async () => {
      const client = sourceClientFor(source, http, env, {
        retry: { maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 2 },
        maxRetryAfterMs: 10,
        maxPageBytes: 2 ** 20,
        pageTimeoutMs: 5000,
      });
      const r = await syncSource({
        source,
        specs: replicationSpecs(source),
        client,
        start: undefined,
        sink: { commit: async () => undefined },
        signal: new AbortController().signal,
      });
      return r.records;
    };
    if (typeof expected === 'number') expect(await run()).toBe(expected);
    else await expect(run()).rejects.toMatchObject({ code: expected });
  });
});
