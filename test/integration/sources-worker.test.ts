/**
 * The sources step as worker processes on the real broker and registry, against the project's RESO test
 * server with four quirky sources (test/support/sources-run.ts: MLS Grid, Trestle, Spark, PropTx presets;
 * pages of 5 under ties of 7, a poll a second). Downstream reads listings.raw read_committed; what it folds
 * into must equal the server's truth() for every source, with no record version twice:
 * 1. one worker through the initial load (every fault on, tokens expired mid-pass) and two rounds of changes;
 * 2. kill -9 of the worker five times mid-pass;
 * 3. two replicas: each source polled by one of them at a time, across rebalances;
 * 4. quiet polls: one request per source (MLS Grid's tie at its cursor larger than a page, PropTx's two streams),
 *    nothing committed; changes after the quiet period (a late arrival at MLS Grid's cursor instant included)
 *    taken once.
 * Spark's deletes come from a purge pass (every minute here): test 1 waits for it and checks the replica
 * strictly; elsewhere a removed Spark key may keep its last version until that pass, and is allowed to.
 */
import { connectedKafka, scratchDir } from '../support/kafka-suite';
import { stopWorker } from '../support/pipeline-workers';
import {
  changeRound,
  decodeRaw,
  everyFault,
  expectedReplica,
  isPurgeDelete,
  logLines,
  type RawSeen,
  readRaw,
  readStates,
  replicaOf,
  SOURCE_NAMES,
  type SourceName,
  type SourcesRun,
  startSourcesRun,
  unequalSources,
  versionOf,
} from '../support/sources-run';
import { startReader, type TopicReader, type WorkerProcess, waitFor } from '../support/streams';

jest.setTimeout(240_000);

const k = connectedKafka('itest-sources-worker');
const scratch = scratchDir('itest-sources-worker-');

const runs: SourcesRun[] = [];
const workers: WorkerProcess[] = [];
const readers: TopicReader<unknown>[] = [];
afterAll(async () => {
  await Promise.all(workers.map(stopWorker));
  await Promise.all(readers.map((r) => r.stop()));
  await Promise.all(runs.map((r) => r.close()));
});

async function newRun(
  o: Parameters<typeof startSourcesRun>[3],
): Promise<{ run: SourcesRun; raw: TopicReader<unknown> }> {
  const run = await startSourcesRun(k.admin, k.kafka, scratch.path, o);
  runs.push(run);
  const raw = await startReader<unknown>(k.kafka, run.topics.raw); // read_committed: the kafkajs default
  readers.push(raw);
  return { run, raw };
}

function worker(run: SourcesRun): WorkerProcess {
  const w = run.startWorker();
  workers.push(w);
  return w;
}

const seenOf = (raw: TopicReader<unknown>): Promise<RawSeen[]> => decodeRaw(raw.records.map((r) => r.raw));

/** Waits until the replica of every source equals its truth; names the ones that do not on timeout. */
async function caughtUp(run: SourcesRun, raw: TopicReader<unknown>, ws: () => WorkerProcess[], timeoutMs = 120_000) {
  let behind: SourceName[] = [...SOURCE_NAMES];
  const ok = await waitFor(
    async () => {
      behind = unequalSources(run, await seenOf(raw));
      return behind.length === 0;
    },
    timeoutMs,
    500,
  );
  if (!ok) {
    for (const w of ws()) console.log(w.output().slice(-6000));
    throw new Error(`not caught up after ${timeoutMs} ms: ${behind.join(', ')}`);
  }
}

/** No record version twice (PropTx: at most once per stream, main and photos, which both see a new record). */
function versionsTwice(seen: readonly RawSeen[]): string[] {
  const n = new Map<string, number>();
  for (const s of seen) n.set(`${s.source}|${versionOf(s)}`, (n.get(`${s.source}|${versionOf(s)}`) ?? 0) + 1);
  return [...n].filter(([v, c]) => c > (v.startsWith('local-proptx|') ? 2 : 1)).map(([v, c]) => `${v} x${c}`);
}

