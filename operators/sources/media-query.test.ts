/**
 * `media: { mode: separate }` against the project's RESO test server with the `ddf` quirks (Media only as its
 * own resource; `$expand=Media` refused): every committed listing carries its photos, in Order, from the
 * Media queries of its page, made through the source client.
 */
import type { GuardedClient } from '../../runtime/http/guarded-client';
import { PRESETS, ResoDataset, type ResoServer, startResoServer } from '../../test/support/reso-server';
import { localGuardedClient, localSourceClient, plainStatusSource } from '../../test/support/reso-clients';
import { mediaQuery, mediaResourceOf } from './media-query';
import type { RawListingRecord } from './raw-listings';
import { replicationSpecs } from './source-spec';
import { syncSource } from './sync';

describe('mediaQuery', () => {
  it.each<[string, string[], string]>([
    ['one key', ['A1'], "ResourceRecordKey in ('A1')"],
    ['several', ['A1', 'B2'], "ResourceRecordKey in ('A1','B2')"],
    ['a quote doubled', ["O'B"], "ResourceRecordKey in ('O''B')"],
  ])('%s', (_n, keys, filter) => {
    const url = mediaQuery('https://mls.example/api/Media', keys);
    expect(url.searchParams.get('$filter')).toBe(filter);
    expect(url.searchParams.get('$orderby')).toBe('ResourceRecordKey asc,Order asc');
    expect(url.search).not.toContain('+'); // %20, not '+'
  });

  it.each([
    ['https://mls.example/api/Property', 'https://mls.example/api/Media'],
    ['http://127.0.0.1:1/ddf/Property', 'http://127.0.0.1:1/ddf/Media'],
  ])('the Media resource beside %s', (property, media) => {
    expect(mediaResourceOf(property)).toBe(media);
  });
});

describe('separate Media through syncSource', () => {
  let server: ResoServer | undefined;
  let http: GuardedClient | undefined;
  afterEach(async () => {
    await http?.close();
    await server?.close();
  });

  const run = async (mediaTop: number, mode: 'separate' | 'expand') => {
    const dataset = new ResoDataset({ seed: 11, count: 12, tieSize: 3, deletes: 'status', keyPrefix: 'D' });
    // defaultTop is what the Media resource pages with (the Property queries ask $top=pageSize).
    server = await startResoServer({
      sources: [{ name: 'ddf', quirks: { ...PRESETS.ddf, defaultTop: mediaTop }, dataset }],
    });
    http = localGuardedClient(server.url);
    const source = {
      ...plainStatusSource(server.source('ddf').resourceUrl),
      name: 'ddf',
      media: { mode, bumpsModification: true },
    };
    const client = localSourceClient('ddf', http);
    const committed: RawListingRecord[] = [];
    const r = await syncSource({
      source,
      specs: replicationSpecs(source),
      client,
      start: undefined,
      sink: { commit: async (records) => void committed.push(...records) },
      signal: new AbortController().signal,
    });
    return { dataset, committed, r, server, source, client };
  };

  it.each([
    ['one Media page per listing page', 100, 3],
    ['Media pages followed by their nextLinks', 2, 3],
  ])('%s: every listing with its photos, in Order', async (_n, mediaTop, listingPages) => {
    const { dataset, committed, r, server: s } = await run(mediaTop, 'separate');
    const truth = dataset.truth();
    expect(committed).toHaveLength(truth.size);
    for (const rec of committed) {
      const media = (JSON.parse(rec.value.payload) as { Media: Array<Record<string, unknown>> }).Media;
      expect(media.map((m) => [m.MediaKey, m.MediaModificationTimestamp])).toEqual(
        truth.get(rec.value.listingKey)!.photos.map((p) => [p.MediaKey, p.MediaModificationTimestamp]),
      );
      const orders = media.map((m) => m.Order as number);
      expect(orders).toEqual([...orders].sort((a, b) => a - b));
      expect(media.every((m) => typeof m.MediaURL === 'string')).toBe(true);
    }
    const mediaRequests = s.log.filter((e) => e.target.startsWith('/ddf/Media'));
    const photos = [...truth.values()].reduce((n, t) => n + t.photos.length, 0);
    // Per listing page one query (12 listings, pages of 5: 3 pages; fewer keys than a query takes), plus nextLinks.
    expect(mediaRequests.length).toBeGreaterThanOrEqual(listingPages);
    if (mediaTop >= photos) expect(mediaRequests.length).toBe(listingPages);
    else expect(mediaRequests.length).toBeGreaterThan(listingPages);
    expect(mediaRequests.every((e) => e.status === 200)).toBe(true);
    expect(r.requests).toBe(s.log.filter((e) => e.kind === 'resource').length);
  });

  it('a quiet poll makes no Media query: one request, nothing committed', async () => {
    const { server: s, r, source, client } = await run(100, 'separate');
    expect(r.records).toBe(12);
    const before = s.log.length;
    const commits: number[] = [];
    const quiet = await syncSource({
      source,
      specs: replicationSpecs(source),
      client,
      start: r.state,
      sink: { commit: async (records) => void commits.push(records.length) },
      signal: new AbortController().signal,
    });
    expect(quiet.pages).toBe(0);
    expect(commits).toEqual([]);
    expect(s.log.slice(before).map((e) => e.target.split('?')[0])).toEqual(['/ddf/Property']);
  });

  it('the server refuses $expand=Media, which is why the source says separate', async () => {
    await expect(run(100, 'expand')).rejects.toMatchObject({ code: expect.stringMatching(/^SOURCE_/) });
  });
});
