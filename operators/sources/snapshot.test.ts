import { PermanentError, RetriableError } from '../../runtime/errors';
import type { FeedItem } from '../ingest/feed-readers';
import type { RawListingRecord } from './raw-listings';
import { payloadDigest, syncSnapshot } from './snapshot';
import { guardSnapshot, SnapshotRefusedError } from './snapshot-guard';
import type { SnapshotSource } from './source-spec';
import type { SourceState } from './state';

const source: SnapshotSource = {
  name: 'snap',
  kind: 'file',
  uri: 'file:///x/feed.json',
  format: 'json',
  pageSize: 2,
  maxDeleteFraction: 0.5,
  pollIntervalMs: 1000,
  country: 'US',
};

type Listing = [key: string, price: number];
const itemsOf = (listings: readonly Listing[]): FeedItem[] =>
  listings.map(([k, p], i) => ({
    ok: true,
    listingKey: k,
    payload: JSON.stringify({ ListingKey: k, ListPrice: p }),
    position: i,
    line: i + 1,
    page: 1,
  }));

/** A source's committed world: its state, its keys (digest per key) and every record committed, per commit. */
function world() {
  const commits: Array<{ records: readonly RawListingRecord[]; state: SourceState }> = [];
  const keys = new Map<string, string | null>();
  let state: SourceState | undefined;
  let failAfter: number | undefined;
  return {
    commits,
    keys,
    state: () => state,
    failCommitAfter: (n: number) => {
      failAfter = n;
    },
    sink: {
      commit: async (records: readonly RawListingRecord[], s: SourceState) => {
        if (failAfter !== undefined && commits.length >= failAfter) throw new RetriableError('SOURCE_UNAVAILABLE', 'x');
        commits.push({ records, state: s });
        for (const r of records) {
          if (r.deleted) keys.delete(r.value.listingKey);
          else keys.set(r.value.listingKey, r.digest ?? null);
        }
        state = s;
      },
    },
  };
}

const run = (
  w: ReturnType<typeof world>,
  feed: () => AsyncIterable<FeedItem>,
  o: { maxDeleteFraction?: number; allowMassDelete?: boolean } = {},
) =>
  syncSnapshot({
    source: { ...source, maxDeleteFraction: o.maxDeleteFraction ?? source.maxDeleteFraction },
    ...(o.allowMassDelete ? { allowMassDelete: true } : {}),
    read: feed,
    held: async () => new Map(w.keys),
    start: w.state(),
    sink: w.sink,
    retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 1 },
    signal: new AbortController().signal,
    now: () => new Date('2026-12-02T00:00:00Z'),
    sleep: async () => undefined,
  });

const feedOf = (listings: readonly Listing[]) => () =>
  (async function* () {
    yield* itemsOf(listings);
  })();

const sent = (w: ReturnType<typeof world>) =>
  w.commits.flatMap((c) => c.records.map((r) => `${r.value.listingKey}${r.deleted ? ' DELETE' : ''}`));

const FIRST: Listing[] = [
  ['A', 1],
  ['B', 2],
  ['C', 3],
  ['D', 4],
  ['E', 5],
];

