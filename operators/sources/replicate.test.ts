/**
 * Replicates the project's RESO test server with the sources modules in-process (no Kafka: an in-memory
 * sink), every quirk on: ties across page boundaries, microsecond timestamps, a token expiring mid-pass,
 * 503s, resets and 429s with Retry-After, double-encoded nextLinks, an idle-expired skiptoken, deletes by
 * flag, by status and by purge, photo changes (PropTx: on their own timestamp). After the initial load
 * and two rounds of changes the replica equals the server's truth exactly; a quiet poll (probe first) is one request.
 */
import type { GuardedClient } from '../../runtime/http/guarded-client';
import {
  type Fault,
  type ListingTruth,
  PRESETS,
  ResoDataset,
  type ResoQuirks,
  type ResoServer,
  startResoServer,
} from '../../test/support/reso-server';
import { createSourceClient, type SourceClient } from './client';
import { purgedKeys } from './deletes';
import { identityOf } from '../images/reuse';
import { RateBudget } from './rate-budget';
import {
  listAllKeys,
  remainingRecords,
  type ReplicatedPage,
  type ReplicationSpec,
  type ReplicationState,
  replicatePass,
} from './replicate';
import { runProbes } from './quiet-probe';
import { issueClientCredentialsToken, staticBearer, type TokenProvider, tokenManager } from './token';
import { localGuardedClient } from '../../test/support/reso-clients';

let clock = Date.UTC(2026, 1, 1);
const now = () => clock;
const sleep = async (ms: number) => {
  clock += ms;
};

/** Every 7th request a 503, every 11th a reset, every 13th a 429 asking for 2 s. */
const faults = (n: number): Fault | undefined =>
  n % 13 === 0
    ? { kind: '429', retryAfterSeconds: 2 }
    : n % 11 === 0
      ? { kind: 'reset' }
      : n % 7 === 0
        ? { kind: '503' }
        : undefined;

interface Case {
  readonly name: string;
  readonly quirks: ResoQuirks;
  readonly spec: Omit<ReplicationSpec, 'source' | 'resource'>;
  /** A second stream on the photo timestamp (PropTx). */
  readonly photoStream?: boolean;
  readonly limits: { perSecond?: number };
}

const base = { keyField: 'ListingKey', timestampField: 'ModificationTimestamp', expandMedia: true } as const;
const CASES: Case[] = [
  {
    name: 'mlsgrid',
    quirks: { ...PRESETS.mlsgrid, faults },
    spec: {
      ...base,
      tieMode: 'ge',
      filter: "OriginatingSystemName eq 'listflow'",
      initialFilter: 'MlgCanView eq true',
      pageSize: 5,
      deletes: { kind: 'flag', field: 'MlgCanView' },
      nextLinkEncoding: 'double',
      paging: 'next-link',
    },
    limits: { perSecond: 2 },
  },
  {
    name: 'trestle',
    quirks: { ...PRESETS.trestle, faults },
    spec: {
      ...base,
      tieMode: 'key',
      pageSize: 6,
      deletes: { kind: 'status', field: 'StandardStatus', values: ['Delete'] },
      nextLinkEncoding: 'standard',
      paging: 'next-link',
    },
    limits: {},
  },
  {
    name: 'spark',
    quirks: { ...PRESETS.spark, faults },
    spec: {
      ...base,
      tieMode: 'key',
      pageSize: 4,
      deletes: { kind: 'purge', everyMinutes: 60 },
      nextLinkEncoding: 'standard',
      paging: 'cursor',
    },
    limits: {},
  },
  {
    name: 'proptx',
    quirks: { ...PRESETS.proptx, faults },
    spec: {
      ...base,
      tieMode: 'key',
      pageSize: 5,
      deletes: { kind: 'status', field: 'StandardStatus', values: ['Delete'] },
      nextLinkEncoding: 'standard',
      paging: 'next-link',
    },
    photoStream: true,
    limits: {},
  },
];

