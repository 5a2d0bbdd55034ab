import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ListflowError, PermanentError } from '../errors';
import { createGuardedClient, type GuardedClient, type GuardedClientOptions, OutboundFailure } from './guarded-client';
import type { Resolver } from './guarded-connect';
import { TEST_TLS_CERT, TEST_TLS_KEY } from '../../test/fixtures/tls/test-cert';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** No real DNS in unit tests: names resolve from this table. */
const table: Record<string, string> = {
  localhost: '127.0.0.1',
  'feeds.test': '127.0.0.1',
  'internal.example': '10.1.2.3',
  'metadata.example': '169.254.169.254',
  'mapped.example': '::ffff:127.0.0.1',
  'public.example': '93.184.215.14',
};
const resolver: Resolver = async (host) => {
  const a = table[host];
  if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return [{ address: a, family: a.includes(':') ? 6 : 4 }];
};

const base: GuardedClientOptions = {
  allowHosts: [],
  allowSetting: 'LISTFLOW_TEST_ALLOW_HOSTS',
  blockedCode: 'INGEST_BLOCKED_URL',
  what: 'feed',
  connectTimeoutMs: 500,
  idleTimeoutMs: 300,
  maxRedirects: 2,
  resolver,
};
const signal = new AbortController().signal;
const get = { signal, maxBytes: 1024 };

async function refusal(p: Promise<unknown>): Promise<PermanentError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(PermanentError);
  return e as PermanentError;
}

async function failure(p: Promise<unknown>): Promise<OutboundFailure> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(OutboundFailure);
  return e as OutboundFailure;
}

async function text(body: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const b of body) parts.push(b);
  return Buffer.concat(parts).toString();
}

let server: Server;
let port: number;
const sockets = new Set<number>();
const hits: string[] = [];
const routes: Record<string, Handler> = {
  '/ok': (_q, r) => r.end('hello'),
  '/to-ok': (_q, r) => r.writeHead(302, { location: '/ok' }).end(),
  '/to-private': (_q, r) => r.writeHead(302, { location: 'http://10.0.0.1/x' }).end(),
  '/to-metadata-name': (_q, r) => r.writeHead(302, { location: 'http://metadata.example/latest/meta-data/' }).end(),
  '/to-file': (_q, r) => r.writeHead(302, { location: 'file:///etc/passwd' }).end(),
  '/big-declared': (_q, r) => r.writeHead(200, { 'content-length': '4096' }).end(Buffer.alloc(4096)),
  '/big-streamed': (_q, r) => {
    r.writeHead(200);
    r.write(Buffer.alloc(800));
    setTimeout(() => r.end(Buffer.alloc(800)), 10);
  },
  '/endless': (_q, r) => {
    r.writeHead(200);
    const t = setInterval(() => r.write(Buffer.alloc(100)), 5);
    r.on('close', () => clearInterval(t));
  },
  '/trickle': (_q, r) => {
    r.writeHead(200);
    r.write('a');
    // then nothing: the idle timeout must end it
  },
  '/slow-headers': () => {},
  '/drip': (_q, r) => {
    // A byte every 100 ms: never idle for the 300 ms idle timeout, stopped only by the total timeout.
    r.writeHead(200);
    const t = setInterval(() => r.write('x'), 100);
    r.on('close', () => clearInterval(t));
  },
};

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = (req.url ?? '/').replace(/\?.*$/, '');
    hits.push(path);
    sockets.add(req.socket.remotePort ?? 0);
    const loop = /^\/loop(\d*)$/.exec(path);
    if (loop) return void res.writeHead(302, { location: `/loop${Number(loop[1] || 0) + 1}` }).end();
    (routes[path] ?? ((_q, r) => r.writeHead(404).end()))(req, res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((ok) => server.close(ok));
});
beforeEach(() => {
  hits.length = 0;
});

const url = (path: string, host = '127.0.0.1') => `http://${host}:${port}${path}`;
const allowed = () => createGuardedClient({ ...base, allowHosts: [`127.0.0.1:${port}`, 'feeds.test'] });