describe('syncSnapshot', () => {
  it.each<[string, Listing[], string[]]>([
    ['unchanged: nothing', FIRST, []],
    [
      'one changed, one new, one removed',
      [
        ['A', 1],
        ['B', 20],
        ['C', 3],
        ['E', 5],
        ['F', 6],
      ],
      ['B', 'F', 'D DELETE'],
    ],
    ['reordered only: nothing sent, the new identity committed', [...FIRST].reverse(), []],
    ['two of five removed (40%, within 0.5)', FIRST.slice(0, 3), ['D DELETE', 'E DELETE']],
  ])('after a first load, a second snapshot %s', async (_n, second, expected) => {
    const w = world();
    const first = await run(w, feedOf(FIRST));
    expect(first).toMatchObject({ records: 5, deletes: 0, pages: 3, unchanged: false });
    // Chunks of pageSize, each with its position; only the last one says done.
    expect(w.commits.map((c) => [c.records.length, c.state.snapshot?.position, c.state.snapshot?.done])).toEqual([
      [2, 2, false],
      [2, 4, false],
      [1, 5, true],
    ]);
    const before = w.commits.length;
    const r = await run(w, feedOf(second));
    const newly = w.commits.slice(before).flatMap((c) => c.records);
    expect(newly.map((x) => `${x.value.listingKey}${x.deleted ? ' DELETE' : ''}`)).toEqual(expected);
    expect(r.unchanged).toBe(second === FIRST);
    expect(w.commits.length - before).toBe(second === FIRST ? 0 : Math.max(1, Math.ceil(expected.length / 2)));
    expect([...w.keys.keys()].sort()).toEqual(second.map(([k]) => k).sort());
    const st = w.state()!;
    expect(st.counts.records + st.counts.deletes).toBe(sent(w).length);
    expect(st.snapshot?.done).toBe(true);
  });

  it('with no state (a reset to the beginning) every listing is sent again, and what is gone deleted', async () => {
    const w = world();
    await run(w, feedOf(FIRST));
    // A fresh world with the same keys: the state was tombstoned, listings.source-keys kept.
    const again = world();
    for (const [k, d] of w.keys) again.keys.set(k, d);
    await run(again, feedOf(FIRST.slice(0, 4)));
    expect(sent(again)).toEqual(['A', 'B', 'C', 'D', 'E DELETE']);
    expect(again.state()?.counts).toMatchObject({ records: 4, deletes: 1 });
  });

  it('a deleted listing is a key-only DELETE, as a purge pass makes it', async () => {
    const w = world();
    await run(w, feedOf(FIRST));
    await run(w, feedOf(FIRST.slice(1)));
    const del = w.commits.at(-1)!.records[0]!;
    expect(del).toMatchObject({
      key: 'snap:A',
      deleted: true,
      value: { jobId: 'snap@purge-2026-12-02T00:00:00.000Z' },
    });
    expect(JSON.parse(del.value.payload)).toMatchObject({ ListingKey: 'A', StandardStatus: 'Delete' });
  });

  it('a crash mid-snapshot resumes after the last committed chunk: nothing lost, nothing twice', async () => {
    const w = world();
    w.failCommitAfter(1);
    await expect(run(w, feedOf(FIRST))).rejects.toThrow(RetriableError);
    expect(w.state()?.snapshot).toEqual({
      id: expect.any(String),
      position: 2,
      done: false,
      total: 5,
      takenAt: '2026-12-02T00:00:00.000Z',
    });
    w.failCommitAfter(Number.POSITIVE_INFINITY);
    await run(w, feedOf(FIRST));
    expect(sent(w)).toEqual(['A', 'B', 'C', 'D', 'E']);
    expect(w.state()?.counts).toMatchObject({ records: 5, deletes: 0 });
  });

  it('a feed that changed between the identifying read and the second is left undone, and deletes nothing', async () => {
    const w = world();
    await run(w, feedOf(FIRST));
    const reads = [FIRST.slice(0, 4), FIRST.slice(0, 3)];
    let n = 0;
    const r = await run(w, () => feedOf(reads[Math.min(n++, 1)]!)());
    expect(r.deletes).toBe(0);
    expect(w.state()?.snapshot?.done).toBe(true); // the first load's state: nothing was committed
    // The next poll reads the (now stable) snapshot afresh and applies it.
    await run(w, feedOf(FIRST.slice(0, 3)));
    expect(sent(w).slice(5)).toEqual(['D DELETE', 'E DELETE']);
  });

  it.each<[string, Error, number]>([
    ['retried within the bounded policy, then the poll fails', new RetriableError('INGEST_FEED_UNREACHABLE', 'x'), 3],
    ['a permanent failure at once', new PermanentError('INGEST_FEED_NOT_FOUND', 'x'), 1],
  ])('an unreadable snapshot is %s', async (_n, error, attempts) => {
    const w = world();
    let reads = 0;
    const failing = (): AsyncIterable<FeedItem> => ({
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          reads++;
          throw error;
        },
      }),
    });
    await expect(run(w, failing)).rejects.toBe(error);
    expect(reads).toBe(attempts);
    expect(w.commits).toEqual([]);
  });

  it('skips an unreadable record and keeps its digest out of the keys', async () => {
    const w = world();
    const items: FeedItem[] = [
      ...itemsOf([['A', 1]]),
      { ok: false, code: 'INGEST_RECORD_UNPARSEABLE', reason: 'bad', payload: '{', position: 1, line: 2, page: 1 },
    ];
    await run(w, () =>
      (async function* () {
        yield* items;
      })(),
    );
    expect(sent(w)).toEqual(['A']);
    expect(w.keys.get('A')).toBe(payloadDigest(JSON.stringify({ ListingKey: 'A', ListPrice: 1 })));
    expect(w.state()?.snapshot).toMatchObject({ position: 2, done: true });
  });
});