/** The final checks of a run: raw (read committed, read afresh) equals the truth, no version twice, state = last page. */
async function expectReplicated(run: SourcesRun): Promise<RawSeen[]> {
  const seen = await readRaw(k.kafka, run.topics.raw);
  for (const s of SOURCE_NAMES) {
    expect({ source: s, replica: replicaOf(seen, s) }).toEqual({ source: s, replica: expectedReplica(run, s, seen) });
  }
  // No page twice, kill -9 or not. (A page once read twice after kill -9 in CI was kafkajs's read_committed filter
  // delivering an aborted transaction's records when several producers' aborted transactions interleave;
  // scripts/kafkajs-patch/ fixes it, runtime/kafka-client/kafkajs-aborted-filter.test.ts shows the case.)
  expect(versionsTwice(seen)).toEqual([]);
  const states = await readStates(k.kafka, run.topics.state);
  for (const s of SOURCE_NAMES) {
    const all = seen.filter((r) => r.source === s);
    // The cursor follows the server's versions; a purge pass's DELETEs carry the purge's own time.
    const mine = all.filter((r) => !isPurgeDelete(r));
    const maxOf = (field: string) =>
      mine
        .map((r) => String(r.record[field]))
        .sort()
        .at(-1);
    const last = maxOf('ModificationTimestamp');
    const atLast = mine.filter((r) => r.record.ModificationTimestamp === last).map((r) => r.key);
    const st = states.get(s);
    expect({ source: s, initialDone: st?.initialDone, timestamp: st?.cursor?.timestamp }).toEqual({
      source: s,
      initialDone: true,
      timestamp: last,
    });
    // key ties: the cursor is the last record's (timestamp, key); ge ties (MLS Grid) keep every key at the instant.
    if (s === 'local-mlsgrid')
      expect([...(st?.cursor?.keysAtTimestamp ?? [])].sort()).toEqual([...new Set(atLast)].sort());
    else expect(st?.cursor?.key).toBe([...atLast].sort().at(-1));
    if (s === 'local-proptx') expect(st?.photoCursor?.timestamp).toBe(maxOf('PhotosChangeTimestamp'));
    // The counts are committed with the cursor, in the same transaction as the records they count.
    expect((st?.counts.records ?? 0) + (st?.counts.deletes ?? 0)).toBe(all.length);
  }
  return seen;
}

const changeAll = (run: SourcesRun, round: number) => {
  for (const s of SOURCE_NAMES) changeRound(run, s, round);
};

test('one worker replicates 4 quirky sources through the initial load and two rounds of changes', async () => {
  const { run, raw } = await newRun({ seed: 500, count: 60, faults: everyFault });
  const w = worker(run);
  // A token expiring mid-pass, on both OAuth2 sources.
  expect(
    await waitFor(async () => (await seenOf(raw)).filter((r) => r.source === 'local-mlsgrid').length >= 15, 60_000),
  ).toBe(true);
  run.server.source('local-mlsgrid').expireTokens();
  run.server.source('local-trestle').expireTokens();
  await caughtUp(run, raw, () => [w]);
  changeAll(run, 1);
  await caughtUp(run, raw, () => [w]);
  changeAll(run, 2);
  await caughtUp(run, raw, () => [w]);
  // Spark's removed listings: its next purge pass (a minute after the last) deletes them; then the replica is
  // the server's truth with no exception.
  const spark = run.dataset('local-spark');
  expect(
    await waitFor(async () => {
      const replica = replicaOf(await seenOf(raw), 'local-spark');
      return replica.size === spark.truth().size && [...spark.truth().keys()].every((key) => replica.has(key));
    }, 100_000),
  ).toBe(true);
  expect(
    (await seenOf(raw))
      .filter(isPurgeDelete)
      .map((r) => r.key)
      .sort(),
  ).toEqual([...run.purged.get('local-spark')!].sort());
  await expectReplicated(run);
  const statuses = new Set(run.server.log.filter((e) => e.kind === 'resource').map((e) => e.status));
  expect([...statuses]).toEqual(expect.arrayContaining([200, 401, 429, 503, 'reset']));
  expect(run.server.source('local-mlsgrid').tokensIssued()).toBeGreaterThanOrEqual(2);
  expect(await stopWorker(w)).toBe(0);
});

