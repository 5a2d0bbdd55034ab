/**
 * The project's RESO Web API test server, on loopback (node:http): one or more sources, each a dataset
 * (dataset.ts) behind its own quirks (quirks.ts), at
 *   POST /<source>/token          OAuth2 client credentials (expiring tokens; 401 once expired)
 *   GET  /<source>/Property       the OData resource ($filter, $orderby, $top, $skip, $skiptoken, $select, $expand, $count)
 *   GET  /<source>/Media          Media as its own resource, when the quirks say so (media-resource.ts)
 *   GET  /<source>/media/<id>.jpg photo bytes (signed, expiring URLs when the source signs)
 * Every request is logged (`log`), so a test can assert "a quiet poll makes exactly one request", and
 * faults (503, 429 with Retry-After, connection resets) can be scheduled or injected.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResoDataset } from './dataset';
import type { PropertyRecord } from './dataset';
import { filterOrdered, ODataError, orderRecords, type ParsedQuery, parseQuery, shape } from './odata';
import { mediaResourcePage } from './media-resource';
import type { Fault, ResoQuirks } from './quirks';

export interface LoggedRequest {
  readonly source: string;
  readonly kind: 'resource' | 'token' | 'media' | 'other';
  readonly method: string;
  /** Path and query exactly as received. */
  readonly target: string;
  readonly status: number | 'reset';
  readonly at: number;
  /**
   * The bearer token the request carried (resource requests), so a test can tell pollers apart: every
   * OAuth2 client gets its own token.
   */
  readonly token?: string;
}

export interface ResoSourceDefinition {
  readonly name: string;
  readonly dataset: ResoDataset;
  readonly quirks: ResoQuirks;
}

export interface ResoSourceHandle {
  readonly name: string;
  readonly resourceUrl: string;
  readonly tokenUrl: string;
  readonly dataset: ResoDataset;
  quirks: ResoQuirks;
  /** Every issued token expires now: the next request with one answers 401. */
  expireTokens(): void;
  /** Faults for the next resource requests, in order, before the quirks' schedule. */
  injectFaults(...faults: Fault[]): void;
  /** Resource requests so far. */
  requests(): number;
  /** Tokens issued so far. */
  tokensIssued(): number;
}

export interface ResoServer {
  readonly url: string;
  readonly log: LoggedRequest[];
  source(name: string): ResoSourceHandle;
  close(): Promise<void>;
}

export interface ResoServerOptions {
  readonly sources: readonly ResoSourceDefinition[];
  /** The server's clock (token expiry, idle links, rate limit, signed URLs); default Date.now. */
  readonly now?: () => number;
  readonly port?: number;
  /**
   * Photo bytes to serve (e.g. the files of samples' writeSamplePhotos), chosen by the photo's path and
   * version, so a changed photo gets other bytes; without them a photo is a few placeholder bytes.
   */
  readonly photoBytes?: readonly Buffer[];
}

interface SkipToken {
  readonly params: URLSearchParams;
  readonly keys: readonly string[];
  readonly count: number;
  lastUsed: number;
}

/**
 * Ordered results of one dataset version: all records per $orderby, and matches per ($filter, $orderby), so a
 * pass paging one query by $skip sorts and filters once, and a cursor-paged pass (a new filter per page) only
 * filters. Dropped as a whole when the dataset changes.
 */
interface QueryCache {
  version: number;
  readonly ordered: Map<string, PropertyRecord[]>;
  readonly matches: Map<string, PropertyRecord[]>;
}

const MAX_CACHED_MATCHES = 16;

interface SourceState {
  readonly handle: ResoSourceHandle;
  readonly cache: QueryCache;
  readonly tokens: Map<string, number>;
  readonly skipTokens: Map<string, SkipToken>;
  readonly injected: Fault[];
  readonly recent: number[];
  requests: number;
  issued: number;
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(text);
};

