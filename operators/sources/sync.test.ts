/**
 * syncSource against the project's RESO test server (plain quirks: skip links, status deletes; 503s on) with a sink that fails some
 * commits the way a crash mid-transaction does: the aborted page's records are never visible, and the next
 * sync resumes from the last committed state. Afterwards the committed records cover the server's truth,
 * no record version is committed twice, and a quiet poll costs one request and no commit.
 */
import type { GuardedClient } from '../../runtime/http/guarded-client';
import { type Fault, PRESETS, ResoDataset, type ResoServer, startResoServer } from '../../test/support/reso-server';
import { localGuardedClient } from '../../test/support/reso-clients';
import { createSourceClient, type SourceClient } from './client';
import { RateBudget } from './rate-budget';
import type { RawListingRecord } from './raw-listings';
import type { ReplicationSpec } from './replicate';
import type { SourceState } from './state';
import { type PageSink, syncSource } from './sync';
import { staticBearer } from './token';

let clock = Date.UTC(2026, 1, 1);
const now = () => clock;
const sleep = async (ms: number) => {
  clock += ms;
};
const faults = (n: number): Fault | undefined => (n % 7 === 0 ? { kind: '503' } : undefined);

/** Commits atomically; `failAt` commits (1-based, counted over the sink's life) throw as a crash would. */
class CrashingSink implements PageSink {
  readonly committed: RawListingRecord[] = [];
  state: SourceState | undefined;
  commits = 0;
  attempts = 0;
  constructor(private readonly failAt: ReadonlySet<number>) {}
  async commit(records: readonly RawListingRecord[], state: SourceState): Promise<void> {
    this.attempts++;
    if (this.failAt.has(this.attempts)) throw new Error('crash mid-transaction');
    this.committed.push(...records);
    this.state = state;
    this.commits++;
  }
}

let server: ResoServer;
let http: GuardedClient;
let client: SourceClient;
let dataset: ResoDataset;
let spec: ReplicationSpec;
const source = { name: 'trestle', pollIntervalMs: 60_000, country: 'US' as const, currency: 'USD' as const };

beforeAll(async () => {
  dataset = new ResoDataset({ seed: 7, count: 50, tieSize: 6, deletes: 'status', photoChangeBumpsModification: true });
  server = await startResoServer({
    now,
    sources: [{ name: 'trestle', quirks: { ...PRESETS.plain, faults }, dataset }],
  });
  http = localGuardedClient(server.url, { connectTimeoutMs: 2000, idleTimeoutMs: 5000, maxRedirects: 2 });
  spec = {
    source: 'trestle',
    resource: server.source('trestle').resourceUrl,
    keyField: 'ListingKey',
    timestampField: 'ModificationTimestamp',
    expandMedia: true,
    tieMode: 'key',
    pageSize: 6,
    deletes: { kind: 'status', field: 'StandardStatus', values: ['Delete'] },
    nextLinkEncoding: 'standard',
    paging: 'next-link',
  };
  const auth = PRESETS.plain.auth;
  client = createSourceClient({
    source: 'trestle',
    guarded: http,
    tokens: staticBearer(auth.kind === 'bearer' ? auth.token : 'unused'),
    budget: new RateBudget({}, now),
    retry: { maxAttempts: 6, initialBackoffMs: 100, maxBackoffMs: 2000 },
    maxRetryAfterMs: 60_000,
    maxPageBytes: 4 * 1024 * 1024,
    pageTimeoutMs: 10_000,
    sleep,
    now,
    random: () => 0.5,
  });
});
afterAll(async () => {
  await http?.close();
  await server?.close();
});

/** Sync until one completes, resuming from the sink's committed state after each crash. */
async function syncThroughCrashes(sink: CrashingSink): Promise<number> {
  for (let crashes = 0; ; crashes++) {
    try {
      await syncSource({
        source,
        specs: { main: spec },
        client,
        start: sink.state,
        sink,
        signal: new AbortController().signal,
      });
      return crashes;
    } catch (e) {
      if ((e as Error).message !== 'crash mid-transaction') throw e;
    }
  }
}

it('replicates through crashes: committed records cover the truth, no version twice, quiet poll one request', async () => {
  const sink = new CrashingSink(new Set([2, 5, 9, 14]));
  expect(await syncThroughCrashes(sink)).toBeGreaterThan(0);
  dataset.changePrice(dataset.liveKeys()[0]!, 123_456);
  dataset.changeStatus(dataset.liveKeys()[1]!, 'Pending');
  dataset.remove(dataset.liveKeys()[2]!);
  dataset.addListing();
  await syncThroughCrashes(sink);

  const versions = sink.committed.map((r) => {
    const p = JSON.parse(r.value.payload) as Record<string, unknown>;
    return `${r.key}@${String(p.ModificationTimestamp)}`;
  });
  expect(new Set(versions).size).toBe(versions.length);

  const last = new Map<string, Record<string, unknown>>();
  for (const r of sink.committed) last.set(r.value.listingKey, JSON.parse(r.value.payload) as Record<string, unknown>);
  const live = [...last].filter(([, p]) => p.StandardStatus !== 'Delete').map(([k]) => k);
  expect(live.sort()).toEqual([...dataset.truth().keys()].sort());
  for (const [k, t] of dataset.truth()) expect(last.get(k)?.ListPrice).toEqual(t.ListPrice);

  const commits = sink.commits;
  const before = client.requests();
  const quiet = await syncSource({
    source,
    specs: { main: spec },
    client,
    start: sink.state,
    sink,
    signal: new AbortController().signal,
  });
  expect(client.requests() - before).toBe(1);
  expect(sink.commits).toBe(commits);
  expect(quiet.pages).toBe(0);
  expect(sink.state?.cursor).toBeDefined();
  expect(sink.state?.counts.records).toBe(sink.committed.length - sink.state!.counts.deletes);
});