test('kill -9 of the worker 5 times mid-pass: the same equality, cursors and counts, and no page twice', async () => {
  const { run, raw } = await newRun({ seed: 600, count: 100, faults: everyFault });
  let w = worker(run);
  const total = SOURCE_NAMES.length * 100;
  const atKill: number[] = [];
  for (let i = 0; i < 5; i++) {
    const from = raw.records.length;
    // Pages are being committed: kill a moment (0-300 ms, random) after the next one shows.
    expect(await waitFor(() => raw.records.length >= from + 5, 60_000, 20)).toBe(true);
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 300)));
    w.child.kill('SIGKILL');
    await w.exited;
    atKill.push(raw.records.length);
    w = worker(run);
  }
  expect(atKill.at(-1)!).toBeLessThan(total); // every kill was mid-pass of the initial load
  await caughtUp(run, raw, () => [w]);
  changeAll(run, 1);
  await caughtUp(run, raw, () => [w]);
  await expectReplicated(run);
  console.log(`sources crash: killed at ${atKill.join(', ')} of ${total}+ raw records`);
  expect(await stopWorker(w)).toBe(0);
});

/** Per source, the [first, last] request of each poller (its own OAuth2 token); the overlapping pairs. */
function overlappingPollers(run: SourcesRun): string[] {
  const out: string[] = [];
  for (const s of SOURCE_NAMES) {
    const spans = new Map<string, [number, number]>();
    for (const e of run.server.log) {
      if (e.source !== s || e.kind !== 'resource' || e.token === undefined) continue;
      const sp = spans.get(e.token);
      spans.set(e.token, sp ? [sp[0], e.at] : [e.at, e.at]);
    }
    const list = [...spans.values()].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < list.length; i++)
      if (list[i]![0] <= list[i - 1]![1]) out.push(`${s}: ${list[i - 1]} overlaps ${list[i]}`);
  }
  return out;
}

