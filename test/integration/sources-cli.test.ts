/**
 * `listflow sources apply|sync|list|reset` through the real CLI commands against the project's RESO test server
 * (the local Trestle source: OAuth2, key ties, cursor paging) on the helper platform, in a scratch copy of the
 * listings pipeline (its own topics and consumer groups):
 * apply prints its plan and writes nothing, then writes with --yes; sync --once loads every live record into
 * the raw topic (read_committed) with the state committed beside them; list shows that cursor and 0 remaining;
 * a second sync is a quiet poll; reset --to beginning --yes tombstones the state; sync and reset refuse while a
 * member is in the sources group; and the real sources worker (in-process) continues from the CLI's state,
 * the CLI refusing while it runs and resuming from the worker's state after it: one state layout, one path.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { profileCommands } from '../../cli/commands/profile';
import { sourcesCommands } from '../../cli/commands/sources';
import { statusCommands } from '../../cli/commands/status';
import { operators } from '../../operators';
import listings from '../../pipelines/listings';
import { latestByKey } from '../../runtime/assigned/latest';
import { prepareWorker } from '../../runtime/run';
import { groupId } from '../../runtime/pipeline';
import { readAllToEnd } from '../../runtime/topic-reader';
import type { RawListing, SourceState } from '../../schemas/generated/types';
import { invoke } from '../support/cli-invoke';
import { connectedKafka, scratchDir } from '../support/kafka-suite';
import { createPipelineTopics, testListingsPipeline, type TestPipeline } from '../support/pipeline-workers';
import { LOCAL_RESO_ENV, localResoSources, type ResoServer, startResoServer } from '../support/reso-server';
import { testSerde } from '../support/streams';

const k = connectedKafka('itest-sources-cli');
const dir = scratchDir('sources-cli-');
const NAME = 'local-trestle';
let server: ResoServer;
let p: TestPipeline;
const saved = { ...process.env };
const serde = testSerde();
/** The cursor the first sync caught up at (the worker must reach the same one). */
let caughtUp: { timestamp: string; key: string } | undefined;

const run = (...argv: string[]) => invoke(sourcesCommands, ['sources', ...argv]);
const topicOf = (port: 'input' | 'raw' | 'state') => {
  const step = p.spec.steps.find((s) => s.id === 'sources')!;
  return port === 'input' ? step.input : step.outputs[port]!;
};

async function committedState(): Promise<SourceState | undefined> {
  const bytes = (await latestByKey(k.kafka, topicOf('state'), { key: NAME })).get(NAME);
  if (bytes === undefined) return undefined;
  const d = await serde.decode<SourceState>(bytes, 'SourceState');
  if (!d.ok) throw d.error;
  return d.value;
}

beforeAll(async () => {
  const trestle = localResoSources(21, 40).find((s) => s.name === NAME)!;
  server = await startResoServer({ sources: [trestle] });
  const port = new URL(server.url).port;
  // The shipped entry of the local Trestle source, pointed at this server, with small pages.
  const shipped = YAML.parse(readFileSync(join(__dirname, '../../pipelines/sources.yaml'), 'utf8')) as {
    sources: Array<Record<string, unknown>>;
  };
  const entry = JSON.parse(JSON.stringify(shipped.sources.find((s) => s.name === NAME)).replaceAll('18480', port));
  const sourcesFile = join(dir.path, 'sources.yaml');
  writeFileSync(sourcesFile, YAML.stringify({ sources: [{ ...entry, pageSize: 7 }] }));
  p = testListingsPipeline(dir.path);
  await createPipelineTopics(k.admin, p);
  Object.assign(process.env, LOCAL_RESO_ENV, {
    LISTFLOW_PIPELINE_FILE: p.file,
    LISTFLOW_SOURCES_FILE: sourcesFile,
    LISTFLOW_SOURCES_ALLOW_HOSTS: `127.0.0.1:${port}`,
    LISTFLOW_REGISTER_SCHEMAS: 'true',
    LISTFLOW_LOG_LEVEL: 'warn',
  });
}, 60_000);

