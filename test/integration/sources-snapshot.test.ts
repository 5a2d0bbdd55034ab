/**
 * A `file` snapshot source replicated by a sources worker process on the real broker and registry
 * (test/support/sources-run.ts startSourcesStep): the worker reads the file every second with ingest's reader
 * and produces what changed to listings.raw, read back read_committed.
 * 1. the first load: every listing once, in chunks of pageSize, the state done with the counts;
 * 2. a second snapshot with one changed, one new and one removed listing: exactly those two versions and one
 *    DELETE more (a purge pass's key-only DELETE), and the removed key gone from listings.source-keys;
 * 3. the same snapshot written again (new mtime, same content): nothing produced, the state untouched;
 * 4. kill -9 of the worker 3 times mid-snapshot (3,000 listings in chunks of 20): every listing exactly once;
 * 5. the mass-delete guard: an emptied feed, then one that drops 3 of 5 listings, are refused by the running
 *    worker (nothing written, the refusal in the committed state, an error logged, the worker still polling),
 *    and a later snapshot within maxDeleteFraction proceeds and clears the refusal.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readAllToEnd } from '../../runtime/topic-reader';
import { connectedKafka, scratchDir } from '../support/kafka-suite';
import { stopWorker } from '../support/pipeline-workers';
import { isPurgeDelete, type RawSeen, readRaw, readStates, startSourcesStep } from '../support/sources-run';
import { startReader, type TopicReader, type WorkerProcess, waitFor } from '../support/streams';

jest.setTimeout(120_000);

const k = connectedKafka('itest-sources-snapshot');
const scratch = scratchDir('itest-sources-snapshot-');
const workers: WorkerProcess[] = [];
const readers: TopicReader<unknown>[] = [];
afterAll(async () => {
  await Promise.all(workers.map(stopWorker));
  await Promise.all(readers.map((r) => r.stop()));
});

const snapshotYaml = (feed: string, pageSize: number) => `sources:
  - name: snap-file
    kind: file
    uri: "file://${feed}"
    format: json
    pageSize: ${pageSize}
    pollInterval: 1s
    country: US
    currency: USD
`;

type Listing = { ListingKey: string; ListPrice: number; StandardStatus: string; ModificationTimestamp: string };
const listing = (n: number, price: number): Listing => ({
  ListingKey: `SNAP-${n}`,
  ListPrice: price,
  StandardStatus: 'Active',
  ModificationTimestamp: `2026-12-0${price % 9}T10:00:00.000000Z`,
});

/** Replaces the feed in one rename, so that a poll never reads half a snapshot. */
function writeSnapshot(file: string, listings: readonly Listing[]): void {
  writeFileSync(`${file}.tmp`, JSON.stringify(listings));
  renameSync(`${file}.tmp`, file);
}

const versions = (seen: readonly RawSeen[]) =>
  seen.map((s) => (isPurgeDelete(s) ? `${s.key} DELETE` : `${s.key}@${String(s.record.ListPrice)}`)).sort();