export async function startResoServer(o: ResoServerOptions): Promise<ResoServer> {
  const now = o.now ?? Date.now;
  const secret = randomBytes(16).toString('hex');
  const log: LoggedRequest[] = [];
  const states = new Map<string, SourceState>();
  let base = '';

  const sign = (path: string, exp: number) =>
    createHmac('sha256', secret).update(`${path}|${exp}`).digest('hex').slice(0, 32);

  function mediaUrl(s: SourceState, path: string): string {
    const url = new URL(`${base}/${s.handle.name}${path}`);
    const ttl = s.handle.quirks.signedMediaTtlMs;
    if (ttl !== undefined) {
      const exp = now() + ttl;
      url.searchParams.set('exp', String(exp));
      url.searchParams.set('sig', sign(url.pathname, exp));
    }
    return url.href;
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const [, name, ...rest] = url.pathname.split('/');
    const s = states.get(name ?? '');
    const what = rest.join('/');
    const kind: LoggedRequest['kind'] = !s
      ? 'other'
      : what === 'token'
        ? 'token'
        : what === 'Property' || (what === 'Media' && s.handle.quirks.mediaResource)
          ? 'resource'
          : what.startsWith('media/')
            ? 'media'
            : 'other';
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const entry = {
      source: name ?? '',
      kind,
      method: req.method ?? '',
      target: req.url ?? '',
      at: now(),
      ...(bearer === undefined ? {} : { token: bearer }),
    };
    res.on('finish', () => log.push({ ...entry, status: res.statusCode }));
    if (!s) return json(res, 404, { error: { code: 'NotFound', message: 'No such source.' } });
    if (kind === 'token') return token(s, req, res);
    if (kind === 'media') return media(s, url, res);
    if (kind !== 'resource') return json(res, 404, { error: { code: 'NotFound', message: `No resource ${what}.` } });
    if (req.method !== 'GET') return json(res, 405, { error: { code: 'MethodNotAllowed', message: 'GET only.' } });
    s.requests++;
    const fault = s.injected.shift() ?? s.handle.quirks.faults?.(s.requests);
    if (fault?.kind === 'reset') {
      log.push({ ...entry, status: 'reset' });
      req.socket.destroy();
      return;
    }
    if (fault) {
      return json(
        res,
        Number(fault.kind),
        {
          error: { code: fault.kind === '429' ? 'TooManyRequests' : 'ServiceUnavailable', message: 'Injected fault.' },
        },
        fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) },
      );
    }
    if (!authorized(s, req.headers.authorization)) {
      return json(
        res,
        401,
        { error: { code: 'Unauthorized', message: 'Missing, unknown or expired token.' } },
        { 'www-authenticate': 'Bearer' },
      );
    }
    const limit = s.handle.quirks.rateLimitPerSecond;
    if (limit !== undefined) {
      const t = now();
      while (s.recent.length > 0 && s.recent[0]! <= t - 1000) s.recent.shift();
      if (s.recent.length >= limit) {
        return json(
          res,
          429,
          { error: { code: 'TooManyRequests', message: 'Rate limit exceeded.' } },
          {
            'retry-after': String(s.handle.quirks.rateLimitRetryAfterSeconds ?? 1),
          },
        );
      }
      s.recent.push(t);
    }
    try {
      const body =
        what === 'Media'
          ? mediaResourcePage(
              s.handle.dataset,
              url.searchParams,
              s.handle.quirks,
              `${base}/${s.handle.name}/Media`,
              (p) => mediaUrl(s, p),
            )
          : page(s, url.searchParams);
      json(res, 200, body);
    } catch (e) {
      if (e instanceof ODataError) return json(res, e.status, e.body());
      throw e;
    }
  });

  function authorized(s: SourceState, header: string | undefined): boolean {
    const m = /^Bearer (.+)$/.exec(header ?? '');
    if (!m) return false;
    const auth = s.handle.quirks.auth;
    if (auth.kind === 'bearer') return m[1] === auth.token;
    const exp = s.tokens.get(m[1]!);
    return exp !== undefined && now() < exp;
  }

  function token(s: SourceState, req: IncomingMessage, res: ServerResponse): void {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const auth = s.handle.quirks.auth;
      const form = new URLSearchParams(body);
      if (req.method !== 'POST' || auth.kind !== 'oauth2') return json(res, 405, { error: 'unsupported' });
      if (form.get('grant_type') !== 'client_credentials') return json(res, 400, { error: 'unsupported_grant_type' });
      if (form.get('client_id') !== auth.clientId || form.get('client_secret') !== auth.clientSecret) {
        return json(res, 401, { error: 'invalid_client' });
      }
      const t = randomBytes(12).toString('hex');
      s.tokens.set(t, now() + auth.tokenTtlSeconds * 1000);
      s.issued++;
      json(res, 200, { access_token: t, token_type: 'Bearer', expires_in: auth.tokenTtlSeconds });
    });
  }

  function media(s: SourceState, url: URL, res: ServerResponse): void {
    if (s.handle.quirks.signedMediaTtlMs !== undefined) {
      const exp = Number(url.searchParams.get('exp'));
      if (url.searchParams.get('sig') !== sign(url.pathname, exp) || now() > exp) {
        json(res, 403, { error: { code: 'Forbidden', message: 'Expired or invalid signature.' } });
        return;
      }
    }
    const id = `${url.pathname}|${url.searchParams.get('v') ?? ''}`;
    const photos = o.photoBytes ?? [];
    if (photos.length === 0) {
      res.writeHead(200, { 'content-type': 'image/jpeg' }).end(Buffer.from(`photo ${id}`));
      return;
    }
    const bytes = photos[createHmac('sha256', 'photo').update(id).digest().readUInt32BE(0) % photos.length]!;
    // The images step sniffs the bytes; the type only has to be plausible.
    const type = bytes[0] === 0x89 ? 'image/png' : 'image/jpeg';
    res.writeHead(200, { 'content-type': type, 'content-length': String(bytes.length) }).end(bytes);
  }

  function page(s: SourceState, params: URLSearchParams): Record<string, unknown> {
    const quirks = s.handle.quirks;
    const dataset = s.handle.dataset;
    let q: ParsedQuery;
    let ordered: PropertyRecord[];
    let count: number;
    let offset: number;
    const tokenId = params.get('$skiptoken');
    if (tokenId !== null) {
      const st = s.skipTokens.get(tokenId);
      if (!st || (quirks.nextLinkIdleMs !== undefined && now() - st.lastUsed > quirks.nextLinkIdleMs)) {
        s.skipTokens.delete(tokenId);
        throw new ODataError(410, 'Gone', 'The skiptoken has expired; query again.');
      }
      st.lastUsed = now();
      q = parseQuery(st.params, quirks);
      offset = Number(tokenId.split('.')[1]);
      ordered = st.keys.map((k) => dataset.records.get(k)).filter((r) => r !== undefined);
      count = st.count;
    } else {
      q = parseQuery(params, quirks);
      ordered = cachedQuery(s, q, params);
      count = ordered.length;
      offset = q.skip;
    }
    const rows = ordered.slice(offset, offset + q.top);
    const more = quirks.emptyFinalPage ? rows.length > 0 : offset + rows.length < ordered.length;
    const out: Record<string, unknown> = {
      '@odata.context': `${base}/${s.handle.name}/$metadata#Property`,
      ...(q.count ? { '@odata.count': count } : {}),
      value: rows.map((r) => shape(r, q, (p) => mediaUrl(s, p))),
    };
    if (more) out['@odata.nextLink'] = nextLink(s, params, tokenId, ordered, count, offset + rows.length);
    return out;
  }

  function cachedQuery(s: SourceState, q: ParsedQuery, params: URLSearchParams): PropertyRecord[] {
    const dataset = s.handle.dataset;
    const c = s.cache;
    if (c.version !== dataset.version) {
      c.version = dataset.version;
      c.ordered.clear();
      c.matches.clear();
    }
    const orderKey = params.get('$orderby') ?? '';
    const matchKey = `${params.get('$filter') ?? ''}\n${orderKey}`;
    const hit = c.matches.get(matchKey);
    if (hit) return hit;
    let all = c.ordered.get(orderKey);
    if (!all) {
      all = orderRecords(dataset.records.values(), q.orderBy);
      c.ordered.set(orderKey, all);
    }
    const out = filterOrdered(all, q);
    if (c.matches.size >= MAX_CACHED_MATCHES) c.matches.delete(c.matches.keys().next().value!);
    c.matches.set(matchKey, out);
    return out;
  }

  function nextLink(
    s: SourceState,
    params: URLSearchParams,
    tokenId: string | null,
    ordered: ReadonlyArray<{ ListingKey: string }>,
    count: number,
    next: number,
  ): string {
    let query: string;
    if (s.handle.quirks.paging === 'skiptoken') {
      const prior = tokenId === null ? undefined : s.skipTokens.get(tokenId);
      const id = `${randomBytes(6).toString('hex')}.${next}`;
      s.skipTokens.set(id, {
        params: prior?.params ?? params,
        keys: prior?.keys ?? ordered.map((r) => r.ListingKey),
        count: prior?.count ?? count,
        lastUsed: now(),
      });
      query = `$skiptoken=${encodeURIComponent(id)}`;
    } else {
      const copy = new URLSearchParams(params);
      copy.set('$skip', String(next));
      query = [...copy].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
    }
    if (s.handle.quirks.doubleEncodedNextLink) query = query.replaceAll('%', '%25');
    return `${base}/${s.handle.name}/Property?${query}`;
  }

  await new Promise<void>((ok) => server.listen(o.port ?? 0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (const d of o.sources) {
    const state: SourceState = {
      cache: { version: -1, ordered: new Map(), matches: new Map() },
      tokens: new Map(),
      skipTokens: new Map(),
      injected: [],
      recent: [],
      requests: 0,
      issued: 0,
      handle: {
        name: d.name,
        resourceUrl: `${base}/${d.name}/Property`,
        tokenUrl: `${base}/${d.name}/token`,
        dataset: d.dataset,
        quirks: d.quirks,
        expireTokens: () => {
          for (const k of state.tokens.keys()) state.tokens.set(k, 0);
        },
        injectFaults: (...f) => {
          state.injected.push(...f);
        },
        requests: () => state.requests,
        tokensIssued: () => state.issued,
      },
    };
    states.set(d.name, state);
  }
  return {
    url: base,
    log,
    source: (name) => {
      const s = states.get(name);
      if (!s) throw new Error(`no source ${name}`);
      return s.handle;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