afterAll(async () => {
  process.env = saved;
  await server?.close();
  await k.admin.deleteTopics({ topics: Object.keys(p?.spec.topics ?? {}) }).catch(() => undefined);
});

test("profile check --source checks the source's first pages from its server, and writes nothing", async () => {
  const before = server.source(NAME).requests();
  const r = await invoke(profileCommands, ['profile', 'check', '--source', NAME, '--limit', '12', '--json']);
  expect(r.error).toBeUndefined();
  const report = JSON.parse(r.stdout);
  // Pages of 7: two pages fetched for 12 records, through the source's auth (the server refuses unauthenticated).
  expect(report.records).toBe(12);
  expect(report.profile).toBe('trestle');
  expect(report.normalized + report.otherRejections.reduce((n: number, o: { count: number }) => n + o.count, 0)).toBe(
    12 - report.unmapped.reduce((n: number, u: { count: number }) => n + u.count, 0),
  );
  expect(server.source(NAME).requests() - before).toBe(2);
  expect((await readAllToEnd(k.kafka, [topicOf('raw'), topicOf('state')])).length).toBe(0);

  const undeclared = await invoke(profileCommands, ['profile', 'check', '--source', 'no-such-source']);
  expect(undeclared.error?.message).toMatch(/"no-such-source" is not declared there/);
}, 60_000);

test('apply prints its plan, and writes only with --yes', async () => {
  const plan = await run('apply');
  expect(plan.error).toBeUndefined();
  expect(plan.stdout).toMatch(/\+ local-trestle {2}added/);
  expect(plan.stdout).toMatch(/Run again with --yes/);
  expect((await latestByKey(k.kafka, topicOf('input'))).size).toBe(0);

  const applied = await run('apply', '--yes');
  expect(applied.stdout).toMatch(/done: 1 record\(s\) written/);
  expect([...(await latestByKey(k.kafka, topicOf('input'))).keys()]).toEqual([NAME]);

  const again = await run('apply', '--json');
  expect(JSON.parse(again.stdout).plan).toEqual([expect.objectContaining({ name: NAME, action: 'unchanged' })]);
}, 60_000);

test('sync --once loads the source through transactions; list shows the cursor; a second sync is quiet', async () => {
  const r = await run('sync', NAME, '--once', '--json');
  expect(r.error).toBeUndefined();
  const out = JSON.parse(r.stdout);
  expect(out.transactionalId).toBe(`listflow.${p.spec.name}.sources.${NAME}`);
  const truth = server.source(NAME).dataset.truth();
  expect(truth.size).toBeGreaterThan(20);
  expect(out.records).toBeGreaterThanOrEqual(truth.size);
  expect(out.pages).toBeGreaterThan(3);
  // read_committed (the reader's default): every live listing's latest version is there.
  const raws = await readAllToEnd(k.kafka, [topicOf('raw')]);
  const keys = new Set<string>();
  for (const m of raws) {
    const d = await serde.decode<RawListing>(m.message.value!, 'RawListing');
    if (d.ok) keys.add(m.message.key!.toString());
  }
  for (const key of truth.keys()) expect(keys.has(`${NAME}:${key}`)).toBe(true);
  const state = await committedState();
  expect(state?.initialDone).toBe(true);
  expect(state?.cursor).toEqual(expect.objectContaining(out.state.cursor));
  expect(state?.counts.pages).toBe(out.pages);

  caughtUp = out.state.cursor;
  const listed = await run('list', '--json');
  const line = JSON.parse(listed.stdout).sources[0];
  expect(line).toMatchObject({ name: NAME, declared: true, cursor: out.state.cursor, remaining: 0 });
  expect(line.nextPollDue).not.toBeNull();
  const text = await run('list', '--no-remote');
  expect(text.stdout).toContain(`cursor ${out.state.cursor.timestamp} ${out.state.cursor.key}`);

  const status = await invoke(statusCommands, ['status', '--sample-ms', '0', '--json']);
  expect(JSON.parse(status.stdout).sources).toEqual([
    expect.objectContaining({
      name: NAME,
      cursor: `${out.state.cursor.timestamp} ${out.state.cursor.key}`,
      remaining: null,
    }),
  ]);
  expect(JSON.parse(status.stdout).sources[0].lastPageAgeSeconds).toBeLessThan(120);

  const quiet = JSON.parse((await run('sync', NAME, '--once', '--json')).stdout);
  expect(quiet).toMatchObject({ pages: 0, records: 0, requests: 1 });
}, 120_000);

