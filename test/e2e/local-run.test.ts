/**
 * `npm run local` (scripts/local.sh) end to end against the real platform, in a sandboxed copy of the
 * pipeline (own topics and consumer groups): it must end with the counts the sample generator implies, in
 * PostgreSQL and in the dead-letter topics, and a second run on the same platform must report its own run.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { expectedOutcome, type SampleSet, writeSampleSet } from '../../samples/local-set';
import { codesOf, dropTopics, freeBasePort, readAll, ROOT, run, rowsForSources, sandbox } from './pipeline-sandbox';

const box = sandbox('e2e-local');
// A random seed each run, so runs cover different data; beforeAll moves it on until the set exercises every kind
// of outcome (with 40 records a seed sometimes gives, say, no ingest rejects).
let seed = 1000 + (randomBytes(2).readUInt16BE(0) % 9000);
const count = 40;
const prefix = `e2el${randomBytes(3).toString('hex')}`;
let basePort: number;

const local = () =>
  run(
    'bash',
    [
      'scripts/local.sh',
      '--no-build',
      '--json',
      '--count',
      String(count),
      '--seed',
      String(seed),
      '--source-prefix',
      prefix,
      '--base-port',
      String(basePort),
    ],
    { env: box.env, timeoutMs: 600_000 },
  );

let set: SampleSet;

beforeAll(async () => {
  basePort = await freeBasePort(box.pipeline.steps.length);
  // The same generator call the CLI makes, in a directory of the test's own: the expectation.
  for (let tries = 0; ; tries++, seed++) {
    set = await writeSampleSet({
      dir: join(ROOT, '.listflow', 'e2e', box.id, `expected-${seed}`),
      seed,
      count,
      sourcePrefix: prefix,
    });
    if (exercisesEveryOutcome(await expectedOutcome(set)) || tries >= 50) break;
  }
});

/** The sample set must exercise every kind of outcome, or the test proves little. */
function exercisesEveryOutcome(expected: Awaited<ReturnType<typeof expectedOutcome>>): boolean {
  return (
    expected.ingested < expected.feedRecords &&
    expected.normalized < expected.ingested &&
    sum(expected.photosFailed) > 0 &&
    expected.photosOk > 0
  );
}

afterAll(async () => {
  await dropTopics(box);
});

/** The dead letters of the sample feeds' listings (keys `<prefix>-<format>:...`); the local RESO sources have their own. */
const sampleLetters = async (topic: string) =>
  (await readAll(box.topic(topic))).filter((m) => m.key?.toString().startsWith(`${prefix}-`));

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

test('npm run local ends with the counts the generator implies, and can run again', async () => {
  const expected = await expectedOutcome(set);
  expect(exercisesEveryOutcome(expected)).toBe(true);

  const first = await local();
  if (first.code !== 0) throw new Error(`local.sh exited ${first.code}:\n${first.stderr.slice(-4000)}`);
  const summary = JSON.parse(first.stdout);
  expect(summary.mismatches).toEqual([]);
  expect(summary.totals.feedRecords).toBe(expected.feedRecords);
  expect(summary.totals.ingested).toBe(expected.ingested);
  expect(summary.totals.ingestRejectReasons).toEqual(expected.ingestRejects);
  expect(summary.totals.stages.normalize.output).toBe(expected.normalized);
  expect(summary.totals.stages.normalize.reasons).toEqual(expected.normalizeRejects);
  expect(summary.totals.photos.ok).toBe(expected.photosOk);
  expect(summary.totals.photos.reasons).toEqual(expected.photosFailed);
  expect(summary.totals.stages.publish.output).toBe(expected.normalized);
  expect(first.stderr).toMatch(/supervisor: all 6 workers ready/);
  // Continuous ingest: the local RESO Web API server replicated, checked in PostgreSQL against its truth after the
  // initial load and after live changes (samples/replication-demo.ts exits 1 otherwise, and so would local.sh).
  expect(first.stderr).toMatch(/replication: initial load: PostgreSQL equals the servers' truth/);
  expect(first.stderr).toMatch(/replication: live changes: PostgreSQL equals the servers' truth/);
  expect(first.stderr).toMatch(/supervisor: stopping/);
  // It ends by saying where the status page is (`listflow web`).
  expect(first.stderr.trimEnd().split('\n').at(-1)).toBe(
    'local: status page: run `bash scripts/listflow.sh web`, then open http://127.0.0.1:8480/',
  );

  // The outcome where it lives: PostgreSQL and the dead-letter topics.
  const sources = set.feeds.map((f) => f.source);
  expect(await rowsForSources(sources)).toBe(expected.listingIds.length);
  expect(codesOf(await readAll(box.topic('listings.ingest-jobs.dlq')))).toEqual(expected.ingestRejects);
  expect(codesOf(await sampleLetters('listings.raw.dlq'))).toEqual(expected.normalizeRejects);
  expect(await readAll(box.topic('listings.normalized.dlq'))).toHaveLength(0);
  expect(await readAll(box.topic('listings.enriched.dlq'))).toHaveLength(0);

  // Again on the same platform: the summary counts this run only (the topics now hold both runs).
  const second = await local();
  if (second.code !== 0) throw new Error(`second local.sh exited ${second.code}:\n${second.stderr.slice(-4000)}`);
  const again = JSON.parse(second.stdout);
  // A second run replicates its own listings past the cursors the first left (they are committed in Kafka).
  expect(second.stderr).toMatch(/replication: live changes: PostgreSQL equals the servers' truth/);
  expect(again.mismatches).toEqual([]);
  expect(again.totals.ingested).toBe(expected.ingested);
  expect(again.totals.stages.publish.output).toBe(expected.normalized);
  expect(again.publishedInPostgres).toBe(expected.listingIds.length);
  expect(await sampleLetters('listings.raw.dlq')).toHaveLength(2 * sum(expected.normalizeRejects));
  console.log(
    `npm run local (sandboxed, ${expected.feedRecords} records): first ${first.ms} ms (pipeline ${summary.wallMs} ms, ${summary.recordsPerSecond} records/s), second ${second.ms} ms`,
  );
});