/** The sources a worker owns now: owned, and not stopped since (its log, in order). */
function ownedBy(w: WorkerProcess): Set<string> {
  const owned = new Set<string>();
  for (const line of w.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    let l: Record<string, unknown>;
    try {
      l = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (l.msg === 'source owned: replicating') owned.add(String(l.source));
    else if (l.msg === 'stopping owner') owned.delete(String(l.key));
  }
  return owned;
}

test('two replicas: each source has one poller at a time, across a rebalance (kill one, start it again)', async () => {
  const { run, raw } = await newRun({ seed: 700, count: 60, allOauth: true });
  const a = worker(run);
  let b = worker(run);
  await caughtUp(run, raw, () => [a, b]);
  // Once both have joined, the four sources are spread: each owned by one of them, neither has all.
  expect(
    await waitFor(() => ownedBy(a).size > 0 && ownedBy(b).size > 0 && ownedBy(a).size + ownedBy(b).size === 4, 60_000),
  ).toBe(true);
  expect([...ownedBy(a)].filter((s) => ownedBy(b).has(s))).toEqual([]);
  b.child.kill('SIGKILL');
  await b.exited;
  // The other takes all four.
  expect(await waitFor(() => ownedBy(a).size === 4, 60_000)).toBe(true);
  changeAll(run, 1);
  await caughtUp(run, raw, () => [a]);
  b = worker(run);
  // Sources spread again: the new replica owns some, and the first stops them.
  expect(await waitFor(() => ownedBy(b).size > 0 && ownedBy(b).size < 4, 60_000)).toBe(true);
  changeAll(run, 2);
  await caughtUp(run, raw, () => [a, b]);
  expect(logLines(a.output(), 'stopping owner').length).toBeGreaterThan(0);
  await expectReplicated(run);
  expect(overlappingPollers(run)).toEqual([]);
  expect(await stopWorker(b)).toBe(0);
  expect(await stopWorker(a)).toBe(0);
});

test('quiet polls: one request per source, nothing committed; changes after them taken once', async () => {
  const { run, raw } = await newRun({ seed: 800, count: 20 });
  const w = worker(run);
  await caughtUp(run, raw, () => [w]);
  // Spark's first purge pass follows its initial load (and commits its time); the next is a minute away.
  expect(
    await waitFor(
      async () => (await readStates(k.kafka, run.topics.state)).get('local-spark')?.lastPurgeAt != null,
      30_000,
    ),
  ).toBe(true);
  // Let a first quiet poll pass (the commit of the load's last page may still be settling in the offsets).
  const resources = (s: string) => run.server.log.filter((e) => e.source === s && e.kind === 'resource');
  const mark = new Map(SOURCE_NAMES.map((s) => [s, resources(s).length]));
  expect(await waitFor(() => SOURCE_NAMES.every((s) => resources(s).length > mark.get(s)! + 1), 30_000)).toBe(true);
  const ends = async () =>
    JSON.stringify(await Promise.all([run.topics.state, run.topics.raw].map((t) => k.admin.fetchTopicOffsets(t))));
  /**
   * Five more polls of every source commit nothing and cost one request each, for every source (the quiet-poll
   * probe, operators/sources/quiet-probe.ts): PropTx's main and photo streams share one probe, and MLS Grid
   * (`ge` ties) probes newest-first with $count instead of re-reading the tie at its cursor's instant.
   */
  async function expectQuietPolls(): Promise<void> {
    const before = await ends();
    const from = new Map(SOURCE_NAMES.map((s) => [s, resources(s).length]));
    expect(await waitFor(() => SOURCE_NAMES.every((s) => resources(s).length >= from.get(s)! + 5), 30_000)).toBe(true);
    expect(await ends()).toBe(before);
    for (const s of SOURCE_NAMES) {
      // A poll's requests come back to back; polls are a poll interval (1 s) apart.
      const times = resources(s)
        .slice(from.get(s)!)
        .map((e) => e.at);
      const polls: number[] = [];
      for (let i = 0; i < times.length; i++) {
        if (i === 0 || times[i]! - times[i - 1]! > 500) polls.push(1);
        else polls[polls.length - 1]!++;
      }
      polls.pop(); // the last may be cut by the window
      expect({ source: s, perPoll: [...new Set(polls)], enough: polls.length >= 2 }).toEqual({
        source: s,
        perPoll: [1],
        enough: true,
      });
    }
  }
  await expectQuietPolls();
  const mlsCursor = (await readStates(k.kafka, run.topics.state)).get('local-mlsgrid')?.cursor;
  // The tie at MLS Grid's cursor instant is larger than the run's pages of 5: a pass would re-read it in 2.
  expect(mlsCursor?.keysAtTimestamp?.length).toBeGreaterThan(5);

  // After the quiet period: a late arrival at exactly MLS Grid's cursor instant, a change of a record at that
  // instant, and on every source a change after it. Each is taken, once (expectReplicated: no version twice).
  const mls = run.dataset('local-mlsgrid');
  mls.atPastInstant(mlsCursor!.timestamp, () => mls.addListing());
  mls.changePrice(mlsCursor!.keysAtTimestamp![0]!, 313_131);
  for (const s of SOURCE_NAMES) {
    const d = run.dataset(s);
    d.changePrice(d.liveKeys()[1]!, 424_242);
  }
  await caughtUp(run, raw, () => [w]);
  await expectReplicated(run);
  // Let the poll that took the changes settle, then quiet again.
  const mark2 = new Map(SOURCE_NAMES.map((s) => [s, resources(s).length]));
  expect(await waitFor(() => SOURCE_NAMES.every((s) => resources(s).length > mark2.get(s)! + 1), 30_000)).toBe(true);
  await expectQuietPolls();
  expect(await stopWorker(w)).toBe(0);
});
