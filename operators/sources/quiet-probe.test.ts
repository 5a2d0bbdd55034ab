/**
 * The quiet-poll probe (quiet-probe.ts): which probes a poll makes and how their answers read (tables, no
 * server), then syncs against the project's RESO test server: MLS Grid (`ge` ties) with the whole load at one
 * instant, a tie of 12 over pages of 5, and PropTx (key ties, a photo stream). A quiet poll is exactly one
 * request; every change after a quiet period, at the cursor's instant or after it, is taken exactly once;
 * the documented residual (a late arrival at the instant masked by as many hard deletes) is delayed to the
 * next change, not lost; a server that refuses the probe, or is declared without what it needs, still
 * replicates.
 */
import { PRESETS, ResoDataset, type ResoQuirks, startResoServer } from '../../test/support/reso-server';
import { localGuardedClient, localSourceClient } from '../../test/support/reso-clients';
import type { ODataPage } from './client';
import type { SourceCursor } from './cursor';
import { geQuiet, type ProbeStream, probesFor } from './quiet-probe';
import type { ServerCapabilities } from './query';
import type { RawListingRecord } from './raw-listings';
import type { ReplicationSpec } from './replicate';
import type { SourceState } from './state';
import { type PageSink, syncSource } from './sync';

const T = '2026-01-05T10:00:00.123456Z';
const LATER = '2026-01-05T10:00:01.000001Z';
const ge: ReplicationSpec = {
  source: 's',
  resource: 'https://api.example/v2/Property',
  timestampField: 'ModificationTimestamp',
  keyField: 'ListingKey',
  tieMode: 'ge',
  filter: "OriginatingSystemName eq 'x'",
  initialFilter: 'MlgCanView eq true',
  pageSize: 5,
  expandMedia: true,
  deletes: { kind: 'flag', field: 'MlgCanView' },
  nextLinkEncoding: 'standard',
  paging: 'next-link',
};
const key: ReplicationSpec = { ...ge, tieMode: 'key', filter: undefined, initialFilter: undefined };
const photos: ReplicationSpec = { ...key, timestampField: 'PhotosChangeTimestamp' };
const tie: SourceCursor = { timestamp: T, key: 'C', keysAtTimestamp: ['A', 'B', 'C'] };
const done = (cursor: SourceCursor | undefined) => ({ initialDone: true, ...(cursor ? { cursor } : {}) });
const params = (u: URL) => Object.fromEntries([...new URLSearchParams(u.search)]);

describe('probesFor: which probe a poll makes', () => {
  test.each<[string, ProbeStream[], Array<{ streams: number[]; params: Record<string, string> }>]>([
    ['one key stream: none (its first page is the probe)', [{ spec: key, state: done(tie) }], []],
    [
      'a ge stream: newest first with its count, over the pass filter (no first-load filter, no Media)',
      [{ spec: ge, state: done(tie) }],
      [
        {
          streams: [0],
          params: {
            $filter: `(OriginatingSystemName eq 'x') and (ModificationTimestamp ge ${T})`,
            $orderby: 'ModificationTimestamp desc',
            $top: '1',
            $select: 'ListingKey,ModificationTimestamp',
            $count: 'true',
          },
        },
      ],
    ],
    [
      'a ge stream declared without $count: none',
      [{ spec: { ...ge, capabilities: caps(false, true) }, state: done(tie) }],
      [],
    ],
    [
      'a ge stream declared without descending order: none',
      [{ spec: { ...ge, capabilities: caps(true, false) }, state: done(tie) }],
      [],
    ],
    [
      'a ge cursor set by hand (no keys at its instant): none',
      [{ spec: ge, state: done({ timestamp: T, key: '' }) }],
      [],
    ],
    ['the first load not done: none', [{ spec: ge, state: { initialDone: false, cursor: tie } }], []],
    ['no cursor yet: none', [{ spec: ge, state: done(undefined) }], []],
    [
      'main and photo key streams (PropTx): one probe, either cursor term, unordered',
      [
        { spec: key, state: done({ timestamp: T, key: 'K1' }) },
        { spec: photos, state: done({ timestamp: LATER, key: 'K2' }) },
      ],
      [
        {
          streams: [0, 1],
          params: {
            $filter: `(ModificationTimestamp gt ${T} or (ModificationTimestamp eq ${T} and ListingKey gt 'K1')) or (PhotosChangeTimestamp gt ${LATER} or (PhotosChangeTimestamp eq ${LATER} and ListingKey gt 'K2'))`,
            $top: '1',
            $select: 'ListingKey',
          },
        },
      ],
    ],
    [
      'a photo stream still loading: no probe for either',
      [
        { spec: key, state: done({ timestamp: T, key: 'K1' }) },
        { spec: photos, state: { initialDone: false, cursor: { timestamp: T, key: 'K1' } } },
      ],
      [],
    ],
  ])('%s', (_what, streams, expected) => {
    expect(probesFor(streams).map((p) => ({ streams: [...p.streams], params: params(p.url) }))).toEqual(expected);
  });
});