test('a file snapshot: first load, one changed, one new, one removed, then an unchanged snapshot', async () => {
  const feed = join(scratch.path, 'snapshot.json');
  const first = [1, 2, 3, 4, 5].map((n) => listing(n, 100 + n));
  writeSnapshot(feed, first);
  const step = await startSourcesStep(k.admin, k.kafka, scratch.path, snapshotYaml(feed, 2), {});
  const w = step.startWorker();
  workers.push(w);
  const raw = () => readRaw(k.kafka, step.topics.raw);
  const state = async () => (await readStates(k.kafka, step.topics.state)).get('snap-file');

  const loaded = await waitFor(async () => (await state())?.snapshot?.done === true, 60_000, 500);
  if (!loaded) console.log(w.output().slice(-6000));
  expect(loaded).toBe(true);
  expect(versions(await raw())).toEqual(first.map((l) => `${l.ListingKey}@${l.ListPrice}`).sort());
  expect((await state())?.counts).toMatchObject({ records: 5, deletes: 0, pages: 3 });
  const firstId = (await state())?.snapshot?.id;

  // One changed (SNAP-2), one new (SNAP-6), one removed (SNAP-4).
  const second = [listing(1, 101), listing(2, 222), listing(3, 103), listing(5, 105), listing(6, 106)];
  writeSnapshot(feed, second);
  expect(await waitFor(async () => (await state())?.snapshot?.id !== firstId, 30_000, 500)).toBe(true);
  expect(await waitFor(async () => (await state())?.snapshot?.done === true, 30_000, 500)).toBe(true);
  expect(versions(await raw())).toEqual(
    [...first.map((l) => `${l.ListingKey}@${l.ListPrice}`), 'SNAP-2@222', 'SNAP-6@106', 'SNAP-4 DELETE'].sort(),
  );
  const after = await state();
  expect(after?.counts).toMatchObject({ records: 7, deletes: 1 });
  const keys = (await readAllToEnd(k.kafka, [step.topics.keys], { purpose: 'itest-keys' }))
    .filter((m) => m.message.value !== null)
    .map((m) => m.message.key?.toString());
  const live = new Set(keys);
  const removedKeys = (await readAllToEnd(k.kafka, [step.topics.keys], { purpose: 'itest-keys' })).filter(
    (m) => m.message.key?.toString() === 'snap-file:SNAP-4',
  );
  expect(live.has('snap-file:SNAP-6')).toBe(true);
  expect(removedKeys.at(-1)?.message.value).toBeNull(); // tombstoned in the DELETE's transaction

  // The same content again (another mtime): a few polls later nothing more, and the state as it was.
  writeSnapshot(feed, second);
  await new Promise((r) => setTimeout(r, 4000));
  expect((await raw()).length).toBe(8);
  expect(await state()).toEqual(after);
  expect(w.output()).not.toMatch(/"level":(50|60)/);
  expect(await stopWorker(w)).toBe(0);
});

test('kill -9 mid-snapshot, 3 times: every listing of the snapshot exactly once, the counts with them', async () => {
  const feed = join(scratch.path, 'large.json');
  const total = 3000;
  writeSnapshot(
    feed,
    Array.from({ length: total }, (_, i) => listing(i, 1000 + i)),
  );
  const step = await startSourcesStep(k.admin, k.kafka, scratch.path, snapshotYaml(feed, 20), {});
  const raw = await startReader<unknown>(k.kafka, step.topics.raw); // read_committed
  readers.push(raw);
  let w = step.startWorker();
  workers.push(w);
  const atKill: number[] = [];
  for (let i = 0; i < 3; i++) {
    const from = raw.records.length;
    expect(await waitFor(() => raw.records.length >= from + 40, 60_000, 20)).toBe(true);
    w.child.kill('SIGKILL');
    await w.exited;
    atKill.push(raw.records.length);
    w = step.startWorker();
    workers.push(w);
  }
  expect(atKill.at(-1)!).toBeLessThan(total); // every kill was mid-snapshot
  const state = async () => (await readStates(k.kafka, step.topics.state)).get('snap-file');
  expect(await waitFor(async () => (await state())?.snapshot?.done === true, 90_000, 500)).toBe(true);
  const seen = await readRaw(k.kafka, step.topics.raw);
  const keys = seen.map((r) => r.key);
  expect(keys.length).toBe(total);
  expect(new Set(keys).size).toBe(total);
  expect((await state())?.counts).toMatchObject({ records: total, deletes: 0 });
  console.log(`snapshot crash: killed at ${atKill.join(', ')} of ${total} raw records`);
  expect(await stopWorker(w)).toBe(0);
});