/** The replica: listings by key with their stored photos, and what it took to build it. */
class MemorySink {
  readonly listings = new Map<string, Record<string, unknown>>();
  /** Per listing: each photo's identity -> version, as the images step's media index keeps them. */
  readonly photos = new Map<string, Map<string, string>>();
  downloads = 0;
  readonly taken = new Map<string, number>();
  apply(page: ReplicatedPage, stream = 'main'): void {
    for (const r of page.records) {
      const key = r.ListingKey as string;
      const seen = `${stream}:${key}@${r.ModificationTimestamp as string}@${r.PhotosChangeTimestamp as string}`;
      this.taken.set(seen, (this.taken.get(seen) ?? 0) + 1);
      const media = (r.Media ?? []) as Array<{
        MediaKey?: string | null;
        MediaURL?: string | null;
        MediaModificationTimestamp?: string | null;
      }>;
      // The images step's own reuse rule (operators/images/reuse.ts): a photo is downloaded when its identity
      // is new or its version changed; signed URLs of a keyed, stamped photo are no change.
      const before = this.photos.get(key) ?? new Map<string, string>();
      const now = new Map<string, string>();
      media.forEach((m, order) => {
        if (!m.MediaURL) return;
        const { id, version } = identityOf('test', {
          url: m.MediaURL,
          order,
          caption: null,
          mediaKey: m.MediaKey ?? null,
          mediaModificationTimestamp: m.MediaModificationTimestamp ?? null,
        });
        if (now.has(id)) return;
        now.set(id, version);
        if (before.get(id) !== version) this.downloads++;
      });
      this.photos.set(key, now);
      this.listings.set(key, r);
    }
    for (const k of page.deletedKeys) this.remove(k);
  }
  remove(key: string): void {
    this.listings.delete(key);
    this.photos.delete(key);
  }
  view(): Map<string, ListingTruth> {
    return new Map(
      [...this.listings].map(([k, r]) => [
        k,
        {
          ListPrice: r.ListPrice,
          StandardStatus: r.StandardStatus,
          ModificationTimestamp: r.ModificationTimestamp as string,
          photos: ((r.Media ?? []) as Array<{ MediaKey: string; MediaModificationTimestamp: string }>).map((m) => ({
            MediaKey: m.MediaKey,
            MediaModificationTimestamp: m.MediaModificationTimestamp,
          })),
        },
      ]),
    );
  }
}

interface Replica {
  readonly c: Case;
  readonly spec: ReplicationSpec;
  readonly photoSpec?: ReplicationSpec;
  readonly client: SourceClient;
  readonly tokens: TokenProvider & { issued?: () => number };
  readonly sink: MemorySink;
  state: ReplicationState;
  photoState: ReplicationState;
}

let server: ResoServer;
let http: GuardedClient;
const replicas = new Map<string, Replica>();
const signal = new AbortController().signal;

beforeAll(async () => {
  server = await startResoServer({
    now,
    sources: CASES.map((c, i) => ({
      name: c.name,
      quirks: c.quirks,
      dataset: new ResoDataset({
        seed: 40 + i,
        count: 60,
        tieSize: 7,
        deletes: c.quirks.deletes,
        photoChangeBumpsModification: c.quirks.photoChangeBumpsModification,
        originatingSystem: 'listflow',
      }),
    })),
  });
  http = localGuardedClient(server.url, { connectTimeoutMs: 2000, idleTimeoutMs: 5000, maxRedirects: 2 });
  for (const c of CASES) {
    const handle = server.source(c.name);
    const auth = c.quirks.auth;
    const tokens =
      auth.kind === 'bearer'
        ? staticBearer(auth.token)
        : tokenManager({
            now,
            issue: (s) =>
              issueClientCredentialsToken(
                http,
                { tokenUrl: handle.tokenUrl, clientId: auth.clientId, clientSecret: auth.clientSecret },
                c.name,
                s,
              ),
          });
    const spec: ReplicationSpec = { ...c.spec, source: c.name, resource: handle.resourceUrl };
    replicas.set(c.name, {
      c,
      spec,
      photoSpec: c.photoStream ? { ...spec, timestampField: 'PhotosChangeTimestamp' } : undefined,
      tokens,
      client: createSourceClient({
        source: c.name,
        guarded: http,
        tokens,
        budget: new RateBudget(c.limits, now),
        retry: { maxAttempts: 6, initialBackoffMs: 100, maxBackoffMs: 2000 },
        maxRetryAfterMs: 60_000,
        maxPageBytes: 4 * 1024 * 1024,
        pageTimeoutMs: 10_000,
        sleep,
        now,
        random: () => 0.5,
      }),
      sink: new MemorySink(),
      state: { initialDone: false },
      photoState: { initialDone: false },
    });
  }
});
afterAll(async () => {
  await http.close();
  await server.close();
});

/** One pass of each stream; `between(n)` runs after the n-th page (1-based). */
async function pass(r: Replica, between: (n: number) => void = () => undefined): Promise<number> {
  let pages = 0;
  for await (const page of replicatePass(r.spec, r.client, r.state, signal)) {
    r.sink.apply(page);
    r.state = page.state;
    between(++pages);
  }
  if (r.photoSpec) {
    for await (const page of replicatePass(r.photoSpec, r.client, r.photoState, signal)) {
      r.sink.apply(page, 'photos');
      r.photoState = page.state;
    }
  }
  if (r.spec.deletes.kind === 'purge') {
    const listed = await listAllKeys(r.spec, r.client, signal);
    for (const k of purgedKeys(r.sink.listings.keys(), listed)) r.sink.remove(k);
  }
  return pages;
}

const photoPairs = (t: Map<string, ListingTruth>) =>
  new Set([...t.values()].flatMap((l) => l.photos.map((p) => `${p.MediaKey}@${p.MediaModificationTimestamp}`)));
const newPhotos = (before: Map<string, ListingTruth>, after: Map<string, ListingTruth>) => {
  const old = photoPairs(before);
  return [...photoPairs(after)].filter((p) => !old.has(p)).length;
};

