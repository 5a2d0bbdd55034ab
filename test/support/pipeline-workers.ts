/**
 * Real operators on the real broker, for integration tests: a copy of the listings pipeline whose topic
 * names and pipeline name (hence consumer groups) are unique per run, its topics (and the dead-letter topic
 * of every step) created on the broker, and workers of its steps started as child processes
 * (dist/test/support/pipeline-worker-main.js, built by `npm run build`), so tests can kill -9 them.
 */
import { afterAll, beforeAll } from '@jest/globals';
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import listings from '../../pipelines/listings';
import { dlqTopic, groupId, type PipelineSpec, type StepSpec, type TopicSpec } from '../../runtime/pipeline';
import { askAgainWhileRetriable, fetchCommittedOffsets } from '../../runtime/kafka';
import { createTopics, spawnTestWorker, type WorkerProcess } from './streams';
import type { KafkaAdmin } from '../../runtime/kafka-client';

export type ListingsTopic = 'ingestJobs' | 'ingestStatus' | 'raw' | 'normalized' | 'enriched' | 'published';

export interface TestPipeline {
  readonly spec: PipelineSpec;
  /** The JSON file a worker reads through LISTFLOW_PIPELINE_FILE. */
  readonly file: string;
  readonly topics: Readonly<Record<ListingsTopic, string>>;
  /** `<input>.dlq` of a step. */
  dlq(stepId: string): string;
  /** The consumer group of a step. */
  group(stepId: string): string;
}

const ROLE: Record<string, ListingsTopic> = {
  'listings.ingest-jobs': 'ingestJobs',
  'listings.ingest-status': 'ingestStatus',
  'listings.raw': 'raw',
  'listings.normalized': 'normalized',
  'listings.enriched': 'enriched',
  'listings.published': 'published',
};

/**
 * The listings pipeline (same steps, concurrency, retries, timeouts) named `run`, with every topic renamed
 * `<run>.<name>` (`listings.raw` -> `<run>.raw`), so its topics and consumer groups are its own.
 * `topics` overrides topic specs by short name (`raw`), `steps` overrides steps by id.
 */
export function renamedListings(
  run: string,
  overrides: { topics?: Record<string, Partial<TopicSpec>>; steps?: Record<string, Partial<StepSpec>> } = {},
): PipelineSpec {
  const short = (t: string) => t.replace(/^listings\./, '');
  const rename = (t: string) => `${run}.${short(t)}`;
  return {
    name: run,
    topics: Object.fromEntries(
      Object.entries(listings.topics).map(([t, s]) => [rename(t), { ...s, ...overrides.topics?.[short(t)] }]),
    ),
    steps: listings.steps.map((s) => ({
      ...s,
      input: rename(s.input),
      outputs: Object.fromEntries(Object.entries(s.outputs).map(([p, t]) => [p, rename(t)])),
      ...overrides.steps?.[s.id],
    })),
  };
}

/**
 * The listings pipeline renamed for one test run (`itest-<random>`, see renamedListings); `overrides` adjusts
 * steps by id. Writes it to `<dir>/pipeline.json`.
 */
export function testListingsPipeline(dir: string, overrides: Record<string, Partial<StepSpec>> = {}): TestPipeline {
  const run = `itest-${randomUUID().slice(0, 8)}`;
  const rename = (t: string) => `${run}.${t.replace(/^listings\./, '')}`;
  const spec = renamedListings(run, { steps: overrides });
  const topics = Object.fromEntries(Object.entries(ROLE).map(([t, role]) => [role, rename(t)])) as Record<
    ListingsTopic,
    string
  >;
  const file = join(dir, 'pipeline.json');
  writeFileSync(file, JSON.stringify(spec, null, 2));
  const step = (id: string) => {
    const s = spec.steps.find((x) => x.id === id);
    if (!s) throw new Error(`no step ${id}`);
    return s;
  };
  return {
    spec,
    file,
    topics,
    dlq: (id) => dlqTopic(step(id).input),
    group: (id) => groupId(spec, step(id)),
  };
}

