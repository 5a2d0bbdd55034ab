/**
 * The one outbound HTTP client of the product: every feed, OData page, nextLink, redirect hop and photo
 * goes through a `GuardedClient`, and this module is the only place that constructs undici Agents (a test
 * fails if another `fetch(`, `http.request(` or `new Agent(` appears in product code).
 *
 * - Address policy (address-policy.ts) applied inside the connection's DNS lookup (guarded-connect.ts), so
 *   DNS rebinding cannot slip past it; IP literals are checked too. A host[:port] on the operator's allow
 *   list (allow-list.ts) skips it; nothing else does.
 * - Redirects are followed here, hop by hop, with a limit; each hop connects through the same check. A
 *   redirect to another scheme than http(s), or from https down to http, is refused; Authorization and
 *   Cookie headers do not follow a redirect to another origin. URLs with credentials are refused, and
 *   messages never show them.
 * - `sameOriginAs`: a URL on another origin is refused unless its host is allow-listed (the rule for a paged feed's nextLink).
 * - `post` sends a form body (an OAuth2 token request) through the same checks and limits. A 301/302/303
 *   answer is followed with a GET, as browsers do; a 307/308 repeats the POST, but only on the same origin,
 *   since the body carries client credentials.
 * - Bounded: connect timeout, idle timeout (waiting for headers, and between body chunks), an optional total
 *   timeout that also covers reading the body, and a byte limit (Content-Length first, then while streaming).
 * - Keep-alive: one Agent per client pools connections per origin.
 *
 * A refusal throws PermanentError with the client's `blockedCode` (INGEST_BLOCKED_URL, IMAGE_BLOCKED_URL)
 * whose detail names the url, host, resolved address and rule, and whose message says which setting
 * allows the host. Other failures throw `OutboundFailure` with a reason, which each operator maps to its
 * own codes (a feed retries a timeout, a photo fails). The caller's abort signal is never swallowed: an
 * aborted request rejects with the signal's reason.
 */
import type { Agent as UndiciAgent, Dispatcher } from 'undici';
import type { ErrorCode } from '../errors';
import { PermanentError } from '../errors';
import { describeRule } from './address-policy';
import { AllowList, portOf } from './allow-list';
import { BlockedAddressError, guardedConnect, type Resolver, systemResolver } from './guarded-connect';

export interface GuardedClientOptions {
  /** Validated host[:port] entries (allowHostsField). */
  readonly allowHosts: readonly string[];
  /** The environment variable that holds them, named in refusals: `LISTFLOW_INGEST_ALLOW_HOSTS`. */
  readonly allowSetting: string;
  /** The code of a refusal. */
  readonly blockedCode: ErrorCode;
  /** What is fetched, for messages: `feed`, `photo`. */
  readonly what: string;
  readonly connectTimeoutMs: number;
  /** Longest wait for the response headers, and between two body chunks (a trickling server stops here). */
  readonly idleTimeoutMs: number;
  readonly maxRedirects: number;
  /** Connections kept per origin; default unlimited. */
  readonly connectionsPerOrigin?: number;
  /** DNS, replaceable in tests. */
  readonly resolver?: Resolver;
  /** Trusted CA certificates (PEM) instead of the system's: a feed server with a private CA, or tests. */
  readonly ca?: string;
}

export interface GetOptions {
  readonly signal: AbortSignal;
  readonly headers?: Readonly<Record<string, string>>;
  /** Largest body, in bytes, as transferred. */
  readonly maxBytes: number;
  /** Time limit for the whole exchange: redirects, headers and reading the body. */
  readonly totalTimeoutMs?: number;
  /** Refuse the URL when it is on another origin than this one (and not allow-listed). */
  readonly sameOriginAs?: URL;
}

export interface PostOptions extends GetOptions {
  /** Sent as application/x-www-form-urlencoded. */
  readonly form: Readonly<Record<string, string>>;
}

export interface GuardedResponse {
  /** The URL that answered (after redirects). */
  readonly url: URL;
  readonly status: number;
  header(name: string): string | undefined;
  /** The body, byte-limited and timed; iterate it once, or `discard` it. */
  readonly body: AsyncIterable<Buffer>;
  discard(): Promise<void>;
}

export interface GuardedClient {
  get(url: string | URL, opts: GetOptions): Promise<GuardedResponse>;
  post(url: string | URL, opts: PostOptions): Promise<GuardedResponse>;
  close(): Promise<void>;
}