describe('refused by default', () => {
  const client = createGuardedClient(base);
  afterAll(() => client.close());

  test.each([
    ['loopback literal', () => url('/ok'), '127.0.0.1', '127.0.0.1', 'loopback'],
    ['IPv6 loopback literal', () => `http://[::1]:${port}/ok`, '[::1]', '::1', 'loopback'],
    [
      'IPv4-mapped loopback literal',
      () => `http://[::ffff:127.0.0.1]:${port}/ok`,
      '[::ffff:7f00:1]',
      '::ffff:7f00:1',
      'ipv4Mapped',
    ],
    ['decimal loopback literal', () => `http://2130706433:${port}/ok`, '127.0.0.1', '127.0.0.1', 'loopback'],
    ['private literal', () => 'http://10.0.0.1/x', '10.0.0.1', '10.0.0.1', 'private'],
    [
      'cloud metadata literal',
      () => 'http://169.254.169.254/latest/meta-data/',
      '169.254.169.254',
      '169.254.169.254',
      'cloudMetadata',
    ],
    [
      'IPv6 metadata literal',
      () => 'http://[fd00:ec2::254]/latest/meta-data/',
      '[fd00:ec2::254]',
      'fd00:ec2::254',
      'cloudMetadata',
    ],
    ['name resolving to loopback', () => url('/ok', 'localhost'), 'localhost', '127.0.0.1', 'loopback'],
    [
      'name resolving to a private address',
      () => 'http://internal.example/x',
      'internal.example',
      '10.1.2.3',
      'private',
    ],
    [
      'name resolving to metadata',
      () => 'http://metadata.example/x',
      'metadata.example',
      '169.254.169.254',
      'cloudMetadata',
    ],
    [
      'name resolving to a mapped address',
      () => url('/ok', 'mapped.example'),
      'mapped.example',
      '::ffff:7f00:1',
      'ipv4Mapped',
    ],
  ])('%s', async (_name, make, host, address, rule) => {
    const e = await refusal(client.get(make(), get));
    expect(e.code).toBe('INGEST_BLOCKED_URL');
    expect(e.detail).toMatchObject({ host, address, rule });
    expect(e.message).toContain('only public unicast addresses are reached');
    expect(e.message).toContain('add ');
    expect(e.message).toContain('to LISTFLOW_TEST_ALLOW_HOSTS');
    expect(hits).toEqual([]);
  });

  test.each([
    ['ftp scheme', 'ftp://public.example/x', 'scheme'],
    ['file scheme', 'file:///etc/passwd', 'scheme'],
    ['credentials', 'http://user:pw@public.example/x', 'credentialsInUrl'],
    ['not a URL', 'feed.json', 'notAUrl'],
  ])('%s', async (_name, target, rule) => {
    expect((await refusal(client.get(target, get))).detail.rule).toBe(rule);
  });

  test('a refusal never shows the credentials of the URL', async () => {
    const e = await refusal(client.get('http://user:secret@public.example/x', get));
    expect(e.message).not.toContain('secret');
    expect(e.detail.url).toBe('http://public.example/x');
  });

  test('an unknown host is a failure, not a refusal', async () => {
    expect((await failure(client.get('http://nowhere.example/x', get))).reason).toBe('host-not-found');
  });
});

describe('allow list', () => {
  test('an allow-listed host:port is reached; the same server on another port or name is not', async () => {
    const client = allowed();
    const res = await client.get(url('/ok'), get);
    expect(res.status).toBe(200);
    expect(await text(res.body)).toBe('hello');
    const other = createGuardedClient({ ...base, allowHosts: [`127.0.0.1:${port + 1}`] });
    expect((await refusal(other.get(url('/ok'), get))).detail.rule).toBe('loopback');
    expect((await refusal(client.get(url('/ok', 'localhost'), get))).detail.rule).toBe('loopback');
    // a name on the list may resolve to loopback
    expect(await text((await client.get(url('/ok', 'feeds.test'), get)).body)).toBe('hello');
    await Promise.all([client.close(), other.close()]);
  });
});

