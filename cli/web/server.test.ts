/** The status page's server over plain data: escaping, routes, the admin token. No broker. */
import type { Server } from 'node:http';
import listings from '../../pipelines/listings';
import type { DeadLetter } from '../../runtime/dead-letters/letters';
import { esc, pipelineSvg, safeUrl, stepColumns } from './html';
import type { ListingCard, WebData } from './panels';
import { type AdminActions, createWebServer, type LetterSource, listen, tokenMatches } from './server';

const letter: DeadLetter = {
  ref: { topic: 'listings.raw.dlq', partition: 2, offset: '7' },
  step: 'normalize',
  operator: 'normalize',
  code: 'NORMALIZE_PRICE_INVALID',
  kind: 'permanent',
  message: 'ListPrice <b>-1</b> is not positive',
  sourceTopic: 'listings.raw',
  sourcePartition: '2',
  sourceOffset: '40',
  attempts: 1,
  failedAt: new Date('2026-12-01T10:00:00Z'),
  headers: { 'listflow.error.code': 'NORMALIZE_PRICE_INVALID' },
  raw: { topic: 'listings.raw.dlq', partition: 2, offset: '7', key: null, value: null, headers: {}, timestamp: '0' },
};

const card: ListingCard = {
  id: 'crea:L1',
  status: 'ACTIVE',
  priceMinor: 50_000_000,
  currency: 'CAD',
  city: '<script>alert(1)</script>',
  region: 'ON',
  photoCount: 1,
  thumbUrl: 'http://127.0.0.1:18333/listflow/ab/x/thumb.webp',
  publishedAt: new Date('2026-12-01T10:00:00Z'),
};

const redriven: [string, string][] = [];
const data: WebData & LetterSource = {
  pipeline: listings,
  steps: async () =>
    listings.steps.map((s) => ({
      step: s.id,
      input: s.input,
      group: `listflow.listings.${s.id}`,
      state: 'Stable',
      members: 1,
      lag: s.id === 'images' ? 12 : 0,
      ratePerSecond: 3.5,
      deadLetters: s.id === 'normalize' ? 1 : 0,
    })),
  letters: async () => [letter],
  listings: async () => [card, { ...card, id: 'crea:L2', thumbUrl: 'javascript:alert(1)' }],
  replays: async () => [],
  sources: async () => [
    {
      name: 'mls-<x>',
      declared: { name: 'mls-<x>', kind: 'reso-web-api', pollIntervalMs: 60_000 },
      state: {
        cursor: { timestamp: '2026-12-01T10:00:00.123456Z', key: 'K<7>' },
        initialDone: true,
        lastPoll: '2026-12-01T10:01:00.000Z',
        counts: { records: 42, deletes: 3, pages: 5, requests: 6 },
      },
    },
    { name: 'fresh', declared: { name: 'fresh', kind: 'reso-web-api', pollIntervalMs: 300_000 }, state: undefined },
  ],
  letter: async (ref) =>
    ref === 'listings.raw.dlq:2:7' ? { letter, value: { encoding: 'json', value: { ListPrice: -1 } } } : undefined,
};
const admin: AdminActions = {
  token: 'a-long-enough-token-1234',
  redrive: async (step, code) => {
    redriven.push([step, code]);
    return { redriven: 1, selected: 1, skippedInLedger: 0 };
  },
};

let readOnly: Server;
let withAdmin: Server;
let base = '';
let adminBase = '';
beforeAll(async () => {
  readOnly = createWebServer({ data, refreshSeconds: 0 });
  withAdmin = createWebServer({ data, admin, refreshSeconds: 0 });
  base = `http://127.0.0.1:${await listen(readOnly, '127.0.0.1', 0)}`;
  adminBase = `http://127.0.0.1:${await listen(withAdmin, '127.0.0.1', 0)}`;
});
afterAll(async () => {
  await new Promise((r) => readOnly.close(r));
  await new Promise((r) => withAdmin.close(r));
});

