/**
 * Why `paging: cursor` exists: `$skip` links over live data skip a record when one behind the offset changes
 * mid-pass (it moves to the end and the rest shift left). Asking each page again from the cursor does not,
 * including under ge ties larger than a page (crossed by the server's links).
 */
import { PRESETS, ResoDataset, type ResoQuirks, startResoServer } from '../../test/support/reso-server';
import { type ReplicationSpec, replicatePass } from './replicate';
import { localGuardedClient, localSourceClient } from '../../test/support/reso-clients';

const signal = new AbortController().signal;

test.each<[string, 'key' | 'ge', 'next-link' | 'cursor', number]>([
  ['key ties, $skip links: one record skipped', 'key', 'next-link', 1],
  ['key ties, cursor paging: exact', 'key', 'cursor', 0],
  ['ge ties, $skip links: one record skipped', 'ge', 'next-link', 1],
  ['ge ties larger than a page, cursor paging: exact', 'ge', 'cursor', 0],
])('%s', async (_what, tieMode, paging, lost) => {
  const quirks: ResoQuirks = { ...PRESETS.plain, keyTieBreak: tieMode === 'key' };
  // Ties of 10 with pages of 4: under ge, every tie spans three pages.
  const dataset = new ResoDataset({ seed: 11, count: 40, tieSize: 10, deletes: 'status' });
  const server = await startResoServer({ sources: [{ name: 's', quirks, dataset }] });
  const guarded = localGuardedClient(server.url);
  try {
    const client = localSourceClient('s', guarded, { retry: { maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 1 } });
    const spec: ReplicationSpec = {
      source: 's',
      resource: server.source('s').resourceUrl,
      timestampField: 'ModificationTimestamp',
      keyField: 'ListingKey',
      tieMode,
      pageSize: 4,
      expandMedia: false,
      deletes: { kind: 'status', field: 'StandardStatus', values: ['Delete'] },
      nextLinkEncoding: 'standard',
      paging,
    };
    const replica = new Map<string, unknown>();
    let pages = 0;
    for await (const page of replicatePass(spec, client, { initialDone: true }, signal)) {
      for (const r of page.records) replica.set(r.ListingKey as string, r.ListPrice);
      // A change behind the offset while the pass runs.
      if (++pages === 1) dataset.changePrice(page.records[0]!.ListingKey as string, 999);
    }
    const truth = dataset.truth();
    const missing = [...truth.keys()].filter((k) => !replica.has(k));
    expect(missing).toHaveLength(lost);
    if (lost === 0) expect(new Map([...truth].map(([k, t]) => [k, t.ListPrice]))).toEqual(replica);
  } finally {
    await guarded.close();
    await server.close();
  }
});

describe('prefetch: the next page is asked for while the caller works on the current one', () => {
  const spec = (resource: string, paging: 'next-link' | 'cursor'): ReplicationSpec => ({
    source: 's',
    resource,
    timestampField: 'ModificationTimestamp',
    keyField: 'ListingKey',
    tieMode: 'key',
    pageSize: 4,
    expandMedia: false,
    deletes: { kind: 'status', field: 'StandardStatus', values: ['Delete'] },
    nextLinkEncoding: 'standard',
    paging,
  });

  test.each(['next-link', 'cursor'] as const)(
    '%s paging: the same pages and requests as without, and the request is out before the caller resumes',
    async (paging) => {
      const dataset = new ResoDataset({ seed: 12, count: 30, tieSize: 5, deletes: 'status' });
      const server = await startResoServer({ sources: [{ name: 's', quirks: PRESETS.plain, dataset }] });
      const guarded = localGuardedClient(server.url);
      try {
        const pass = async (prefetch: boolean) => {
          const client = localSourceClient('s', guarded);
          const pages: string[] = [];
          const aheadOfCaller: number[] = [];
          for await (const page of replicatePass(
            spec(server.source('s').resourceUrl, paging),
            client,
            { initialDone: true },
            signal,
            { prefetch },
          )) {
            pages.push(`${page.url} ${page.records.map((r) => r.ListingKey).join(',')}`);
            // Requests sent by the time this page is handed on, beyond the pages handed on so far.
            aheadOfCaller.push(client.requests() - pages.length);
            await new Promise((r) => setTimeout(r, 20)); // the caller's work on the page
          }
          return { pages, requests: client.requests(), aheadOfCaller };
        };
        const plain = await pass(false);
        const ahead = await pass(true);
        expect(ahead.pages).toEqual(plain.pages);
        expect(plain.pages.length).toBeGreaterThan(5);
        expect(ahead.requests).toBe(plain.requests);
        expect(plain.aheadOfCaller.every((n) => n === 0)).toBe(true);
        // Every page but the last had the next one's request sent before it was handed on.
        expect(ahead.aheadOfCaller.slice(0, -1).every((n) => n === 1)).toBe(true);
        expect(ahead.aheadOfCaller.at(-1)).toBe(0);
      } finally {
        await guarded.close();
        await server.close();
      }
    },
  );

  test('a caller that stops early leaves one request sent and aborted, and no unhandled rejection', async () => {
    const dataset = new ResoDataset({ seed: 13, count: 30, tieSize: 5, deletes: 'status' });
    const server = await startResoServer({ sources: [{ name: 's', quirks: PRESETS.plain, dataset }] });
    const guarded = localGuardedClient(server.url);
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const client = localSourceClient('s', guarded);
      for await (const _page of replicatePass(
        spec(server.source('s').resourceUrl, 'next-link'),
        client,
        { initialDone: true },
        signal,
        { prefetch: true },
      ))
        break;
      await new Promise((r) => setTimeout(r, 100));
      expect(client.requests()).toBe(2);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await guarded.close();
      await server.close();
    }
  });
});