function changeRound(d: ResoDataset, round: number): void {
  const keys = d.liveKeys();
  const at = (i: number) => keys[(i * 7 + round) % keys.length]!;
  // Several changes at one instant: a tie that the next page boundary cuts through.
  d.atOneInstant(() => {
    for (let i = 0; i < 8; i++) d.changePrice(at(i), 200_000 + round * 1000 + i);
  });
  d.changeStatus(at(8), 'Pending');
  d.changeStatus(at(9), 'Closed');
  d.remove(at(10));
  d.remove(at(11));
  d.changePhotos(at(12), { replace: true });
  d.changePhotos(at(13), { removeLast: true, add: 2 });
  d.atOneInstant(() => {
    for (let i = 0; i < 3; i++) d.addListing();
  });
  if (round === 2) d.remove(d.liveKeys().at(-1)!); // a listing added in round 1 or 2
}

describe.each(CASES.map((c) => c.name))('%s: replication equals the server truth', (name) => {
  test('initial load with a token expiring and a link going idle mid-pass', async () => {
    const r = replicas.get(name)!;
    const handle = server.source(name);
    const pages = await pass(r, (n) => {
      if (n === 3) handle.expireTokens();
      if (n === 4) clock += 6 * 60_000; // past Trestle's 5 minutes idle: the skiptoken is gone
    });
    expect(pages).toBeGreaterThan(8);
    expect(r.sink.view()).toEqual(handle.dataset.truth());
    expect(r.sink.downloads).toBe(photoPairs(handle.dataset.truth()).size);
    expect(r.state.initialDone).toBe(true);
    if (handle.quirks.auth.kind === 'oauth2') expect(r.tokens.issued?.()).toBeGreaterThanOrEqual(2);
  });

  test.each([1, 2])('round %i of changes', async (round) => {
    const r = replicas.get(name)!;
    const d = server.source(name).dataset;
    const before = d.truth();
    const downloads = r.sink.downloads;
    changeRound(d, round);
    await pass(r, (n) => {
      if (n === 1) server.source(name).expireTokens();
    });
    expect(r.sink.view()).toEqual(d.truth());
    // Unchanged photos are not downloaded again; changed and added ones are.
    expect(r.sink.downloads - downloads).toBe(newPhotos(before, d.truth()));
  });

  test('remaining records: none when caught up, then the changes not yet taken', async () => {
    const r = replicas.get(name)!;
    const d = server.source(name).dataset;
    server.source(name).quirks = { ...server.source(name).quirks, faults: undefined };
    expect(await remainingRecords(r.spec, r.client, r.state, signal)).toBe(0);
    const keys = d.liveKeys();
    d.atOneInstant(() => {
      d.changePrice(keys[1]!, 111_111);
      d.changePrice(keys[2]!, 222_222);
    });
    d.changeStatus(keys[3]!, 'Pending');
    expect(await remainingRecords(r.spec, r.client, r.state, signal)).toBe(3);
    await pass(r);
    expect(r.sink.view()).toEqual(d.truth());
    expect(await remainingRecords(r.spec, r.client, r.state, signal)).toBe(0);
    // Declared without $count: unknown, and not asked.
    const asked = r.client.requests();
    const noCount = { ...r.spec, capabilities: { count: false, orderDescending: true } };
    expect(await remainingRecords(noCount, r.client, r.state, signal)).toBeUndefined();
    expect(r.client.requests()).toBe(asked);
  });

  test('no version of a record was taken twice', () => {
    const r = replicas.get(name)!;
    expect([...r.sink.taken.values()].filter((n) => n > 1)).toEqual([]);
  });

  test('a quiet poll makes exactly one request', async () => {
    const r = replicas.get(name)!;
    const handle = server.source(name);
    handle.quirks = { ...handle.quirks, faults: undefined };
    const before = server.log.filter((e) => e.source === name && e.kind === 'resource').length;
    // As a sync polls (sync.ts): the probe first, then the passes of the streams it did not prove quiet.
    const streams = [
      { spec: r.spec, state: r.state, stream: 'main' },
      ...(r.photoSpec ? [{ spec: r.photoSpec, state: r.photoState, stream: 'photos' }] : []),
    ];
    const probe = await runProbes(streams, r.client, signal);
    for (const [i, s] of streams.entries()) {
      if (probe.quiet.has(i)) continue;
      for await (const p of replicatePass(s.spec, r.client, s.state, signal)) r.sink.apply(p, s.stream);
    }
    const made = server.log.filter((e) => e.source === name && e.kind === 'resource').length - before;
    // MLS Grid (ge ties) and PropTx (a photo stream) included: the probe answers for every stream at once.
    expect({ made, refused: probe.refused }).toEqual({ made: 1, refused: undefined });
  });
});

test('the faults really happened', () => {
  const statuses = new Set(server.log.map((e) => e.status));
  expect([...statuses].sort()).toEqual(expect.arrayContaining([200, 401, 410, 429, 503, 'reset']));
});
