/**
 * What to do after one request to a source, as a pure function of what came back, so every branch is
 * table-tested: accept the page, refresh the token once on 401, wait out a 429's Retry-After (and pause the
 * budget), back off (capped, full jitter: runtime/retry.ts) on 5xx, resets and timeouts, restart from the
 * cursor when a nextLink has expired, or fail with a code. Attempts are bounded: nothing retries forever.
 */
import type { ErrorCode } from '../../runtime/errors';
import type { OutboundFailureReason } from '../../runtime/http/guarded-client';
import type { RetryPolicy } from '../../runtime/pipeline';
import { backoffMs } from '../../runtime/execute/retry';
import { retryAfterMs } from './rate-budget';

export type Outcome =
  | { readonly kind: 'response'; readonly status: number; readonly retryAfter?: string }
  | { readonly kind: 'failure'; readonly reason: OutboundFailureReason };

export type Decision =
  | { readonly action: 'accept' }
  | { readonly action: 'refresh-token' }
  | { readonly action: 'retry'; readonly delayMs: number; readonly pauseBudget: boolean }
  | { readonly action: 'restart-from-cursor' }
  | { readonly action: 'fail'; readonly code: ErrorCode; readonly why: string };

export interface DecisionContext {
  /** 1-based attempt of this request. */
  readonly attempt: number;
  /** A fresh token was already tried for this request. */
  readonly tokenRefreshed: boolean;
  /** The token can be replaced (OAuth2), unlike a static bearer. */
  readonly refreshable: boolean;
  /** The URL was a server's nextLink (not a query built from the cursor). */
  readonly nextLink: boolean;
  readonly retry: RetryPolicy;
  /** Longest Retry-After honoured; longer ones are capped to it. */
  readonly maxRetryAfterMs: number;
  readonly nowMs: number;
  readonly random?: () => number;
}

const TRANSIENT_FAILURES: ReadonlySet<OutboundFailureReason> = new Set([
  'connect-timeout',
  'idle-timeout',
  'total-timeout',
  'network',
  'host-not-found',
]);

export function decide(o: Outcome, c: DecisionContext): Decision {
  const retriesLeft = c.attempt < c.retry.maxAttempts;
  const backoff = (): Decision => ({
    action: 'retry',
    delayMs: backoffMs(c.retry, c.attempt, c.random),
    pauseBudget: false,
  });
  if (o.kind === 'failure') {
    if (!TRANSIENT_FAILURES.has(o.reason)) return { action: 'fail', code: 'SOURCE_RESPONSE_INVALID', why: o.reason };
    return retriesLeft
      ? backoff()
      : { action: 'fail', code: 'SOURCE_UNAVAILABLE', why: `${o.reason} after ${c.attempt} attempts` };
  }
  const s = o.status;
  if (s >= 200 && s < 300) return { action: 'accept' };
  if (s === 401 || s === 403) {
    if (s === 401 && c.refreshable && !c.tokenRefreshed) return { action: 'refresh-token' };
    return {
      action: 'fail',
      code: 'SOURCE_AUTH_FAILED',
      why: `HTTP ${s}${c.tokenRefreshed ? ' with a fresh token' : ''}`,
    };
  }
  if (s === 429 || s === 503) {
    const after = retryAfterMs(o.retryAfter, c.nowMs, c.maxRetryAfterMs);
    if (!retriesLeft)
      return { action: 'fail', code: 'SOURCE_UNAVAILABLE', why: `HTTP ${s} after ${c.attempt} attempts` };
    if (after !== undefined) return { action: 'retry', delayMs: after, pauseBudget: true };
    return backoff();
  }
  if (s >= 500) {
    return retriesLeft
      ? backoff()
      : { action: 'fail', code: 'SOURCE_UNAVAILABLE', why: `HTTP ${s} after ${c.attempt} attempts` };
  }
  // An expired replication link (Trestle: 5 minutes idle) answers 4xx: the cursor is still good.
  if (c.nextLink && (s === 400 || s === 404 || s === 410)) return { action: 'restart-from-cursor' };
  return { action: 'fail', code: 'SOURCE_REFUSED', why: `HTTP ${s}` };
}