test('an emptied or mostly emptied snapshot is refused while the worker keeps polling; a good one proceeds', async () => {
  const feed = join(scratch.path, 'guarded.json');
  const first = [1, 2, 3, 4, 5].map((n) => listing(n, 300 + n));
  writeSnapshot(feed, first);
  const step = await startSourcesStep(k.admin, k.kafka, scratch.path, snapshotYaml(feed, 10), {});
  const w = step.startWorker();
  workers.push(w);
  const raw = () => readRaw(k.kafka, step.topics.raw);
  const state = async () => (await readStates(k.kafka, step.topics.state)).get('snap-file');
  const liveKeys = async () => {
    const latest = new Map<string, boolean>();
    for (const m of await readAllToEnd(k.kafka, [step.topics.keys], { purpose: 'itest-keys' }))
      latest.set(m.message.key!.toString(), m.message.value !== null);
    return [...latest]
      .filter(([, live]) => live)
      .map(([key]) => key)
      .sort();
  };
  expect(await waitFor(async () => (await state())?.snapshot?.done === true, 60_000, 500)).toBe(true);
  const loaded = await state();
  expect(loaded?.snapshot).toMatchObject({ position: 5, total: 5, done: true, takenAt: expect.any(String) });
  const keysLoaded = await liveKeys();
  expect(keysLoaded).toHaveLength(5);

  // An emptied feed (a failed export): refused, nothing written, the refusal committed in the state.
  writeSnapshot(feed, []);
  expect(await waitFor(async () => (await state())?.refused != null, 30_000, 500)).toBe(true);
  const refusedEmpty = (await state())!;
  expect(refusedEmpty.refused).toMatchObject({ code: 'SOURCE_SNAPSHOT_REFUSED', known: 5, listed: 0, deletes: 5 });
  expect(refusedEmpty.refused?.message).toContain('listflow sources sync snap-file --once --allow-mass-delete');
  expect(refusedEmpty.snapshot).toEqual(loaded?.snapshot); // still the applied snapshot
  expect(refusedEmpty.counts).toEqual(loaded?.counts);

  // Three of five gone (60% > 0.5): refused too, the refusal replaced by this one's counts.
  writeSnapshot(feed, [listing(1, 301), listing(2, 302)]);
  expect(await waitFor(async () => (await state())?.refused?.listed === 2, 30_000, 500)).toBe(true);
  expect((await state())?.refused).toMatchObject({ known: 5, listed: 2, deletes: 3 });
  // Polls go on, and refuse again without writing anything more.
  await new Promise((r) => setTimeout(r, 2500));
  expect((await raw()).length).toBe(5);
  expect(await liveKeys()).toEqual(keysLoaded);
  const refusals = w
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes('SOURCE_SNAPSHOT_REFUSED'))
    .map((l) => JSON.parse(l) as { level: number; code: string; msg: string })
    .filter((l) => l.code === 'SOURCE_SNAPSHOT_REFUSED');
  expect(refusals.length).toBeGreaterThanOrEqual(3);
  expect(refusals.every((l) => l.level === 50 && l.msg.startsWith('Source snap-file: snapshot '))).toBe(true);
  expect(w.child.exitCode).toBeNull();

  // A good snapshot (SNAP-5 removed: 20%) proceeds: one DELETE, the refusal cleared.
  writeSnapshot(feed, first.slice(0, 4));
  expect(await waitFor(async () => (await state())?.refused == null, 30_000, 500)).toBe(true);
  expect(await waitFor(async () => (await state())?.snapshot?.done === true, 30_000, 500)).toBe(true);
  expect(versions(await raw())).toEqual(
    [...first.map((l) => `${l.ListingKey}@${l.ListPrice}`), 'SNAP-5 DELETE'].sort(),
  );
  expect(await liveKeys()).toEqual(keysLoaded.filter((key) => key !== 'snap-file:SNAP-5'));
  expect((await state())?.counts).toMatchObject({ records: 5, deletes: 1 });
  expect(await stopWorker(w)).toBe(0);
});
