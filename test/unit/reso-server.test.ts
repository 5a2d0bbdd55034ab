/** The project's RESO Web API test server: each quirk, switched on and off, as a client sees it. */
import { type GuardedClient, OutboundFailure } from '../../runtime/http/guarded-client';
import { PRESETS, ResoDataset, type ResoQuirks, type ResoServer, startResoServer } from '../support/reso-server';
import { localGuardedClient } from '../support/reso-clients';

let clock = Date.UTC(2026, 1, 1);
let server: ResoServer;
let http: GuardedClient;
const signal = new AbortController().signal;

const plain: ResoQuirks = { ...PRESETS.plain, defaultTop: 5, maxTop: 10 };
const sources: Record<string, ResoQuirks> = {
  plain,
  mlsgrid: { ...PRESETS.mlsgrid, rateLimitPerSecond: undefined },
  trestle: { ...PRESETS.trestle, defaultTop: 4 },
  spark: PRESETS.spark,
  proptx: PRESETS.proptx,
  limited: { ...plain, rateLimitPerSecond: 2, rateLimitRetryAfterSeconds: 3 },
  lacking: { ...plain, refuseCount: true, refuseDescending: true },
};

beforeAll(async () => {
  server = await startResoServer({
    now: () => clock,
    sources: Object.entries(sources).map(([name, quirks], i) => ({
      name,
      quirks,
      dataset: new ResoDataset({
        seed: 7 + i,
        count: 20,
        tieSize: 7,
        deletes: quirks.deletes,
        photoChangeBumpsModification: quirks.photoChangeBumpsModification,
        originatingSystem: 'listflow',
      }),
    })),
  });
  http = localGuardedClient(server.url, { what: 'page' });
});
afterAll(async () => {
  await http.close();
  await server.close();
});

interface Answer {
  status: number;
  body: Record<string, unknown> & { value?: Array<Record<string, unknown>>; error?: { code: string; message: string } };
  retryAfter?: string;
}

