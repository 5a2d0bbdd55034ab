/**
 * `listflow replay` on the real platform, through the real CLI and `run --all` workers in a sandboxed copy of
 * the pipeline (its own topics and consumer groups):
 *
 * 1. Idempotence: replaying images and publish from earliest re-reads every record and changes nothing: the
 *    PostgreSQL rows (documents and published_at) and the stored photo files (bytes, and mtimes but the
 *    manifests', which reuse touches) are the same.
 * 2. A rule change: one feed names a source profile that normalize does not know yet, so its listings are dead
 *    letters (NORMALIZE_PROFILE_UNKNOWN). The profile is added (LISTFLOW_NORMALIZE_PROFILES_DIR), normalize is
 *    replayed from earliest, and exactly those listings appear; the other feed's rows stay as they were.
 *
 * Also: the refusal while the workers run, the plan without --yes (nothing moves), and the ledger in `status`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { writeSamplePhotos } from '../../samples/images';
import { type FeedSummary, writeSampleFeed } from '../../samples/writers';
import { fetchCommittedOffsets } from '../../runtime/kafka';
import { groupId, replayLedgerTopic } from '../../runtime/pipeline';
import {
  cli,
  codesOf,
  dropTopics,
  freeBasePort,
  kafka,
  POSTGRES_URL,
  provision,
  ROOT,
  readAll,
  rowsForSources,
  sandbox,
  startWorkers,
  until,
  type Workers,
} from '../e2e/pipeline-sandbox';

const tag = randomBytes(3).toString('hex');
const feedDir = join(ROOT, '.listflow', 'e2e', `replay-feeds-${tag}`);
const blobRoot = join(feedDir, 'blobs');
const profilesDir = join(feedDir, 'profiles');
const PROFILE = `replay${tag}`;
const box = sandbox('itest-replay', {
  LISTFLOW_INGEST_FILE_ROOT: feedDir,
  LISTFLOW_IMAGES_FILE_ROOT: feedDir,
  LISTFLOW_NORMALIZE_ALLOW_FILE_PHOTO_URLS: 'true',
  // The filesystem store, so the test can see whether a replay rewrote a file (mtime) and not only its bytes.
  LISTFLOW_IMAGES_BLOB_STORE: 'file',
  LISTFLOW_IMAGES_BLOB_ROOT: blobRoot,
  LISTFLOW_SHUTDOWN_GRACE_MS: '10000',
});
/** The CLI knows the profile (ingest --profile checks it); the first workers do not. */
const cliEnv = { ...box.env, LISTFLOW_NORMALIZE_PROFILES_DIR: profilesDir };
const sourceA = `rpa${tag}`;
const sourceB = `rpb${tag}`;
let feedA: FeedSummary;
let feedB: FeedSummary;
let workers: Workers | undefined;

beforeAll(async () => {
  const photoUrls = await writeSamplePhotos(join(feedDir, 'photos'), 4, 7100);
  feedA = await writeSampleFeed({
    dir: feedDir,
    count: 12,
    badRate: 0,
    photoUrls,
    seed: 7101,
    format: 'ndjson',
    name: 'a',
  });
  feedB = await writeSampleFeed({
    dir: feedDir,
    count: 6,
    badRate: 0,
    photoUrls,
    seed: 7102,
    format: 'ndjson',
    name: 'b',
  });
  mkdirSync(profilesDir, { recursive: true });
  writeFileSync(
    join(profilesDir, `${PROFILE}.yaml`),
    `name: ${PROFILE}\nextends: reso-dd-2.0\ndescription: The replay test's MLS, onboarded after its first feed.\n`,
  );
  await provision(box);
});

afterAll(async () => {
  await workers?.stop();
  await dropTopics(box);
  const admin = kafka().admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [replayLedgerTopic(box.pipeline)] }).catch(() => undefined);
  await admin.disconnect();
});

interface Row {
  id: string;
  document: unknown;
  published_at: string;
  modified_at: string;
}

async function rows(sources: readonly string[]): Promise<Row[]> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    const r = await client.query<Row>(
      'SELECT id, document, published_at::text, modified_at::text FROM listings WHERE source = ANY($1::text[]) ORDER BY id',
      [sources],
    );
    return r.rows;
  } finally {
    await client.end();
  }
}

/** Every stored file under the blob root: path -> sha256 and mtime. A rewrite changes the mtime. */
function blobFiles(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const hash = createHash('sha256').update(readFileSync(p)).digest('hex');
        // Manifests: bytes only. A reused image's manifest is touched (its mtime is what keeps it from
        // `blobs gc` until publish references it again); every other file keeps its mtime.
        out.set(p.slice(blobRoot.length), p.endsWith('manifest.json') ? hash : `${hash} ${statSync(p).mtimeMs}`);
      }
    }
  };
  walk(blobRoot);
  return out;
}

interface ReplayDoc {
  step: string;
  applied: boolean;
  partitions: { partition: number; from: string; to: string; reread: string; skipped: string }[];
}

async function replay(
  step: string,
  from: string,
  yes: boolean,
): Promise<{ code: number | null; doc: ReplayDoc; stderr: string }> {
  const r = await cli(
    ['replay', '--step', step, '--from', from, '--json', ...(yes ? ['--yes'] : [])],
    box.env,
    120_000,
  );
  return { code: r.code, doc: JSON.parse(r.stdout), stderr: r.stderr };
}

