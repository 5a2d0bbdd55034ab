/**
 * Access tokens for a source: a static bearer token, or OAuth2 client credentials with tokens that expire.
 * A token is refreshed `refreshBeforeMs` before it expires, and again when a request answers 401 with it
 * (servers revoke early). Concurrent callers share one token request.
 */
import { PermanentError, RetriableError } from '../../runtime/errors';
import type { GuardedClient } from '../../runtime/http/guarded-client';

export interface TokenProvider {
  /** The Authorization header value to send now. */
  authorization(signal: AbortSignal): Promise<string>;
  /** The server refused `authorization` (401): forget it, so the next call fetches a fresh one. */
  rejected(authorization: string): void;
  /** Whether a rejected token can be replaced (a static token cannot). */
  readonly refreshable: boolean;
}

export function staticBearer(token: string): TokenProvider {
  const header = `Bearer ${token}`;
  return { authorization: async () => header, rejected: () => undefined, refreshable: false };
}

export interface IssuedToken {
  readonly accessToken: string;
  /** Lifetime in seconds, as the token endpoint said (expires_in). */
  readonly expiresInSeconds: number;
}

export interface TokenManagerOptions {
  readonly issue: (signal: AbortSignal) => Promise<IssuedToken>;
  readonly now?: () => number;
  /** Refresh this long before expiry (default 60 s, at most half the token's lifetime). */
  readonly refreshBeforeMs?: number;
}

export function tokenManager(o: TokenManagerOptions): TokenProvider & { readonly issued: () => number } {
  const now = o.now ?? Date.now;
  const before = o.refreshBeforeMs ?? 60_000;
  let current: { header: string; refreshAt: number } | undefined;
  let pending: Promise<string> | undefined;
  let issued = 0;
  const refresh = (signal: AbortSignal): Promise<string> => {
    pending ??= o
      .issue(signal)
      .then((t) => {
        issued++;
        const lifetime = t.expiresInSeconds * 1000;
        current = { header: `Bearer ${t.accessToken}`, refreshAt: now() + lifetime - Math.min(before, lifetime / 2) };
        return current.header;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
  return {
    refreshable: true,
    issued: () => issued,
    authorization: async (signal) => (current && now() < current.refreshAt ? current.header : refresh(signal)),
    rejected: (header) => {
      if (current?.header === header) current = undefined;
    },
  };
}

export interface ClientCredentials {
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scope?: string;
}

/** Requests a token with the client-credentials grant, through the guarded client's POST. */
export async function issueClientCredentialsToken(
  guarded: GuardedClient,
  c: ClientCredentials,
  source: string,
  signal: AbortSignal,
): Promise<IssuedToken> {
  const form: Record<string, string> = {
    grant_type: 'client_credentials',
    client_id: c.clientId,
    client_secret: c.clientSecret,
    ...(c.scope ? { scope: c.scope } : {}),
  };
  const res = await guarded.post(c.tokenUrl, { signal, form, maxBytes: 64 * 1024, totalTimeoutMs: 30_000 });
  const parts: Buffer[] = [];
  for await (const b of res.body) parts.push(b);
  const text = Buffer.concat(parts).toString('utf8');
  if (res.status >= 500 || res.status === 429) {
    throw new RetriableError('SOURCE_UNAVAILABLE', `The token endpoint of source ${source} answered ${res.status}.`, {
      detail: { source, status: String(res.status) },
    });
  }
  if (res.status !== 200) {
    throw new PermanentError(
      'SOURCE_AUTH_FAILED',
      `The token endpoint of source ${source} refused the client credentials (${res.status}). Fix: check the client id and secret variables named in the sources file.`,
      { detail: { source, status: String(res.status) } },
    );
  }
  let body: { access_token?: unknown; expires_in?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    body = {};
  }
  if (typeof body.access_token !== 'string' || body.access_token === '') {
    throw new PermanentError('SOURCE_AUTH_FAILED', `The token endpoint of source ${source} sent no access_token.`, {
      detail: { source, status: String(res.status) },
    });
  }
  const expires = Number(body.expires_in);
  // No lifetime given: assume an hour and rely on the refresh after a 401.
  return { accessToken: body.access_token, expiresInSeconds: Number.isFinite(expires) && expires > 0 ? expires : 3600 };
}