/** Creates every topic of the pipeline and the dead-letter topic of every step (same partitions as its input). */
export async function createPipelineTopics(admin: KafkaAdmin, p: TestPipeline): Promise<void> {
  const wanted: Record<string, number> = {};
  for (const [t, s] of Object.entries(p.spec.topics)) wanted[t] = s.partitions;
  for (const s of p.spec.steps) wanted[dlqTopic(s.input)] = p.spec.topics[s.input]?.partitions ?? 1;
  await createTopics(admin, wanted);
}

/** Starts one worker of a step of `p` as a child process; its output is kept for failure messages. */
export function startStepWorker(p: TestPipeline, stepId: string, env: Record<string, string>): WorkerProcess {
  return spawnTestWorker('pipeline-worker-main.js', [stepId], { LISTFLOW_PIPELINE_FILE: p.file, ...env });
}

/** SIGTERM and the exit code (the worker's graceful drain); the code of an already exited worker. */
export async function stopWorker(w: WorkerProcess): Promise<number | null> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return w.child.exitCode;
  w.child.kill('SIGTERM');
  return w.exited;
}

/**
 * Runs `body` while `running` workers run, then stops them all (SIGTERM, the graceful drain), whatever happened.
 * If `body` failed, that failure is what is thrown: a worker stopped while still starting dies of the signal,
 * and its exit code would hide the real cause. Otherwise every worker must have exited 0; the error names
 * the ones that did not, with the end of their output.
 */
export async function whileWorkersRun<T>(
  running: readonly WorkerProcess[] | (() => readonly WorkerProcess[]),
  body: () => Promise<T>,
): Promise<T> {
  // A function when the body replaces a worker (a restart after kill -9): the ones running at the end.
  const current = () => (typeof running === 'function' ? running() : running);
  let result: T;
  try {
    result = await body();
  } catch (e) {
    await Promise.all(current().map(stopWorker));
    throw e;
  }
  const workers = current();
  const codes = await Promise.all(workers.map(stopWorker));
  const failed = workers.flatMap((w, i) =>
    codes[i] === 0
      ? []
      : [`worker ${i} exited ${codes[i]} (signal ${w.child.signalCode}); its output ends:\n${w.output().slice(-4000)}`],
  );
  if (failed.length > 0)
    throw new Error(`workers did not stop cleanly (exit codes ${codes.join(', ')})\n${failed.join('\n')}`);
  return result;
}

/** Offsets committed by a step's group equal the end of every partition of its input (empty ones need none). */
export async function allCommitted(admin: KafkaAdmin, p: TestPipeline, step: string, topic: string): Promise<boolean> {
  const committed = await fetchCommittedOffsets(admin, p.group(step), topic);
  const ends = await askAgainWhileRetriable(() => admin.fetchTopicOffsets(topic));
  return ends.every(
    (e) => committed.get(e.partition) === BigInt(e.high) || (e.high === '0' && committed.get(e.partition) === -1n),
  );
}

const PG_URL = process.env.LISTFLOW_POSTGRES_URL ?? 'postgres://listflow@127.0.0.1:15432/listflow';

/** A PostgreSQL schema of one test file's own: its name, a connection for the assertions, and publish's URL for it. */
export interface ScratchSchema {
  readonly name: string;
  /** Connected from the file's beforeAll to its afterAll. */
  readonly db: pg.Client;
  /** LISTFLOW_POSTGRES_URL for a publish worker: the schema is its search_path, so its tables land there. */
  readonly url: string;
}

/**
 * Registers the file's beforeAll/afterAll that create `<prefix>_<random>` and drop it with what the run wrote,
 * so concurrent runs on one database never see each other's rows.
 */
export function scratchPgSchema(prefix: string): ScratchSchema {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  let client: pg.Client | undefined;
  beforeAll(async () => {
    client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`CREATE SCHEMA ${name}`);
  });
  afterAll(async () => {
    await client?.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
    await client?.end();
  });
  const url = new URL(PG_URL);
  url.searchParams.set('options', `-c search_path=${name}`);
  return {
    name,
    get db(): pg.Client {
      if (!client) throw new Error(`scratch schema ${name}: used outside the test file's beforeAll/afterAll`);
      return client;
    },
    url: url.toString(),
  };
}