test('the page: every step in the picture, values from feeds escaped, only http(s) images', async () => {
  const r = await fetch(`${base}/`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-security-policy')).toContain("default-src 'none'");
  const html = await r.text();
  for (const s of listings.steps) expect(html).toContain(`data-step="${s.id}"`);
  expect(html).not.toContain('<script>');
  expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  expect(html).toContain('src="http://127.0.0.1:18333/listflow/ab/x/thumb.webp"');
  expect(html).not.toContain('javascript:');
  expect(html).toContain('href="/letters/listings.raw.dlq%3A2%3A7"');
  expect(html).not.toContain('/admin/redrive');
});

test('the sources panel: each source with its cursor (escaped), the one never polled from the beginning', async () => {
  const html = await (await fetch(`${base}/`)).text();
  const panel = html.slice(html.indexOf('id="sources"'));
  expect(html).toContain('id="sources"');
  expect(panel).toContain('mls-&lt;x&gt;');
  expect(panel).toContain('<code>2026-12-01T10:00:00.123456Z</code> K&lt;7&gt;');
  expect(panel).toMatch(/fresh<\/td>.*beginning/s);
  expect(html).not.toContain('K<7>');
});

test.each([
  ['/letters/listings.raw.dlq%3A2%3A7', 200, 'ListPrice &lt;b&gt;-1&lt;/b&gt; is not positive'],
  ['/letters/listings.raw.dlq%3A2%3A8', 404, 'No letter at listings.raw.dlq:2:8'],
  ['/letters/nonsense', 400, 'Expected &lt;topic&gt;:&lt;partition&gt;:&lt;offset&gt;'],
  ['/nowhere', 404, 'Nothing at /nowhere'],
  ['/healthz', 200, 'ok'],
])('GET %s -> %i', async (path, status, text) => {
  const r = await fetch(`${base}${path}`);
  expect(r.status).toBe(status);
  expect(await r.text()).toContain(text);
});

const post = (root: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${root}/admin/redrive`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });

test.each([
  ['read-only server: no admin path', 404, () => post(base, `step=normalize&code=X&token=${admin.token}`)],
  ['no token', 403, () => post(adminBase, 'step=normalize&code=X')],
  ['wrong token', 403, () => post(adminBase, 'step=normalize&code=X&token=a-long-enough-token-1235')],
  ['form token', 200, () => post(adminBase, `step=normalize&code=X&token=${admin.token}`)],
  ['bearer token', 200, () => post(adminBase, 'step=images&code=Y', { authorization: `Bearer ${admin.token}` })],
  ['missing code', 400, () => post(adminBase, `step=images&token=${admin.token}`)],
  ['a large form', 413, () => post(adminBase, `token=${'x'.repeat(5000)}`)],
])('POST /admin/redrive, %s -> %i', async (_name, status, send) => {
  expect((await send()).status).toBe(status);
});

test('only authorized posts redrive, with their step and code', () => {
  expect(redriven).toEqual([
    ['normalize', 'X'],
    ['images', 'Y'],
  ]);
});

test('the admin page has the redrive form', async () => {
  expect(await (await fetch(`${adminBase}/`)).text()).toContain('action="/admin/redrive"');
});

test.each([
  ['abc', 'abc', true],
  ['abc', 'abd', false],
  ['abc', 'ab', false],
  ['abc', undefined, false],
])('tokenMatches(%j, %j) = %s', (a, b, want) => {
  expect(tokenMatches(a, b)).toBe(want);
});

test.each([
  ['<a href="x">\'&', '&lt;a href=&quot;x&quot;&gt;&#39;&amp;'],
  [null, ''],
  [42, '42'],
])('esc(%j)', (v, want) => {
  expect(esc(v)).toBe(want);
});

test.each([
  ['https://cdn.example/a.webp', 'https://cdn.example/a.webp'],
  ['file:///var/blobs/a.webp', undefined],
  ['javascript:alert(1)', undefined],
  [null, undefined],
])('safeUrl(%j)', (u, want) => {
  expect(safeUrl(u)).toBe(want);
});

test('steps are laid out in pipeline order: each one column after the step that writes its input', () => {
  expect(Object.fromEntries(stepColumns(listings))).toEqual({
    sources: 0,
    ingest: 0,
    normalize: 1,
    images: 2,
    publish: 3,
    'price-changes': 4,
  });
  const svg = pipelineSvg(
    listings,
    new Map([['normalize', { ratePerSecond: 2, lag: 3, deadLetters: 4, state: 'Stable' }]]),
  );
  expect(svg).toContain('rate 2/s');
  expect(svg).toContain('dead letters 4');
  // One arrow per topic between two steps.
  expect(svg.match(/<path d="M\d+,\d+ C/g)).toHaveLength(4);
});