async function get(source: string, query: string, token: string | null = 'local-token'): Promise<Answer> {
  const url = query.startsWith('http') ? query : `${server.url}/${source}/Property${query ? `?${query}` : ''}`;
  const res = await http.get(url, {
    signal,
    maxBytes: 1 << 22,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const parts: Buffer[] = [];
  for await (const b of res.body) parts.push(b);
  return {
    status: res.status,
    body: JSON.parse(Buffer.concat(parts).toString()),
    retryAfter: res.header('retry-after'),
  };
}

async function oauthToken(source: string, secret = 'local-secret'): Promise<{ status: number; token?: string }> {
  const res = await http.post(`${server.url}/${source}/token`, {
    signal,
    maxBytes: 4096,
    form: { grant_type: 'client_credentials', client_id: 'listflow', client_secret: secret },
  });
  const parts: Buffer[] = [];
  for await (const b of res.body) parts.push(b);
  const body = JSON.parse(Buffer.concat(parts).toString()) as { access_token?: string };
  return { status: res.status, token: body.access_token };
}

const q = (params: Record<string, string>) =>
  Object.entries(params)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join('&');
const mlsFilter = (extra = '') => `OriginatingSystemName eq 'listflow'${extra}`;

describe('auth', () => {
  test.each<[string, string, string | null, number]>([
    ['no token', 'plain', null, 401],
    ['a wrong static token', 'plain', 'nope', 401],
    ['the static token', 'plain', 'local-token', 200],
    ['a static token on an OAuth2 source', 'trestle', 'local-token', 401],
  ])('%s (%s, token %p) answers %i', async (_what, source, token, status) => {
    expect((await get(source, '', token)).status).toBe(status);
  });

  test('OAuth2: a wrong secret is refused; a token works until it expires', async () => {
    expect((await oauthToken('trestle', 'wrong')).status).toBe(401);
    const { status, token } = await oauthToken('trestle');
    expect(status).toBe(200);
    expect((await get('trestle', '', token!)).status).toBe(200);
    clock += PRESETS.trestle.auth.tokenTtlSeconds * 1000;
    expect((await get('trestle', '', token!)).status).toBe(401);
    const fresh = (await oauthToken('trestle')).token!;
    expect((await get('trestle', '', fresh)).status).toBe(200);
    server.source('trestle').expireTokens();
    expect((await get('trestle', '', fresh)).status).toBe(401);
  });
});

describe('strict queries: 400 with an OData error body', () => {
  test.each<[string, string, string, string]>([
    ['a filter outside the subset', 'plain', q({ $filter: "contains(City,'x')" }), 'Invalid $filter'],
    ['an unknown option', 'plain', q({ $search: 'x' }), 'The query option $search is not supported.'],
    ['$top over the maximum', 'plain', q({ $top: '11' }), '$top 11 is over the maximum 10.'],
    [
      '$top over the maximum with $expand (MLS Grid)',
      'mlsgrid',
      q({ $filter: mlsFilter(), $top: '1001', $expand: 'Media' }),
      'over the maximum 1000 with $expand',
    ],
    [
      'no OriginatingSystemName (MLS Grid)',
      'mlsgrid',
      q({ $filter: 'MlgCanView eq true' }),
      "Every query must filter OriginatingSystemName eq 'listflow'.",
    ],
    [
      'ListingKey where ties cannot break by key',
      'mlsgrid',
      q({ $filter: mlsFilter(" and ListingKey gt 'a'") }),
      'ListingKey is not filterable',
    ],
    [
      'ordering by ListingKey there',
      'mlsgrid',
      q({ $filter: mlsFilter(), $orderby: 'ModificationTimestamp asc,ListingKey asc' }),
      'Cannot order by ListingKey',
    ],
    [
      'a field MLS Grid does not filter',
      'mlsgrid',
      q({ $filter: mlsFilter(" and City eq 'Boston'") }),
      'City is not filterable.',
    ],
    [
      'six ors (MLS Grid allows 5)',
      'mlsgrid',
      q({ $filter: mlsFilter(` and (${Array.from({ length: 7 }, (_, i) => `ListingId eq 'x${i}'`).join(' or ')})`) }),
      'At most 5 or operators',
    ],
    ['expanding something else', 'plain', q({ $expand: 'Rooms' }), 'only Media'],
    ['$count where the server has none', 'lacking', q({ $count: 'true' }), '$count is not supported.'],
    [
      'descending order where the server has none',
      'lacking',
      q({ $orderby: 'ModificationTimestamp desc' }),
      'Descending order is not supported.',
    ],
  ])('%s', async (_what, source, query, message) => {
    const token = sources[source]!.auth.kind === 'oauth2' ? (await oauthToken(source)).token! : 'local-token';
    const a = await get(source, query, token);
    expect(a.status).toBe(400);
    expect(a.body.error?.code).toBe('BadRequest');
    expect(a.body.error?.message).toContain(message);
  });
});

describe('pages', () => {
  test('microsecond timestamps, ties across a page boundary, $count, $skip nextLinks', async () => {
    const first = await get('plain', q({ $orderby: 'ModificationTimestamp asc,ListingKey asc', $count: 'true' }));
    expect(first.body['@odata.count']).toBe(20);
    const rows = first.body.value!;
    expect(rows).toHaveLength(5);
    expect(rows[0]!.ModificationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const second = await get('plain', first.body['@odata.nextLink'] as string);
    // 7 records per timestamp: the tie runs across the boundary of pages of 5.
    expect(second.body.value![0]!.ModificationTimestamp).toBe(rows[4]!.ModificationTimestamp);
    expect(new URL(first.body['@odata.nextLink'] as string).searchParams.get('$skip')).toBe('5');
  });

  test('the last page has no nextLink; Trestle sends one until an empty page', async () => {
    const last = await get('plain', q({ $skip: '15' }));
    expect(last.body.value).toHaveLength(5);
    expect(last.body['@odata.nextLink']).toBeUndefined();
    const token = (await oauthToken('trestle')).token!;
    let url = `${server.url}/trestle/Property`;
    const sizes: number[] = [];
    for (;;) {
      const a = await get('trestle', url, token);
      sizes.push(a.body.value!.length);
      if (!a.body['@odata.nextLink']) break;
      url = a.body['@odata.nextLink'] as string;
    }
    expect(sizes).toEqual([4, 4, 4, 4, 4, 0]);
  });

  test('MLS Grid v1 nextLinks are double-encoded: used as sent they fail, decoded once they work', async () => {
    const token = (await oauthToken('mlsgrid')).token!;
    const first = await get('mlsgrid', q({ $filter: mlsFilter(), $top: '5' }), token);
    const link = first.body['@odata.nextLink'] as string;
    expect(link).toContain('%2520');
    expect((await get('mlsgrid', link, token)).status).toBe(400);
    const decoded = await get('mlsgrid', link.replace(/%25([0-9A-F]{2})/gi, '%$1'), token);
    expect(decoded.status).toBe(200);
    expect(decoded.body.value).toHaveLength(5);
  });

  test('a skiptoken idle past its limit answers 410', async () => {
    const token = (await oauthToken('trestle')).token!;
    const first = await get('trestle', '', token);
    const link = first.body['@odata.nextLink'] as string;
    expect(new URL(link).searchParams.get('$skiptoken')).toBeTruthy();
    clock += 300_001;
    expect((await get('trestle', link, token)).status).toBe(410);
  });

  test('$select projects; Media only with $expand, with URLs', async () => {
    const [bare] = (await get('plain', q({ $select: 'ListingKey,ListPrice', $top: '1' }))).body.value!;
    expect(Object.keys(bare!).sort()).toEqual(['ListPrice', 'ListingKey']);
    const [full] = (await get('plain', q({ $top: '1' }))).body.value!;
    expect(full!.Media).toBeUndefined();
    const [expanded] = (await get('plain', q({ $top: '1', $expand: 'Media' }))).body.value!;
    const media = expanded!.Media as Array<Record<string, unknown>>;
    expect(media[0]).toMatchObject({
      MediaKey: expect.any(String),
      MediaModificationTimestamp: expect.any(String),
      MediaURL: expect.stringContaining('/plain/media/'),
    });
  });
});

describe('limits and faults', () => {
  test('a rate limit answers 429 with Retry-After', async () => {
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push(await get('limited', ''));
    expect(statuses.map((s) => s.status)).toEqual([200, 200, 429]);
    expect(statuses[2]!.retryAfter).toBe('3');
    clock += 1000;
    expect((await get('limited', '')).status).toBe(200);
  });

  test('injected faults: 503, 429 with Retry-After, a reset', async () => {
    server.source('plain').injectFaults({ kind: '503' }, { kind: '429', retryAfterSeconds: 7 }, { kind: 'reset' });
    expect((await get('plain', '')).status).toBe(503);
    const limited = await get('plain', '');
    expect([limited.status, limited.retryAfter]).toEqual([429, '7']);
    await expect(get('plain', '')).rejects.toBeInstanceOf(OutboundFailure);
    expect((await get('plain', '')).status).toBe(200);
    expect(server.log.filter((e) => e.source === 'plain').at(-2)!.status).toBe('reset');
  });
});

describe('changes and how they show', () => {
  const newest = async (source: string, token: string, extra = '') => {
    const f = source === 'mlsgrid' ? mlsFilter(extra) : extra.replace(/^ and /, '');
    const a = await get(
      source,
      q({ ...(f ? { $filter: f } : {}), $orderby: 'ModificationTimestamp desc', $top: '1', $expand: 'Media' }),
      token,
    );
    return a.body.value![0]!;
  };
  test.each<[string, string, Record<string, unknown> | undefined]>([
    ['a delete by flag (MLS Grid)', 'mlsgrid', { MlgCanView: false }],
    ['a delete by status', 'plain', { StandardStatus: 'Delete' }],
    ['a delete by disappearing (Spark)', 'spark', undefined],
  ])('%s', async (_what, source, expected) => {
    const token = sources[source]!.auth.kind === 'oauth2' ? (await oauthToken(source)).token! : 'local-token';
    const d = server.source(source).dataset;
    const key = d.liveKeys()[3]!;
    d.remove(key);
    const rec = await newest(source, token);
    if (expected) expect(rec).toMatchObject({ ListingKey: key, ...expected });
    else {
      expect(rec.ListingKey).not.toBe(key);
      expect(d.records.has(key)).toBe(false);
    }
    expect(d.truth().has(key)).toBe(false);
  });

  test('a photo change bumps ModificationTimestamp, except on PropTx', async () => {
    for (const [source, bumps] of [
      ['plain', true],
      ['proptx', false],
    ] as const) {
      const d = server.source(source).dataset;
      const key = d.liveKeys()[0]!;
      const before = d.records.get(key)!.ModificationTimestamp;
      d.changePhotos(key, { replace: true });
      const r = d.records.get(key)!;
      expect(r.PhotosChangeTimestamp > before).toBe(true);
      expect(r.ModificationTimestamp !== before).toBe(bumps);
      expect(r.Media[0]!.MediaModificationTimestamp).toBe(r.PhotosChangeTimestamp);
    }
  });

  test('changes at one instant share a timestamp; new listings come after', async () => {
    const d = server.source('plain').dataset;
    const [a, b] = d.liveKeys();
    const at = d.atOneInstant(() => {
      d.changePrice(a!, 123);
      d.changeStatus(b!, 'Pending');
    });
    expect([d.records.get(a!)!.ModificationTimestamp, d.records.get(b!)!.ModificationTimestamp]).toEqual([at, at]);
    const added = d.addListing();
    expect(d.records.get(added)!.ModificationTimestamp > at).toBe(true);
    expect(d.truth().get(a!)).toMatchObject({ ListPrice: 123 });
  });

  // The server caches a query's ordered result per dataset version: the same query asked again after each
  // kind of change must see it (a stale cache would answer the old order).
  test.each<[string, string, (d: ResoDataset, key: string) => string | undefined]>([
    [
      'a price change makes the record the newest',
      'plain',
      (d, k) => {
        d.changePrice(k, 99);
        return k;
      },
    ],
    [
      'a photo change moves it',
      'plain',
      (d, k) => {
        d.changePhotos(k, { add: 1 });
        return k;
      },
    ],
    ['a new listing comes first', 'plain', (d) => d.addListing()],
    [
      'a purge delete drops it',
      'spark',
      (d, k) => {
        d.remove(k);
        return undefined;
      },
    ],
  ])('the same query after a change: %s', async (_what, source, change) => {
    const query = q({ $orderby: 'ModificationTimestamp desc,ListingKey desc', $top: '10', $select: 'ListingKey' });
    const keys = async () => (await get(source, query)).body.value!.map((r) => r.ListingKey as string);
    const before = await keys();
    const key = before[5]!;
    const newest = change(server.source(source).dataset, key);
    const after = await keys();
    if (newest === undefined) expect(after).not.toContain(key);
    else expect(after[0]).toBe(newest);
    expect(after).not.toEqual(before);
  });
});

test('MLS Grid media URLs are signed and expire', async () => {
  const token = (await oauthToken('mlsgrid')).token!;
  const a = await get('mlsgrid', q({ $filter: mlsFilter(), $top: '1', $expand: 'Media' }), token);
  const url = (a.body.value![0]!.Media as Array<{ MediaURL: string }>)[0]!.MediaURL;
  expect(new URL(url).searchParams.get('sig')).toBeTruthy();
  const fetchPhoto = async (u: string) => {
    const res = await http.get(u, { signal, maxBytes: 4096 });
    await res.discard();
    return res.status;
  };
  expect(await fetchPhoto(url)).toBe(200);
  expect(await fetchPhoto(url.replace(/sig=[^&]+/, 'sig=forged'))).toBe(403);
  clock += PRESETS.mlsgrid.signedMediaTtlMs + 1;
  expect(await fetchPhoto(url)).toBe(403);
});

test('photo bytes given to the server are served, other bytes once a photo changes', async () => {
  const photos = [
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 1]),
    Buffer.from([0xff, 0xd8, 0xff, 2]),
    Buffer.from([0xff, 0xd8, 0xff, 3]),
  ];
  const dataset = new ResoDataset({ seed: 1, count: 1, deletes: 'status' });
  const s = await startResoServer({ sources: [{ name: 'p', quirks: PRESETS.plain, dataset }], photoBytes: photos });
  const c = localGuardedClient(s.url, { what: 'page' });
  const bytesOf = async (url: string, headers: Record<string, string> = {}) => {
    const res = await c.get(url, { signal, maxBytes: 1 << 20, headers });
    const parts: Buffer[] = [];
    for await (const b of res.body) parts.push(b);
    return Buffer.concat(parts);
  };
  try {
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const page = JSON.parse(
        (await bytesOf(`${s.url}/p/Property?$expand=Media`, { authorization: 'Bearer local-token' })).toString(),
      );
      const bytes = await bytesOf((page.value[0].Media[0] as { MediaURL: string }).MediaURL);
      expect(photos.some((p) => p.equals(bytes))).toBe(true);
      seen.add(bytes.toString('hex'));
      dataset.changePhotos(dataset.liveKeys()[0]!, { replace: true });
    }
    expect(seen.size).toBeGreaterThan(1);
  } finally {
    await c.close();
    await s.close();
  }
});

test('every request is logged: a test can count what a poll cost', async () => {
  const before = server.log.length;
  await get('spark', '');
  expect(server.log.slice(before)).toEqual([
    expect.objectContaining({ source: 'spark', kind: 'resource', method: 'GET', status: 200 }),
  ]);
});
