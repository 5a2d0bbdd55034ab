/**
 * Fetches one OData page of a source: waits for the rate budget, sends the token, and follows the
 * decisions of decisions.ts (refresh the token on 401, wait out Retry-After, back off on 5xx and resets)
 * until the page is accepted or the request fails with a code. Every request goes through the guarded
 * client, with the source's resource origin as the only origin its nextLinks may use.
 */
import { PermanentError, RetriableError } from '../../runtime/errors';
import { type GuardedClient, OutboundFailure } from '../../runtime/http/guarded-client';
import type { RetryPolicy } from '../../runtime/pipeline';
import { sleep as defaultSleep } from '../../runtime/execute/retry';
import { type Decision, decide, type Outcome } from './decisions';
import type { RateBudget } from './rate-budget';
import type { TokenProvider } from './token';

export interface ODataPage {
  readonly url: URL;
  readonly records: readonly Record<string, unknown>[];
  readonly nextLink?: string;
  readonly count?: number;
}

/** The server no longer knows a nextLink (expired after idle): query again from the cursor. */
export class NextLinkExpired extends Error {
  constructor(readonly url: string) {
    super(`the nextLink ${url} has expired`);
    this.name = 'NextLinkExpired';
  }
}

export interface SourceClientOptions {
  readonly source: string;
  /** The guarded client every page request goes through. */
  readonly guarded: GuardedClient;
  readonly tokens: TokenProvider;
  readonly budget: RateBudget;
  readonly retry: RetryPolicy;
  readonly maxRetryAfterMs: number;
  readonly maxPageBytes: number;
  readonly pageTimeoutMs: number;
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly now?: () => number;
  readonly random?: () => number;
}

export interface PageRequest {
  readonly nextLink: boolean;
  readonly sameOriginAs: URL;
  readonly signal: AbortSignal;
}

export interface SourceClient {
  getPage(url: URL, r: PageRequest): Promise<ODataPage>;
  /** Requests sent so far (retries included). */
  readonly requests: () => number;
}

export function createSourceClient(o: SourceClientOptions): SourceClient {
  const sleep = o.sleep ?? defaultSleep;
  const now = o.now ?? Date.now;
  let requests = 0;

  async function getPage(url: URL, r: PageRequest): Promise<ODataPage> {
    let tokenRefreshed = false;
    for (let attempt = 1; ; attempt++) {
      const wait = o.budget.waitMs();
      if (wait > 0) await sleep(wait, r.signal);
      const authorization = await o.tokens.authorization(r.signal);
      o.budget.spent();
      requests++;
      let outcome: Outcome;
      let text = '';
      let finalUrl = url;
      try {
        const res = await o.guarded.get(url, {
          signal: r.signal,
          headers: { authorization, accept: 'application/json' },
          maxBytes: o.maxPageBytes,
          totalTimeoutMs: o.pageTimeoutMs,
          sameOriginAs: r.sameOriginAs,
        });
        finalUrl = res.url;
        text = await readText(res.body);
        outcome = { kind: 'response', status: res.status, retryAfter: res.header('retry-after') };
      } catch (e) {
        if (!(e instanceof OutboundFailure)) throw e;
        outcome = { kind: 'failure', reason: e.reason };
      }
      const d: Decision = decide(outcome, {
        attempt,
        tokenRefreshed,
        refreshable: o.tokens.refreshable,
        nextLink: r.nextLink,
        retry: o.retry,
        maxRetryAfterMs: o.maxRetryAfterMs,
        nowMs: now(),
        random: o.random,
      });
      switch (d.action) {
        case 'accept':
          return parsePage(o.source, finalUrl, text);
        case 'refresh-token':
          o.tokens.rejected(authorization);
          tokenRefreshed = true;
          attempt--; // a token refresh is not a failed attempt
          continue;
        case 'retry':
          if (d.pauseBudget) o.budget.pause(d.delayMs);
          else await sleep(d.delayMs, r.signal);
          continue;
        case 'restart-from-cursor':
          throw new NextLinkExpired(url.href);
        case 'fail': {
          const detail = { source: o.source, url: url.href, why: d.why };
          const message = `Source ${o.source}: ${url.href} failed (${d.why})${odataError(text)}.`;
          throw d.code === 'SOURCE_UNAVAILABLE'
            ? new RetriableError(d.code, message, { detail })
            : new PermanentError(d.code, message, { detail });
        }
      }
    }
  }
  return { getPage, requests: () => requests };
}

async function readText(body: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const b of body) parts.push(b);
  return Buffer.concat(parts).toString('utf8');
}

/** `: <message>` of an OData error body, for messages; '' when there is none. */
function odataError(text: string): string {
  try {
    const m = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    return typeof m === 'string' ? `: ${m.slice(0, 300)}` : '';
  } catch {
    return '';
  }
}

function parsePage(source: string, url: URL, text: string): ODataPage {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    doc = undefined;
  }
  const o = doc as { value?: unknown; '@odata.nextLink'?: unknown; '@odata.count'?: unknown } | undefined;
  if (!o || typeof o !== 'object' || !Array.isArray(o.value)) {
    throw new PermanentError(
      'SOURCE_RESPONSE_INVALID',
      `Source ${source}: ${url.href} is not an OData collection (no value array).`,
      {
        detail: { source, url: url.href },
      },
    );
  }
  const next = o['@odata.nextLink'];
  const count = o['@odata.count'];
  return {
    url,
    records: o.value as Record<string, unknown>[],
    ...(typeof next === 'string' && next !== '' ? { nextLink: next } : {}),
    ...(typeof count === 'number' ? { count } : {}),
  };
}