export type OutboundFailureReason =
  | 'connect-timeout'
  | 'idle-timeout'
  | 'total-timeout'
  | 'too-large'
  | 'too-many-redirects'
  | 'host-not-found'
  | 'network';

/** A failure that is not a refusal; `message` completes "The <what> <url> ..." (e.g. "sent nothing for 100 ms"). */
export class OutboundFailure extends Error {
  constructor(
    readonly reason: OutboundFailureReason,
    readonly url: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'OutboundFailure';
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export function createGuardedClient(opts: GuardedClientOptions): GuardedClient {
  const allow = new AllowList(opts.allowHosts);
  // undici is loaded when a client is made, not at import: it takes ~0.2 s to load, which every CLI call would
  // pay (the operator registry imports this module), while only workers and fetching commands make clients.
  const { Agent } = require('undici') as { Agent: typeof UndiciAgent };
  const agent = new Agent({
    connect: guardedConnect({
      allow,
      connectTimeoutMs: opts.connectTimeoutMs,
      resolver: opts.resolver ?? systemResolver,
      ca: opts.ca,
    }),
    headersTimeout: opts.idleTimeoutMs,
    bodyTimeout: opts.idleTimeoutMs,
    ...(opts.connectionsPerOrigin ? { connections: opts.connectionsPerOrigin } : {}),
  });

  const refuse = (url: URL, rule: string, why: string, address = '', fix = true): PermanentError => {
    const shown = withoutCredentials(url);
    return new PermanentError(
      opts.blockedCode,
      `The ${opts.what} URL ${shown} is refused: ${why}.${
        fix
          ? ` Fix: if ${url.host} is trusted, add ${url.host} to ${opts.allowSetting} (host[:port], comma-separated).`
          : ''
      }`,
      { detail: { url: shown, host: url.hostname, address, rule } },
    );
  };

  /** Checks that need no connection: scheme, credentials, origin. */
  function checkUrl(url: URL, sameOriginAs: URL | undefined): void {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw refuse(url, 'scheme', 'only http:// and https:// are fetched', '', false);
    }
    if (url.username || url.password) {
      throw refuse(url, 'credentialsInUrl', 'credentials in a URL are refused (they would leak to logs)', '', false);
    }
    if (sameOriginAs && url.origin !== sameOriginAs.origin && !allow.permits(url.hostname, portOf(url))) {
      throw refuse(url, 'otherOrigin', `it leaves the origin ${sameOriginAs.origin} of the first page`);
    }
  }

  async function send(
    target: string | URL,
    o: GetOptions,
    form?: Readonly<Record<string, string>>,
  ): Promise<GuardedResponse> {
    let url: URL;
    try {
      url = typeof target === 'string' ? new URL(target) : target;
    } catch {
      throw new PermanentError(opts.blockedCode, `The ${opts.what} URL ${JSON.stringify(target)} is not a URL.`, {
        detail: { url: String(target), host: '', address: '', rule: 'notAUrl' },
      });
    }
    checkUrl(url, o.sameOriginAs);
    const total = o.totalTimeoutMs === undefined ? undefined : AbortSignal.timeout(o.totalTimeoutMs);
    const signal = total ? AbortSignal.any([o.signal, total]) : o.signal;
    const failure = (e: unknown, at: URL): unknown => mapError(e, at, o, total);
    let headers: Record<string, string> = { 'user-agent': 'listflow', ...o.headers };
    let body = form === undefined ? undefined : new URLSearchParams(form).toString();
    if (body !== undefined) headers = { ...headers, 'content-type': 'application/x-www-form-urlencoded' };
    for (let hop = 0; ; hop++) {
      let res: Dispatcher.ResponseData;
      try {
        res = await agent.request({
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: body === undefined ? 'GET' : 'POST',
          headers,
          signal,
          ...(body === undefined ? {} : { body }),
        });
      } catch (e) {
        throw failure(e, url);
      }
      const location = headerOf(res.headers, 'location');
      if (REDIRECTS.has(res.statusCode) && location !== undefined) {
        await res.body.dump().catch(() => undefined);
        if (hop >= opts.maxRedirects) {
          throw new OutboundFailure('too-many-redirects', url.href, `redirected more than ${opts.maxRedirects} times`);
        }
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          throw refuse(
            url,
            'badRedirect',
            `it redirects to ${JSON.stringify(location)}, which is not a URL`,
            '',
            false,
          );
        }
        if (url.protocol === 'https:' && next.protocol === 'http:') {
          throw refuse(next, 'httpsDowngrade', `${url.href} redirects from https down to http`, '', false);
        }
        checkUrl(next, undefined);
        if (body !== undefined) {
          if (res.statusCode === 307 || res.statusCode === 308) {
            // A repeated POST carries its body (client credentials): never to another origin.
            if (next.origin !== url.origin) {
              throw refuse(next, 'postToOtherOrigin', `${url.href} redirects a POST to another origin`, '', false);
            }
          } else {
            body = undefined;
            headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k !== 'content-type'));
          }
        }
        // Credentials meant for one origin never follow a redirect to another.
        if (next.origin !== url.origin) headers = withoutSecrets(headers);
        url = next;
        continue;
      }
      return respond(url, res, o, failure);
    }
  }

  function respond(
    url: URL,
    res: Dispatcher.ResponseData,
    o: GetOptions,
    failure: (e: unknown, at: URL) => unknown,
  ): GuardedResponse {
    const announced = Number(headerOf(res.headers, 'content-length') ?? Number.NaN);
    if (Number.isFinite(announced) && announced > o.maxBytes) {
      drop(res.body);
      throw new OutboundFailure(
        'too-large',
        url.href,
        `announces ${announced} bytes, more than the limit of ${o.maxBytes}`,
      );
    }
    const body = res.body;
    async function* bytes(): AsyncGenerator<Buffer> {
      let seen = 0;
      try {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          seen += chunk.length;
          if (seen > o.maxBytes) {
            throw new OutboundFailure('too-large', url.href, `is larger than the limit of ${o.maxBytes} bytes`);
          }
          yield chunk;
        }
      } catch (e) {
        throw e instanceof OutboundFailure ? e : failure(e, url);
      } finally {
        // Stopped early (limit, consumer gave up): close the connection rather than drain an unknown rest.
        if (!body.readableEnded) drop(body);
      }
    }
    return {
      url,
      status: res.statusCode,
      header: (name) => headerOf(res.headers, name),
      body: bytes(),
      discard: () => res.body.dump().catch(() => undefined),
    };
  }

  /** undici's and the connector's errors, in the client's terms. */
  function mapError(e: unknown, url: URL, o: GetOptions, total: AbortSignal | undefined): unknown {
    if (o.signal.aborted) return o.signal.reason ?? e;
    if (total?.aborted) {
      return new OutboundFailure('total-timeout', url.href, `did not finish within ${o.totalTimeoutMs} ms`, {
        cause: e,
      });
    }
    const blocked = findCause(e, (c): c is BlockedAddressError => c instanceof BlockedAddressError);
    if (blocked) {
      const { address, rule } = blocked.verdict;
      const why =
        address === blocked.host.replace(/^\[|\]$/g, '')
          ? `${address} is ${describeRule(rule)}; only public unicast addresses are reached`
          : `${blocked.host} resolves to ${address}, ${describeRule(rule)}; only public unicast addresses are reached`;
      return refuse(url, rule, why, address);
    }
    const code = findCause(
      e,
      (c): c is Error & { code: string } => typeof (c as { code?: unknown }).code === 'string',
    )?.code;
    if (code === 'UND_ERR_CONNECT_TIMEOUT') {
      return new OutboundFailure('connect-timeout', url.href, `could not connect within ${opts.connectTimeoutMs} ms`, {
        cause: e,
      });
    }
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      return new OutboundFailure('idle-timeout', url.href, `sent nothing for ${opts.idleTimeoutMs} ms`, { cause: e });
    }
    if (code === 'ENOTFOUND') {
      return new OutboundFailure('host-not-found', url.href, `names the unknown host ${url.hostname}`, { cause: e });
    }
    const what = (e as Error)?.message ?? String(e);
    return new OutboundFailure('network', url.href, `could not be fetched: ${what}${code ? ` (${code})` : ''}`, {
      cause: e,
    });
  }

  return {
    get: (url, o) => send(url, o),
    post: (url, o) => send(url, o, o.form),
    close: () => agent.close(),
  };
}

/** The URL as it may be shown in messages and dead letters: user and password removed. */
function withoutCredentials(url: URL): string {
  if (!url.username && !url.password) return url.href;
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

const SECRET_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

function withoutSecrets(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !SECRET_HEADERS.has(k.toLowerCase())));
}

/** Closes a body that will not be read; destroying it emits an abort error nobody waits for. */
function drop(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

function headerOf(headers: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : v;
}

function findCause<T>(e: unknown, is: (c: unknown) => c is T): T | undefined {
  for (let c = e, depth = 0; c && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    if (is(c)) return c;
  }
  return undefined;
}