test('sync and reset refuse while the sources group has a member; reset --to beginning --yes tombstones', async () => {
  const step = p.spec.steps.find((s) => s.id === 'sources')!;
  const member = k.kafka.consumer({ groupId: groupId(p.spec, step), sessionTimeout: 10_000 });
  await member.connect();
  await member.subscribe({ topics: [step.input], fromBeginning: true });
  let joined = false;
  member.on('join', () => {
    joined = true;
  });
  // No commits, as the worker itself: the owning worker never commits and reads its partitions from the
  // start, so a committed offset in its group would hide the declarations from it.
  await member.run({ eachMessage: async () => undefined });
  for (let i = 0; i < 100 && !joined; i++) await new Promise((r) => setTimeout(r, 200));
  try {
    const sync = await run('sync', NAME, '--once');
    expect(sync.code).toBe(1);
    expect(sync.stderr).toMatch(/1 active member\(s\)/);
    expect(sync.stderr).toMatch(/kubectl scale deployment listflow-sources --replicas=0/);
    const reset = await run('reset', NAME, '--to', 'beginning', '--yes');
    expect(reset.code).toBe(1);
    expect((await committedState())?.cursor).not.toBeNull();
  } finally {
    await member.disconnect();
  }

  const plan = await run('reset', NAME, '--to', 'beginning');
  expect(plan.stdout).toMatch(/cursor \S+ \S+ -> beginning/);
  expect(plan.stdout).toMatch(/Nothing changed/);
  expect(await committedState()).toBeDefined();
  const done = await run('reset', NAME, '--to', 'beginning', '--yes');
  expect(done.error).toBeUndefined();
  expect(done.stdout).toMatch(/done: tombstone committed/);
  expect(await committedState()).toBeUndefined();

  const toTime = await run('reset', NAME, '--to', '2020-01-01T00:00:00Z', '--yes');
  expect(toTime.code).toBe(0);
  expect((await committedState())?.cursor).toMatchObject({ timestamp: '2020-01-01T00:00:00Z', key: '' });

  const bad = await run('sync', NAME, '--once', '--from', 'last-week');
  expect(bad.error?.message).toMatch(/for --from but received "last-week"/);
}, 120_000);

test("the sources worker continues from the CLI's state with the same layout; the CLI refuses while it runs", async () => {
  // From the reset above (2020): the worker re-reads everything and catches up where the CLI's sync did.
  const before = (await committedState())!;
  const { worker } = prepareWorker(listings, operators, 'sources', { ...process.env, LISTFLOW_HTTP_PORT: '0' });
  await worker.start();
  try {
    let state = before;
    for (let i = 0; i < 150 && state.cursor?.key !== caughtUp?.key; i++) {
      await new Promise((r) => setTimeout(r, 200));
      state = (await committedState()) ?? state;
    }
    expect(state.cursor).toMatchObject(caughtUp!);
    expect(state.counts.pages).toBeGreaterThan(before.counts.pages);
    const sync = await run('sync', NAME, '--once');
    expect(sync.code).toBe(1);
    expect(sync.stderr).toMatch(/active member\(s\)/);
  } finally {
    expect(await worker.stop('test')).toBe(0);
  }
  // After the worker: the CLI's sync starts from the worker's committed state, and has nothing to do.
  const quiet = JSON.parse((await run('sync', NAME, '--once', '--json')).stdout);
  expect(quiet.started.cursor).toEqual(caughtUp);
  expect(quiet).toMatchObject({ pages: 0, requests: 1 });
}, 120_000);

