/** Replicated records become RawListings that normalize reads like ingested ones; deletions become DELETE. */
import { PRESETS, ResoDataset, type ResoQuirks, startResoServer } from '../../test/support/reso-server';
import { normalizeListing } from '../normalize/process';
import { purgeDelete } from './purge';
import { rawListingsOf } from './raw-listings';
import { type ReplicatedPage, type ReplicationSpec, replicatePass } from './replicate';
import type { SourceCommon } from './source-spec';
import { localGuardedClient, localSourceClient } from '../../test/support/reso-clients';

const signal = new AbortController().signal;

test.each<[string, ResoQuirks, ReplicationSpec['deletes'], string]>([
  [
    'a flag (MLS Grid profile)',
    { ...PRESETS.plain, deletes: 'flag' },
    { kind: 'flag', field: 'MlgCanView' },
    'mlsgrid',
  ],
  [
    'a status (RESO profile)',
    PRESETS.plain,
    { kind: 'status', field: 'StandardStatus', values: ['Delete'] },
    'reso-dd-2.0',
  ],
])(
  'a deletion by %s reaches normalize as DELETE; live listings as themselves',
  async (_what, quirks, deletes, profile) => {
    const dataset = new ResoDataset({ seed: 5, count: 12, deletes: quirks.deletes, keyPrefix: 'K' });
    const gone = dataset.liveKeys()[2]!;
    dataset.remove(gone);
    const server = await startResoServer({ sources: [{ name: 's', quirks, dataset }] });
    const guarded = localGuardedClient(server.url);
    try {
      const client = localSourceClient('s', guarded);
      const spec: ReplicationSpec = {
        source: 's',
        resource: server.source('s').resourceUrl,
        timestampField: 'ModificationTimestamp',
        keyField: 'ListingKey',
        tieMode: 'key',
        pageSize: 5,
        expandMedia: true,
        deletes,
        nextLinkEncoding: 'standard',
        paging: 'cursor',
      };
      const source: SourceCommon = { name: 'mls-a', pollIntervalMs: 60_000, country: 'US', currency: 'USD', profile };
      const pages: ReplicatedPage[] = [];
      for await (const p of replicatePass(spec, client, { initialDone: true }, signal)) pages.push(p);
      let position = 0;
      const raws = pages.flatMap((p) => {
        const out = rawListingsOf(source, p, { passId: 'mls-a@start', position, receivedAt: new Date(0) });
        position += out.length;
        return out;
      });
      expect(raws.map((r) => r.value.position)).toEqual(raws.map((_, i) => i));
      expect(new Set(raws.map((r) => r.key))).toEqual(new Set([...dataset.records.keys()].map((k) => `mls-a:${k}`)));
      expect(raws[0]!.value).toMatchObject({
        jobId: 'mls-a@start',
        source: 'mls-a',
        profile,
        defaultCountry: 'US',
        defaultCurrency: 'USD',
      });
      const statuses = new Map(
        raws.map((r) => [r.value.listingKey, normalizeListing(r.value, { allowFilePhotoUrls: false }).status]),
      );
      expect(statuses.get(gone)).toBe('DELETE');
      expect([...statuses].filter(([k, s]) => k !== gone && s === 'DELETE')).toEqual([]);
    } finally {
      await guarded.close();
      await server.close();
    }
  },
);

test.each(['reso-dd-2.0', 'trestle', 'mlsgrid'])(
  'a purge deletion (key only, stamped with the purge time) reaches normalize as DELETE under profile %s',
  (profile) => {
    const at = new Date('2026-03-04T05:06:07.000Z');
    const source: SourceCommon = { name: 'mls-p', pollIntervalMs: 60_000, country: 'US', currency: 'USD', profile };
    const r = purgeDelete(source, 'K-9', at, 0);
    expect(r).toMatchObject({ key: 'mls-p:K-9', deleted: true, value: { listingKey: 'K-9', profile } });
    const listing = normalizeListing(r.value, { allowFilePhotoUrls: false });
    expect(listing).toMatchObject({ id: 'mls-p:K-9', status: 'DELETE', modifiedAt: at });
  },
);