function caps(count: boolean, orderDescending: boolean): ServerCapabilities {
  return { count, orderDescending };
}

describe('geQuiet: the answer of a ge probe', () => {
  const page = (count: number | undefined, newest?: Record<string, unknown>): ODataPage => ({
    url: new URL(ge.resource),
    records: newest ? [newest] : [],
    ...(count === undefined ? {} : { count }),
  });
  const at = (k: string, ts = T) => ({ ListingKey: k, ModificationTimestamp: ts });
  test.each<[string, ODataPage, boolean]>([
    ['the tie as taken: newest at the instant, a known key, the count of the known keys', page(3, at('B')), true],
    ['the same instant written with another offset', page(3, at('B', '2026-01-05T11:00:00.123456+01:00')), true],
    ['nothing left at all', page(0), true],
    ['a record later than the instant (a change, a delete flag, a new listing)', page(4, at('Z', LATER)), false],
    ['one more at the instant (a late arrival)', page(4, at('A')), false],
    ['one fewer at the instant (a hard delete): not provably quiet', page(2, at('A')), false],
    ['the count of the known keys but an unknown key newest', page(3, at('Z')), false],
    ['no @odata.count (a server that ignores $count)', page(undefined, at('A')), false],
    ['a timestamp that is not an instant', page(3, at('A', 'yesterday')), false],
  ])('%s', (_what, p, quiet) => {
    expect(geQuiet(ge, T, ['A', 'B', 'C'], p)).toBe(quiet);
  });
});

// --- against the test server ---

class MemorySink implements PageSink {
  state: SourceState | undefined;
  taken: string[] = [];
  async commit(records: readonly RawListingRecord[], state: SourceState): Promise<void> {
    this.taken.push(...records.map((r) => r.value.listingKey));
    this.state = state;
  }
}

interface World {
  readonly d: ResoDataset;
  /** Keys of the initial load, all at one instant. */
  readonly keys: readonly string[];
  /** That instant: the cursor's after the load. */
  readonly at: string;
  /** Keys added by the steps so far, in order. */
  readonly added: string[];
}

interface Step {
  readonly change?: (w: World) => void;
  /** Requests the poll makes. */
  readonly requests: number;
  /** Keys the poll takes (each exactly once), as a function of the world after the change. */
  readonly takes: (w: World) => string[];
  /** The poll reports the probe refused. */
  readonly refused?: boolean;
}

const none = () => [];
const quiet: Step = { requests: 1, takes: none };
const TIE = 12; // the whole initial load at one instant, over pages of 5: a quiet pass would cost 3

interface ServerCase {
  readonly name: string;
  readonly preset: 'mlsgrid' | 'proptx';
  readonly quirks?: Partial<ResoQuirks>;
  readonly capabilities?: ServerCapabilities;
  readonly steps: readonly Step[];
}

