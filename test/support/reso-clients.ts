/**
 * Clients of the local RESO server (reso-server/) for the sources tests: a guarded HTTP client that may reach that
 * server only, and a source client over it with a static token, no rate limit and retries that do not wait.
 */
import { createSourceClient, type SourceClient, type SourceClientOptions } from '../../operators/sources/client';
import { RateBudget } from '../../operators/sources/rate-budget';
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