/** Sum of a sandbox topic's high watermarks. */
async function endOf(name: string): Promise<number> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(box.topic(name))).reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/** True once the step's group has committed the end of every partition of its input. */
async function caughtUp(stepId: string): Promise<boolean> {
  const step = box.pipeline.steps.find((s) => s.id === stepId)!;
  const admin = kafka().admin();
  await admin.connect();
  try {
    const committed = await fetchCommittedOffsets(admin, groupId(box.pipeline, step), step.input);
    const ends = await admin.fetchTopicOffsets(step.input);
    return ends.every((e) => e.high === '0' || committed.get(e.partition) === BigInt(e.high));
  } finally {
    await admin.disconnect();
  }
}

async function ingest(file: string, source: string, extra: string[] = []): Promise<void> {
  const r = await cli(['ingest', file, '--source', source, '--wait', '--json', ...extra], cliEnv, 600_000);
  if (r.code !== 0) throw new Error(`ingest exited ${r.code}: ${r.stderr}\n${workers?.stderr() ?? ''}`);
}

test('replay: images and publish from earliest change nothing; a rule change replayed through normalize adds exactly the affected rows', async () => {
  // The first deployment: feed A publishes; feed B names a profile normalize does not know.
  workers = await startWorkers(box, await freeBasePort(box.pipeline.steps.length));
  await ingest(feedA.uri, sourceA);
  const betweenFeeds = new Date();
  await ingest(feedB.uri, sourceB, ['--profile', PROFILE]);
  expect(await rowsForSources([sourceA])).toBe(feedA.listings);
  expect(await rowsForSources([sourceB])).toBe(0);
  expect(codesOf(await readAll(box.topic('listings.raw.dlq')))).toEqual({ NORMALIZE_PROFILE_UNKNOWN: feedB.listings });
  const rowsBefore = await rows([sourceA]);
  const blobsBefore = blobFiles();
  expect(blobsBefore.size).toBeGreaterThan(0);

  // Refused while the workers run, with the way to stop them; nothing moves.
  const refused = await replay('images', 'earliest', true);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain('active member(s)');
  expect(refused.stderr).toContain('stop `listflow run --all`');
  expect(refused.doc.applied).toBe(false);
  expect(await workers.stop()).toBe(0);
  workers = undefined;

  // The plan without --yes: every listing of listings.normalized to re-read, nothing applied.
  const planned = await replay('images', 'earliest', false);
  expect(planned.code).toBe(0);
  expect(planned.doc.applied).toBe(false);
  const normalizedEnd = await endOf('listings.normalized');
  const sumReread = (doc: ReplayDoc) => doc.partitions.reduce((n, p) => n + Number(p.reread), 0);
  expect(sumReread(planned.doc)).toBe(normalizedEnd);
  expect((await replay('images', 'earliest', false)).doc.partitions).toEqual(planned.doc.partitions);
  // A time: offsets-for-times per partition. From between the two feeds, normalize would re-read feed B only.
  const fromTime = await replay('normalize', betweenFeeds.toISOString(), false);
  expect(fromTime.code).toBe(0);
  expect(sumReread(fromTime.doc)).toBe(feedB.raw);
  expect(sumReread((await replay('normalize', new Date(Date.now() + 60_000).toISOString(), false)).doc)).toBe(0);

  // 1. images and publish from earliest.
  for (const step of ['images', 'publish']) {
    const done = await replay(step, 'earliest', true);
    expect(done).toMatchObject({ code: 0, doc: { applied: true, step } });
  }
  const status = await cli(['status', '--json', '--sample-ms', '0'], box.env, 120_000);
  expect(status.code).toBe(0);
  const replays = JSON.parse(status.stdout).replays as { step: string; from: string }[];
  expect(replays.map((r) => [r.step, r.from])).toEqual([
    ['images', 'earliest'],
    ['publish', 'earliest'],
  ]);
  const publishedEnd = await endOf('listings.published');
  workers = await startWorkers(box, await freeBasePort(box.pipeline.steps.length));
  await until(
    'images and publish to re-read everything',
    async () =>
      (await endOf('listings.published')) >= publishedEnd + feedA.listings &&
      (await caughtUp('images')) &&
      (await caughtUp('publish')),
    180_000,
    () => workers?.stderr() ?? '',
  );
  expect(await rows([sourceA])).toEqual(rowsBefore);
  expect(blobFiles()).toEqual(blobsBefore);
  expect(await workers.stop()).toBe(0);
  workers = undefined;

  // 2. The rule change: the profile exists now. Replay normalize; only feed B's listings change (appear).
  expect((await replay('normalize', 'earliest', true)).doc.applied).toBe(true);
  workers = await startWorkers(box, await freeBasePort(box.pipeline.steps.length), {
    LISTFLOW_NORMALIZE_PROFILES_DIR: profilesDir,
  });
  await until(
    "feed B's listings to be published",
    async () =>
      (await rowsForSources([sourceB])) === feedB.listings &&
      (await caughtUp('normalize')) &&
      (await caughtUp('images')) &&
      (await caughtUp('publish')),
    180_000,
    () => workers?.stderr() ?? '',
  );
  expect(await rows([sourceA])).toEqual(rowsBefore);
  const after = blobFiles();
  for (const [path, v] of blobsBefore) expect(after.get(path)).toBe(v);
  expect(await rowsForSources([sourceB])).toBe(feedB.listings);
  // No new dead letters: the replayed feed A listings went through normalize again without a failure.
  expect(codesOf(await readAll(box.topic('listings.raw.dlq')))).toEqual({ NORMALIZE_PROFILE_UNKNOWN: feedB.listings });
}, 900_000);
