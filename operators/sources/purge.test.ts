/**
 * The purge pass against the project's RESO test server (`plain` quirks: `$skip` links, key order): what it
 * deletes, what it asks to confirm a deletion, and that a listing leaving the feed in the middle of the pass
 * (which shifts the `$skip` offsets) never gets a live listing deleted.
 */
import type { GuardedClient } from '../../runtime/http/guarded-client';
import { PRESETS, ResoDataset, type ResoServer, startResoServer } from '../../test/support/reso-server';
import { localGuardedClient, localSourceClient, plainStatusSource } from '../../test/support/reso-clients';
import type { ODataPage, SourceClient } from './client';
import { purgePass } from './purge';
import type { ResoSource } from './source-spec';
import { replicationSpecs } from './source-spec';

let server: ResoServer | undefined;
let http: GuardedClient | undefined;
afterEach(async () => {
  await http?.close();
  await server?.close();
  server = undefined;
  http = undefined;
});

const AT = new Date('2026-12-04T10:00:00Z');

async function setUp(count: number) {
  const dataset = new ResoDataset({ seed: 5, count, deletes: 'purge', keyPrefix: 'P' });
  server = await startResoServer({ sources: [{ name: 'p', quirks: { ...PRESETS.plain, deletes: 'purge' }, dataset }] });
  http = localGuardedClient(server.url);
  const source: ResoSource = {
    ...plainStatusSource(server.source('p').resourceUrl),
    name: 'p',
    deletes: { kind: 'purge', everyMinutes: 60 },
  };
  const spec = replicationSpecs(source).main;
  /** The pass's requests, by what they ask: the listing of every key, or a confirmation of some. */
  const asked = { listing: 0, confirming: 0 };
  const real = localSourceClient('p', http);
  let afterListingPage: ((n: number) => void) | undefined;
  const client: SourceClient = {
    requests: real.requests,
    async getPage(url, r): Promise<ODataPage> {
      const confirming = (url.searchParams.get('$filter') ?? '').includes(' in (');
      const page = await real.getPage(url, r);
      if (confirming) asked.confirming++;
      else {
        // Counted outside the optional call: `f?.(++n)` skips evaluating its argument when f is undefined.
        const n = ++asked.listing;
        afterListingPage?.(n);
      }
      return page;
    },
  };
  const pass = (held: Iterable<string>) =>
    purgePass({ source, spec, client, held, at: AT, signal: new AbortController().signal });
  return {
    dataset,
    asked,
    pass,
    onListingPage: (f: (n: number) => void) => {
      afterListingPage = f;
    },
  };
}

describe('purgePass', () => {
  it.each<[string, { count: number; remove: number[]; ghosts?: string[]; confirming: number }]>([
    ['nothing gone: no confirming query', { count: 12, remove: [], confirming: 0 }],
    [
      'three gone: one confirming query (batches of the page size, 5)',
      { count: 12, remove: [0, 4, 11], confirming: 1 },
    ],
    ['seven gone: two confirming queries', { count: 12, remove: [1, 2, 3, 5, 6, 7, 9], confirming: 2 }],
    ['a held key the server never had', { count: 6, remove: [], ghosts: ["P-o'ghost"], confirming: 1 }],
  ])('%s', async (_n, c) => {
    const t = await setUp(c.count);
    const all = t.dataset.liveKeys();
    const gone = c.remove.map((i) => all[i]!);
    for (const k of gone) t.dataset.remove(k);
    const deletes = await t.pass([...all, ...(c.ghosts ?? [])]);
    const expected = [...gone, ...(c.ghosts ?? [])].sort();
    expect(deletes.map((d) => d.value.listingKey)).toEqual(expected);
    expect(deletes.map((d) => d.value.position)).toEqual(expected.map((_k, i) => i));
    for (const d of deletes) {
      expect(d).toMatchObject({ key: `p:${d.value.listingKey}`, deleted: true });
      expect(JSON.parse(d.value.payload)).toEqual({
        ListingKey: d.value.listingKey,
        StandardStatus: 'Delete',
        ModificationTimestamp: AT.toISOString(),
      });
    }
    // The listing is one page per 5 live keys; the confirming queries are what the case says.
    const pages = Math.max(1, Math.ceil((c.count - gone.length) / 5));
    expect(t.asked).toEqual({ listing: pages, confirming: c.confirming });
  });

  it('a listing that leaves the feed between two pages of the pass gets no live listing deleted', async () => {
    const t = await setUp(12);
    const held = t.dataset.liveKeys();
    const byKey = [...held].sort();
    // Pages of 5 in key order: the second page is byKey[5..9]. Removing one of them after that page moves
    // every later key one place forward, so the third page ($skip=10) starts past byKey[10]: never listed.
    const leaving = byKey[7]!;
    t.onListingPage((n) => {
      if (n === 2) t.dataset.remove(leaving);
    });
    const first = await t.pass(held);
    expect(first).toEqual([]); // byKey[10] was missed by the listing, and the confirming query found it live
    expect(t.asked).toEqual({ listing: 3, confirming: 1 });
    // The next pass sees the removal whole.
    t.onListingPage(() => undefined);
    const second = await t.pass(held);
    expect(second.map((d) => d.value.listingKey)).toEqual([leaving]);
  });
});
