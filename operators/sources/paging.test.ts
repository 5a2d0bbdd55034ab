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
