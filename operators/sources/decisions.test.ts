import { type Decision, type DecisionContext, decide, type Outcome } from './decisions';

const ctx: DecisionContext = {
  attempt: 1,
  tokenRefreshed: false,
  refreshable: true,
  nextLink: false,
  retry: { maxAttempts: 4, initialBackoffMs: 100, maxBackoffMs: 1000 },
  maxRetryAfterMs: 60_000,
  nowMs: Date.UTC(2026, 0, 1),
  random: () => 1,
};

test.each<[string, Outcome, Partial<DecisionContext>, Decision]>([
  ['200 is accepted', { kind: 'response', status: 200 }, {}, { action: 'accept' }],
  ['401 first time: refresh the token', { kind: 'response', status: 401 }, {}, { action: 'refresh-token' }],
  [
    '401 with a fresh token: auth failed',
    { kind: 'response', status: 401 },
    { tokenRefreshed: true },
    { action: 'fail', code: 'SOURCE_AUTH_FAILED', why: 'HTTP 401 with a fresh token' },
  ],
  [
    '401 on a static token: auth failed',
    { kind: 'response', status: 401 },
    { refreshable: false },
    { action: 'fail', code: 'SOURCE_AUTH_FAILED', why: 'HTTP 401' },
  ],
  [
    '403: auth failed, no refresh',
    { kind: 'response', status: 403 },
    {},
    { action: 'fail', code: 'SOURCE_AUTH_FAILED', why: 'HTTP 403' },
  ],
  [
    '429 with Retry-After seconds: pause the budget',
    { kind: 'response', status: 429, retryAfter: '120' },
    {},
    { action: 'retry', delayMs: 60_000, pauseBudget: true },
  ],
  [
    '429 with an HTTP-date',
    { kind: 'response', status: 429, retryAfter: 'Thu, 01 Jan 2026 00:00:05 GMT' },
    {},
    { action: 'retry', delayMs: 5000, pauseBudget: true },
  ],
  [
    '429 without Retry-After: backoff',
    { kind: 'response', status: 429 },
    { attempt: 2 },
    { action: 'retry', delayMs: 200, pauseBudget: false },
  ],
  [
    '429 on the last attempt: unavailable',
    { kind: 'response', status: 429, retryAfter: '1' },
    { attempt: 4 },
    { action: 'fail', code: 'SOURCE_UNAVAILABLE', why: 'HTTP 429 after 4 attempts' },
  ],
  [
    '503 with Retry-After',
    { kind: 'response', status: 503, retryAfter: '2' },
    {},
    { action: 'retry', delayMs: 2000, pauseBudget: true },
  ],
  [
    '500: capped backoff',
    { kind: 'response', status: 500 },
    { attempt: 3 },
    { action: 'retry', delayMs: 400, pauseBudget: false },
  ],
  [
    '502 past the cap',
    { kind: 'response', status: 502 },
    { retry: { maxAttempts: 10, initialBackoffMs: 100, maxBackoffMs: 1000 }, attempt: 8 },
    { action: 'retry', delayMs: 1000, pauseBudget: false },
  ],
  [
    '500 on the last attempt',
    { kind: 'response', status: 500 },
    { attempt: 4 },
    { action: 'fail', code: 'SOURCE_UNAVAILABLE', why: 'HTTP 500 after 4 attempts' },
  ],
  [
    'a reset: backoff',
    { kind: 'failure', reason: 'network' },
    {},
    { action: 'retry', delayMs: 100, pauseBudget: false },
  ],
  [
    'an idle timeout on the last attempt',
    { kind: 'failure', reason: 'idle-timeout' },
    { attempt: 4 },
    { action: 'fail', code: 'SOURCE_UNAVAILABLE', why: 'idle-timeout after 4 attempts' },
  ],
  [
    'a page too large is not retried',
    { kind: 'failure', reason: 'too-large' },
    {},
    { action: 'fail', code: 'SOURCE_RESPONSE_INVALID', why: 'too-large' },
  ],
  [
    '410 on a nextLink: restart from the cursor',
    { kind: 'response', status: 410 },
    { nextLink: true },
    { action: 'restart-from-cursor' },
  ],
  [
    '400 on a nextLink: restart from the cursor',
    { kind: 'response', status: 400 },
    { nextLink: true },
    { action: 'restart-from-cursor' },
  ],
  [
    '400 on a query: refused',
    { kind: 'response', status: 400 },
    {},
    { action: 'fail', code: 'SOURCE_REFUSED', why: 'HTTP 400' },
  ],
])('%s', (_what, outcome, over, expected) => {
  expect(decide(outcome, { ...ctx, ...over })).toEqual(expected);
});