describe('the mass-delete guard', () => {
  const B_CHANGED: Listing[] = [
    ['A', 1],
    ['B', 20],
  ];
  it.each<[string, Listing[], { maxDeleteFraction?: number; allowMassDelete?: boolean }, string[] | RegExp]>([
    ['an empty snapshot is refused', [], {}, /lists no listing while the source holds 5/],
    ['an empty snapshot is refused even at maxDeleteFraction 1', [], { maxDeleteFraction: 1 }, /lists no listing/],
    [
      'an empty snapshot is applied when allowed',
      [],
      { allowMassDelete: true },
      ['A DELETE', 'B DELETE', 'C DELETE', 'D DELETE', 'E DELETE'],
    ],
    [
      'three of five deleted (60%) is refused at 0.5, nothing of it written',
      B_CHANGED,
      {},
      /would delete 3 of the 5 listings the source holds \(60%\), more than its maxDeleteFraction 0\.5 \(50%\); it lists 2/,
    ],
    [
      'three of five deleted is applied at 0.6 (the bound itself is allowed)',
      B_CHANGED,
      { maxDeleteFraction: 0.6 },
      ['B', 'C DELETE', 'D DELETE', 'E DELETE'],
    ],
    [
      'three of five deleted is applied when allowed',
      B_CHANGED,
      { allowMassDelete: true },
      ['B', 'C DELETE', 'D DELETE', 'E DELETE'],
    ],
    ['one of five deleted is refused at 0', FIRST.slice(1), { maxDeleteFraction: 0 }, /would delete 1 of the 5/],
  ])('%s', async (_n, second, o, expected) => {
    const w = world();
    await run(w, feedOf(FIRST));
    const first = w.state()!;
    const keys = new Map(w.keys);
    const before = w.commits.length;
    const attempt = run(w, feedOf(second), o);
    if (expected instanceof RegExp) {
      const e = await attempt.catch((x: unknown) => x);
      expect(e).toBeInstanceOf(SnapshotRefusedError);
      const err = e as SnapshotRefusedError;
      expect(err.code).toBe('SOURCE_SNAPSHOT_REFUSED');
      expect(err.retriable).toBe(true); // the poller keeps polling
      expect(err.message).toMatch(expected);
      expect(err.message).toContain('Source snap: snapshot ');
      expect(err.message).toContain('listflow sources sync snap --once --allow-mass-delete');
      expect(err.message).toContain('raise maxDeleteFraction of snap');
      // Nothing of the snapshot: one commit, of the state alone, recording the refusal.
      expect(w.commits.slice(before).map((c) => c.records.length)).toEqual([0]);
      expect(w.keys).toEqual(keys);
      const st = w.state()!;
      expect(st.snapshot).toEqual(first.snapshot);
      expect(st.counts).toEqual(first.counts);
      expect(st.refused).toMatchObject({
        code: 'SOURCE_SNAPSHOT_REFUSED',
        known: 5,
        listed: new Set(second.map(([k]) => k)).size,
        deletes: 5 - second.length,
        message: err.message,
      });
      expect(st.refused?.snapshot).not.toBe(first.snapshot?.id);
    } else {
      await attempt;
      expect(sent(w).slice(5)).toEqual(expected);
      expect(w.state()?.refused).toBeUndefined();
      expect(w.state()?.snapshot?.done).toBe(true);
    }
  });

  it('records a refusal once, keeps refusing the same snapshot, and a later good snapshot proceeds and clears it', async () => {
    const w = world();
    await run(w, feedOf(FIRST));
    await expect(run(w, feedOf([]))).rejects.toThrow(SnapshotRefusedError);
    const afterFirstRefusal = w.commits.length;
    // The same bad snapshot at the next poll: refused again, the state already says so (no commit).
    await expect(run(w, feedOf([]))).rejects.toThrow(SnapshotRefusedError);
    expect(w.commits.length).toBe(afterFirstRefusal);
    // A good snapshot (one changed, one deleted: 20%) proceeds, and the refusal is gone from the state.
    const good: Listing[] = [
      ['A', 10],
      ['B', 2],
      ['C', 3],
      ['D', 4],
    ];
    const r = await run(w, feedOf(good));
    expect(r).toMatchObject({ records: 1, deletes: 1 });
    expect(w.state()?.refused).toBeUndefined();
    expect(w.state()?.snapshot).toMatchObject({ done: true, position: 4, total: 4 });
  });

  it('a feed restored to the snapshot already applied clears the refusal and sends nothing', async () => {
    const w = world();
    await run(w, feedOf(FIRST));
    await expect(run(w, feedOf(FIRST.slice(0, 1)))).rejects.toThrow(SnapshotRefusedError);
    const before = w.commits.length;
    const r = await run(w, feedOf(FIRST));
    expect(r.unchanged).toBe(true);
    expect(w.commits.slice(before).map((c) => c.records.length)).toEqual([0]);
    expect(w.state()?.refused).toBeUndefined();
  });

  it('a first load (nothing held) is never refused, and the snapshot keeps its total and when it was taken', async () => {
    const w = world();
    await run(w, feedOf([]));
    expect(w.state()?.refused).toBeUndefined();
    await run(w, feedOf(FIRST));
    expect(w.state()?.snapshot).toMatchObject({ total: 5, takenAt: '2026-12-02T00:00:00.000Z', done: true });
  });
});

describe('guardSnapshot', () => {
  it.each<[string, { known: number; listed: number; deletes: number }, number, string]>([
    ['nothing held', { known: 0, listed: 0, deletes: 0 }, 0.5, 'ok'],
    ['nothing deleted', { known: 10, listed: 12, deletes: 0 }, 0, 'ok'],
    ['empty while held', { known: 10, listed: 0, deletes: 10 }, 1, 'empty'],
    ['at the bound', { known: 10, listed: 5, deletes: 5 }, 0.5, 'ok'],
    ['past the bound', { known: 10, listed: 4, deletes: 6 }, 0.5, 'fraction'],
    ['one of many at 0', { known: 1000, listed: 999, deletes: 1 }, 0, 'fraction'],
  ])('%s', (_n, counts, max, verdict) => {
    const v = guardSnapshot(counts, max);
    expect(v.ok ? 'ok' : v.reason).toBe(verdict);
  });
});