describe('DNS rebinding', () => {
  test('the address connected to is the one checked: a second answer pointing at loopback is refused', async () => {
    let calls = 0;
    const rebinding: Resolver = async () =>
      // public first (as a check made before connecting would see), loopback on every later lookup
      calls++ === 0 ? [{ address: '93.184.215.14', family: 4 }] : [{ address: '127.0.0.1', family: 4 }];
    const client = createGuardedClient({ ...base, resolver: rebinding, connectTimeoutMs: 200 });
    // First request: the public answer is connected to (and fails: no network here), never loopback.
    const first = await client.get(url('/ok', 'rebind.example'), get).then(
      () => 'reached',
      (e: unknown) => e,
    );
    expect(first).not.toBe('reached');
    const second = await refusal(client.get(url('/ok', 'rebind.example'), get));
    expect(second.detail).toMatchObject({ host: 'rebind.example', address: '127.0.0.1', rule: 'loopback' });
    expect(hits).toEqual([]);
    await client.close();
  });

  test('one non-public address among several refuses the name', async () => {
    const mixed: Resolver = async () => [
      { address: '93.184.215.14', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ];
    const client = createGuardedClient({ ...base, resolver: mixed });
    expect((await refusal(client.get(url('/ok', 'mixed.example'), get))).detail.address).toBe('127.0.0.1');
    await client.close();
  });
});

describe('redirects', () => {
  let client: GuardedClient;
  beforeAll(() => {
    client = allowed();
  });
  afterAll(() => client.close());

  test('follows a redirect and reports where the answer came from', async () => {
    const res = await client.get(url('/to-ok'), get);
    expect(res.url.pathname).toBe('/ok');
    expect(await text(res.body)).toBe('hello');
  });

  test.each([
    ['/to-private', '10.0.0.1', 'private'],
    ['/to-metadata-name', '169.254.169.254', 'cloudMetadata'],
    ['/to-file', '', 'scheme'],
  ])('every hop is checked: %s is refused', async (path, address, rule) => {
    const e = await refusal(client.get(url(path), get));
    expect(e.detail).toMatchObject({ address, rule });
    expect(hits).toEqual([path]);
  });

  test('credentials sent to one origin do not follow a redirect to another', async () => {
    const seen: Array<string | undefined> = [];
    routes['/to-feeds-test'] = (q, r) => {
      seen.push(q.headers.authorization);
      r.writeHead(302, { location: url('/echo-auth', 'feeds.test') }).end();
    };
    routes['/echo-auth'] = (q, r) => {
      seen.push(q.headers.authorization);
      r.end('ok');
    };
    const res = await client.get(url('/to-feeds-test'), { ...get, headers: { Authorization: 'Bearer t' } });
    await text(res.body);
    expect(seen).toEqual(['Bearer t', undefined]);
  });

  test('stops at the redirect limit', async () => {
    const e = await failure(client.get(url('/loop'), get));
    expect(e.reason).toBe('too-many-redirects');
    expect(e.message).toBe('redirected more than 2 times');
    expect(hits).toEqual(['/loop', '/loop1', '/loop2']);
  });

  test('an https to http downgrade is refused, even to an allow-listed host', async () => {
    const tls = createTlsServer({ key: TEST_TLS_KEY, cert: TEST_TLS_CERT }, (_q, r) =>
      r.writeHead(302, { location: url('/ok') }).end(),
    );
    await new Promise<void>((ok) => tls.listen(0, '127.0.0.1', ok));
    const tlsPort = (tls.address() as AddressInfo).port;
    const c = createGuardedClient({
      ...base,
      allowHosts: [`127.0.0.1:${port}`, `127.0.0.1:${tlsPort}`],
      ca: TEST_TLS_CERT,
    });
    try {
      const e = await refusal(c.get(`https://127.0.0.1:${tlsPort}/feed`, get));
      expect(e.detail.rule).toBe('httpsDowngrade');
      expect(hits).toEqual([]);
    } finally {
      await c.close();
      tls.closeAllConnections();
      await new Promise((ok) => tls.close(ok));
    }
  });
});

describe('origin policy (sameOriginAs)', () => {
  const first = new URL('https://api.example.com/Property');
  test('another origin is refused unless its host is allow-listed', async () => {
    const client = createGuardedClient(base);
    const e = await refusal(client.get('https://elsewhere.example/Property?$skip=2', { ...get, sameOriginAs: first }));
    expect(e.detail.rule).toBe('otherOrigin');
    expect(e.message).toContain('leaves the origin https://api.example.com of the first page');
    // the same host on http is another origin too
    expect((await refusal(client.get('http://api.example.com/x', { ...get, sameOriginAs: first }))).detail.rule).toBe(
      'otherOrigin',
    );
    await client.close();
    const open = allowed();
    const res = await open.get(url('/ok'), { ...get, sameOriginAs: first });
    expect(await text(res.body)).toBe('hello');
    await open.close();
  });
});

describe('limits', () => {
  let client: GuardedClient;
  beforeAll(() => {
    client = allowed();
  });
  afterAll(() => client.close());

  test('a Content-Length over the byte limit fails before reading', async () => {
    const e = await failure(client.get(url('/big-declared'), get));
    expect(e.reason).toBe('too-large');
    expect(e.message).toBe('announces 4096 bytes, more than the limit of 1024');
  });

  test.each(['/big-streamed', '/endless'])('%s: the byte limit stops the stream', async (path) => {
    const res = await client.get(url(path), get);
    const e = await failure(text(res.body));
    expect(e.reason).toBe('too-large');
  });

  test('a server that stops sending is an idle timeout', async () => {
    const res = await client.get(url('/trickle'), get);
    expect((await failure(text(res.body))).reason).toBe('idle-timeout');
    expect((await failure(client.get(url('/slow-headers'), get))).reason).toBe('idle-timeout');
  });

  test('the total timeout covers reading the body', async () => {
    const res = await client.get(url('/drip'), { ...get, totalTimeoutMs: 600 });
    const e = await failure(text(res.body));
    expect(e.reason).toBe('total-timeout');
    expect(e.message).toBe('did not finish within 600 ms');
  });

  test("the caller's abort rejects with its reason, not a failure", async () => {
    const ac = new AbortController();
    const p = client.get(url('/slow-headers'), { ...get, signal: ac.signal });
    setTimeout(() => ac.abort(new DOMException('deadline', 'TimeoutError')), 20);
    const e = await p.catch((x: unknown) => x);
    expect(e).not.toBeInstanceOf(ListflowError);
    expect(e).not.toBeInstanceOf(OutboundFailure);
    expect((e as Error).name).toBe('TimeoutError');
  });
});

describe('keep-alive', () => {
  test('requests to one origin share a connection', async () => {
    const client = allowed();
    sockets.clear();
    for (let i = 0; i < 10; i++) await text((await client.get(url('/ok'), get)).body);
    expect(hits).toHaveLength(10);
    // A request sent the moment the previous body ends may open a second connection before the first is
    // back in the pool; without keep-alive there would be ten.
    expect(sockets.size).toBeLessThanOrEqual(2);
    await client.close();
  });
});

describe('post (a form, for token endpoints)', () => {
  let client: GuardedClient;
  const seen: Array<{ method?: string; path: string; type?: string; body: string }> = [];
  const record = (q: IncomingMessage, r: ServerResponse, then: () => void) => {
    let body = '';
    q.on('data', (c: Buffer) => {
      body += c.toString();
    });
    q.on('end', () => {
      seen.push({ method: q.method, path: q.url ?? '', type: q.headers['content-type'], body });
      then();
    });
    void r;
  };
  beforeAll(() => {
    client = allowed();
    routes['/token'] = (q, r) => record(q, r, () => r.end('{"access_token":"t"}'));
    routes['/token-303'] = (q, r) => record(q, r, () => r.writeHead(303, { location: '/token' }).end());
    routes['/token-307'] = (q, r) => record(q, r, () => r.writeHead(307, { location: '/token' }).end());
    routes['/token-307-away'] = (q, r) =>
      record(q, r, () => r.writeHead(307, { location: url('/token', 'feeds.test') }).end());
  });
  afterAll(() => client.close());
  beforeEach(() => {
    seen.length = 0;
  });
  const form = { grant_type: 'client_credentials', client_id: 'id', client_secret: 's&e=c' };

  test('sends the form url-encoded', async () => {
    const res = await client.post(url('/token'), { ...get, form });
    expect(await text(res.body)).toBe('{"access_token":"t"}');
    expect(seen).toEqual([
      {
        method: 'POST',
        path: '/token',
        type: 'application/x-www-form-urlencoded',
        body: 'grant_type=client_credentials&client_id=id&client_secret=s%26e%3Dc',
      },
    ]);
  });

  test.each([
    ['/token-303', 'GET', ''],
    ['/token-307', 'POST', 'grant_type=client_credentials&client_id=id&client_secret=s%26e%3Dc'],
  ])('a %s redirect is followed with %s', async (path, method, body) => {
    await text((await client.post(url(path), { ...get, form })).body);
    expect(seen[1]).toMatchObject({ method, path: '/token', body });
  });

  test('a 307 to another origin is refused: the body carries client credentials', async () => {
    const e = await refusal(client.post(url('/token-307-away'), { ...get, form }));
    expect(e.detail.rule).toBe('postToOtherOrigin');
    expect(seen).toHaveLength(1);
  });

  test('the address policy applies to a POST too', async () => {
    const strict = createGuardedClient(base);
    const e = await refusal(strict.post(url('/token'), { ...get, form }));
    expect(e.detail).toMatchObject({ address: '127.0.0.1', rule: 'loopback' });
    expect(seen).toEqual([]);
    await strict.close();
  });
});
