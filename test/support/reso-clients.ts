/**
 * Clients of the local RESO server (reso-server/) for the sources tests: a guarded HTTP client that may reach that
 * server only, and a source client over it with a static token, no rate limit and retries that do not wait.
 */
import { createSourceClient, type SourceClient, type SourceClientOptions } from '../../operators/sources/client';
import { RateBudget } from '../../operators/sources/rate-budget';
import type { ResoSource } from '../../operators/sources/source-spec';
import { staticBearer } from '../../operators/sources/token';
import { createGuardedClient, type GuardedClient, type GuardedClientOptions } from '../../runtime/http/guarded-client';

/** Allow-lists exactly the host:port of `url` (no setting widens it: `allowSetting` only names it in refusals). */
export function localGuardedClient(url: string, over: Partial<GuardedClientOptions> = {}): GuardedClient {
  return createGuardedClient({
    allowHosts: [new URL(url).host],
    allowSetting: 'allowHosts',
    blockedCode: 'SOURCE_BLOCKED_URL',
    what: 'source page',
    connectTimeoutMs: 1000,
    idleTimeoutMs: 2000,
    maxRedirects: 0,
    ...over,
  });
}

/** A client of source `source` through `guarded`, with the local server's token ('local-token'). */
export function localSourceClient(
  source: string,
  guarded: GuardedClient,
  over: Partial<SourceClientOptions> = {},
): SourceClient {
  return createSourceClient({
    source,
    guarded,
    tokens: staticBearer('local-token'),
    budget: new RateBudget({}),
    retry: { maxAttempts: 1, initialBackoffMs: 1, maxBackoffMs: 1 },
    maxRetryAfterMs: 1000,
    maxPageBytes: 1 << 20,
    pageTimeoutMs: 5000,
    ...over,
  });
}

/**
 * The `plain` source of the test server as a sources file would declare it: a static token from PLAIN_TOKEN,
 * cursor paging with key ties, pages of 5 (so a small dataset spans many pages), status deletes, Media expanded.
 */
export function plainStatusSource(resource: string): ResoSource {
  return {
    name: 'plain',
    kind: 'reso-web-api',
    pollIntervalMs: 60_000,
    resource,
    auth: { kind: 'bearer', tokenEnv: 'PLAIN_TOKEN' },
    tieBreak: 'key',
    paging: 'cursor',
    nextLinkEncoding: 'standard',
    pageSize: 5,
    rateLimits: {},
    deletes: { kind: 'status', field: 'StandardStatus', values: ['Delete'] },
    media: { mode: 'expand', bumpsModification: true },
    capabilities: { count: true, orderDescending: true },
  };
}