test('a snapshot source: list shows its snapshot progress and a refused snapshot; --allow-mass-delete applies it', async () => {
  const feed = join(dir.path, 'snap-cli.json');
  const listing = (n: number) => ({
    ListingKey: `SC-${n}`,
    ListPrice: 1000 + n,
    StandardStatus: 'Active',
    ModificationTimestamp: '2026-12-01T10:00:00Z',
  });
  writeFileSync(feed, JSON.stringify([1, 2, 3].map(listing)));
  const file = process.env.LISTFLOW_SOURCES_FILE!;
  const doc = YAML.parse(readFileSync(file, 'utf8')) as { sources: unknown[] };
  const snap = {
    name: 'snap-cli',
    kind: 'file',
    uri: `file://${feed}`,
    format: 'json',
    pageSize: 2,
    pollInterval: '1h',
    country: 'US',
  };
  writeFileSync(file, YAML.stringify({ sources: [...doc.sources, snap] }));
  const applied = await run('apply', '--yes');
  expect(applied.error?.message).toBeUndefined();
  expect(applied.stdout).toMatch(/\+ snap-cli {2}added/);

  expect(JSON.parse((await run('sync', 'snap-cli', '--once', '--json')).stdout)).toMatchObject({ records: 3 });
  const line = async () =>
    (JSON.parse((await run('list', '--no-remote', '--json')).stdout).sources as Array<Record<string, unknown>>).find(
      (l) => l.name === 'snap-cli',
    )!;
  const loaded = await line();
  expect(loaded).toMatchObject({
    kind: 'file',
    snapshot: { position: 3, total: 3, done: true, shortId: expect.stringMatching(/^[0-9a-f]{12}$/) },
    remaining: 0,
    refused: null,
  });
  const shortId = (loaded.snapshot as { shortId: string }).shortId;
  expect((await run('list', '--no-remote')).stdout).toMatch(
    new RegExp(`snap-cli {2}\\(file\\) {2}snapshot ${shortId} 3/3 done, taken \\S+Z .*remaining 0`),
  );

  // An emptied feed: the sync is refused with the typed error, nothing written, and list shows the refusal.
  writeFileSync(feed, '[]');
  const refused = await run('sync', 'snap-cli', '--once');
  expect(refused.error).toMatchObject({ code: 'SOURCE_SNAPSHOT_REFUSED' });
  expect(refused.error?.message).toMatch(/Source snap-cli: snapshot \S+ lists no listing while the source holds 3/);
  expect(refused.error?.message).toContain('listflow sources sync snap-cli --once --allow-mass-delete');
  expect(await line()).toMatchObject({
    snapshot: { shortId, done: true },
    refused: { code: 'SOURCE_SNAPSHOT_REFUSED', known: 3, listed: 0, deletes: 3 },
  });
  expect((await run('list', '--no-remote')).stdout).toMatch(
    /\n {4}refused [0-9a-f]{12} at \S+ \(SOURCE_SNAPSHOT_REFUSED: would delete 3 of 3 known, lists 0\): Source snap-cli/,
  );

  // Meant: applied with --allow-mass-delete, the refusal cleared.
  const allowed = JSON.parse((await run('sync', 'snap-cli', '--once', '--allow-mass-delete', '--json')).stdout);
  expect(allowed).toMatchObject({ records: 0, deletes: 3 });
  expect(await line()).toMatchObject({ snapshot: { position: 0, total: 0, done: true }, refused: null });
}, 120_000);
