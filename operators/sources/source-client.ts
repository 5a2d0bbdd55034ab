/**
 * A source's page client from its declaration: credentials resolved from the environment at start (never
 * written in the sources file), an OAuth2 token manager or a static bearer, the source's rate budget, every
 * request through the guarded client the caller owns (its allow list is LISTFLOW_SOURCES_ALLOW_HOSTS).
 */
import type { GuardedClient } from '../../runtime/http/guarded-client';
import type { RetryPolicy } from '../../runtime/pipeline';
import { createSourceClient, type SourceClient } from './client';
import { RateBudget } from './rate-budget';
import { type ResoSource, resolveSourceSecrets } from './source-spec';
import { issueClientCredentialsToken, staticBearer, type TokenProvider, tokenManager } from './token';

export interface SourceClientSettings {
  readonly retry: RetryPolicy;
  readonly maxRetryAfterMs: number;
  readonly maxPageBytes: number;
  readonly pageTimeoutMs: number;
}

export const DEFAULT_SOURCE_CLIENT_SETTINGS: SourceClientSettings = {
  retry: { maxAttempts: 6, initialBackoffMs: 500, maxBackoffMs: 30_000 },
  maxRetryAfterMs: 600_000,
  maxPageBytes: 64 * 2 ** 20,
  pageTimeoutMs: 60_000,
};

/** `auth: none` (an open server): an empty Authorization value, nothing to refresh. */
const NO_AUTH: TokenProvider = { authorization: async () => '', rejected: () => undefined, refreshable: false };

export function sourceClientFor(
  source: ResoSource,
  guarded: GuardedClient,
  env: Readonly<Record<string, string | undefined>>,
  settings: SourceClientSettings = DEFAULT_SOURCE_CLIENT_SETTINGS,
): SourceClient {
  const auth = resolveSourceSecrets(source, env);
  const tokens: TokenProvider =
    auth.kind === 'oauth2'
      ? tokenManager({ issue: (signal) => issueClientCredentialsToken(guarded, auth, source.name, signal) })
      : auth.kind === 'bearer'
        ? staticBearer(auth.token)
        : NO_AUTH;
  return createSourceClient({
    source: source.name,
    guarded,
    tokens,
    budget: new RateBudget(source.rateLimits),
    ...settings,
  });
}