const CASES: ServerCase[] = [
  { name: 'MLS Grid, nothing changed: one request per poll', preset: 'mlsgrid', steps: [quiet, quiet, quiet] },
  {
    name: 'MLS Grid, a record of the tie changes after a quiet period',
    preset: 'mlsgrid',
    steps: [
      quiet,
      // the probe, then the pass re-reads the 11 left at the instant and the changed one: 3 pages
      { change: (w) => w.d.changePrice(w.keys[3]!, 123_456), requests: 4, takes: (w) => [w.keys[3]!] },
      quiet,
    ],
  },
  {
    name: 'MLS Grid, a new listing after the tie',
    preset: 'mlsgrid',
    steps: [quiet, { change: (w) => w.added.push(w.d.addListing()), requests: 4, takes: (w) => w.added }, quiet],
  },
  {
    name: 'MLS Grid, a delete flag on a tie member (a modification)',
    preset: 'mlsgrid',
    steps: [quiet, { change: (w) => w.d.remove(w.keys[0]!), requests: 4, takes: (w) => [w.keys[0]!] }, quiet],
  },
  {
    name: 'MLS Grid, a late arrival at exactly the cursor instant',
    preset: 'mlsgrid',
    steps: [
      quiet,
      {
        change: (w) => w.d.atPastInstant(w.at, () => w.added.push(w.d.addListing())),
        requests: 4,
        takes: (w) => w.added,
      },
      quiet, // the tie is 13 now, all known
    ],
  },
  {
    name: 'MLS Grid, a hard delete in the tie: taken nothing, not provably quiet until the cursor moves',
    preset: 'mlsgrid',
    steps: [
      quiet,
      { change: (w) => w.d.vanish(w.keys[0]!), requests: 4, takes: none },
      { change: (w) => w.d.changePrice(w.keys[1]!, 1), requests: 4, takes: (w) => [w.keys[1]!] },
      quiet,
    ],
  },
  {
    name: 'MLS Grid, the residual: a late arrival masked by a hard delete waits for the next change, taken once',
    preset: 'mlsgrid',
    steps: [
      quiet,
      {
        change: (w) => {
          w.d.vanish(w.keys[0]!);
          w.d.atPastInstant(w.at, () => w.added.push(w.d.addListing()));
        },
        requests: 1, // the count matches and this server sends a known key first: judged quiet
        takes: none,
      },
      {
        change: (w) => w.d.changePrice(w.keys[1]!, 2),
        requests: 4,
        takes: (w) => [...w.added, w.keys[1]!],
      },
      quiet,
    ],
  },
  {
    name: 'MLS Grid refusing descending order: the passes run, the refusal is reported',
    preset: 'mlsgrid',
    quirks: { refuseDescending: true },
    steps: [
      { requests: 4, takes: none, refused: true },
      { change: (w) => w.d.changePrice(w.keys[2]!, 3), requests: 4, takes: (w) => [w.keys[2]!], refused: true },
    ],
  },
  {
    name: 'MLS Grid declared without $count: no probe, the tie re-read (3 pages)',
    preset: 'mlsgrid',
    quirks: { refuseCount: true },
    capabilities: { count: false, orderDescending: true },
    steps: [
      { requests: 3, takes: none },
      { change: (w) => w.d.changePrice(w.keys[2]!, 3), requests: 3, takes: (w) => [w.keys[2]!] },
    ],
  },
  { name: 'PropTx (main and photo streams), nothing changed', preset: 'proptx', steps: [quiet, quiet] },
  {
    name: 'PropTx, a photo change alone (ModificationTimestamp unmoved)',
    preset: 'proptx',
    steps: [
      quiet,
      // the probe; the main pass (1, empty); the photo pass (1)
      { change: (w) => w.d.changePhotos(w.keys[4]!), requests: 3, takes: (w) => [w.keys[4]!] },
      quiet,
    ],
  },
  {
    name: 'PropTx, a price change',
    preset: 'proptx',
    steps: [quiet, { change: (w) => w.d.changePrice(w.keys[4]!, 9), requests: 3, takes: (w) => [w.keys[4]!] }, quiet],
  },
];

describe.each(CASES)('$name', ({ preset, quirks, capabilities, steps }) => {
  test('each poll: its requests, and what it takes exactly once', async () => {
    const q: ResoQuirks = {
      ...PRESETS[preset],
      auth: { kind: 'bearer', token: 'local-token' },
      rateLimitPerSecond: undefined,
      ...quirks,
    };
    const d = new ResoDataset({
      seed: 5,
      count: TIE,
      tieSize: TIE,
      deletes: q.deletes,
      photoChangeBumpsModification: q.photoChangeBumpsModification,
      originatingSystem: 'listflow',
    });
    const server = await startResoServer({ sources: [{ name: 's', quirks: q, dataset: d }] });
    const guarded = localGuardedClient(server.url);
    try {
      const client = localSourceClient('s', guarded);
      const main: ReplicationSpec = {
        ...(preset === 'mlsgrid' ? ge : key),
        ...(preset === 'mlsgrid' ? { filter: "OriginatingSystemName eq 'listflow'", nextLinkEncoding: 'double' } : {}),
        resource: server.source('s').resourceUrl,
        ...(capabilities ? { capabilities } : {}),
      };
      const specs =
        preset === 'proptx' ? { main, photos: { ...main, timestampField: 'PhotosChangeTimestamp' } } : { main };
      const sink = new MemorySink();
      const poll = () =>
        syncSource({
          source: { name: 's', pollIntervalMs: 1000 },
          specs,
          client,
          start: sink.state,
          sink,
          signal: new AbortController().signal,
        });
      await poll(); // the initial load
      const keys = [...d.records.keys()];
      expect(new Set(sink.taken)).toEqual(new Set(keys));
      const w: World = { d, keys, at: d.records.get(keys[0]!)!.ModificationTimestamp, added: [] };
      expect(sink.state?.cursor?.timestamp).toBe(w.at);
      const seen: unknown[] = [];
      const expected: unknown[] = [];
      for (const step of steps) {
        step.change?.(w);
        sink.taken = [];
        const r = await poll();
        seen.push({ requests: r.requests, takes: [...sink.taken].sort(), refused: r.probeRefused !== undefined });
        expected.push({ requests: step.requests, takes: step.takes(w).sort(), refused: !!step.refused });
      }
      expect(seen).toEqual(expected);
    } finally {
      await guarded.close();
      await server.close();
    }
  });
});
