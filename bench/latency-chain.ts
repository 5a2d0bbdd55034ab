/**
 * The chain bench:latency measures: the listings pipeline's normalize, images and publish steps, each a
 * worker child process run exactly as `listflow run` runs it (test/support/pipeline-worker-main.js: real
 * operators, settings from LISTFLOW_*, the client LISTFLOW_KAFKA_CLIENT names), on a copy of the pipeline
 * whose topics and consumer groups are the run's own (`<run>.raw`, ..., `listflow.<run>.<step>`).
 *
 * The PostgreSQL side: publish writes into the run's own schema (its search_path), where the bench adds a
 * trigger on publish's listings table that NOTIFYs the row's id. PostgreSQL delivers a notification when
 * the transaction that wrote the row commits, so its arrival is the moment the row became visible; publish
 * itself is unchanged. Everything the chain creates (topics, groups, subjects, the schema, stored variants)
 * is removed by `stop`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { platformLayout } from '../infra/layout';
import { removeLocalObjects } from '../infra/s3proxy';
import { parseBlobStore } from '../operators/images/blob-store/index';
import { createPgDb } from '../operators/publish/db';
import { applyMigrations } from '../operators/publish/migrations';
import listings from '../pipelines/listings';
import type { KafkaAdmin } from '../runtime/kafka-client';
import { dlqTopic, groupId, type PipelineSpec } from '../runtime/pipeline';
import { subjectFor } from '../runtime/serde';
import { createTopics, endpoints, spawnTestWorker, type WorkerProcess } from '../test/support/streams';
import { deleteTopics } from './harness';

/** The steps of the text path, in order. */
export const STEPS = ['normalize', 'images', 'publish'] as const;

export interface ChainTopics {
  readonly raw: string;
  readonly normalized: string;
  readonly enriched: string;
  readonly published: string;
}

export interface Chain {
  readonly run: string;
  readonly spec: PipelineSpec;
  readonly topics: ChainTopics;
  /** id -> when its row's first commit was seen (ms since the epoch). */
  readonly rows: Map<string, number>;
  /** Rows with this id prefix in the run's listings table. */
  countRows(prefix: string): Promise<number>;
  /** Each worker's output so far (stdout and stderr, the last MB). */
  outputs(): { step: string; output: string }[];
  /** Throws with the workers' output when one of them exited. */
  checkWorkers(): void;
  stop(): Promise<void>;
}

export interface ChainOptions {
  readonly admin: KafkaAdmin;
  /** `<run>`: the pipeline's name and its topics' prefix (bench-latency-<random>). */
  readonly run: string;
  /** The photo server's host:port, which the images worker must be allowed to fetch from. */
  readonly photoHost?: string;
  /** The workers' LISTFLOW_LOG_LEVEL (default warn, as in the tests). */
  readonly logLevel?: string;
}

const PG_URL = process.env.LISTFLOW_POSTGRES_URL ?? 'postgres://listflow@127.0.0.1:15432/listflow';

function withSearchPath(url: string, schema: string): string {
  // %20, not '+': the connection-string parser decodes with decodeURIComponent.
  return `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

/** The listings pipeline with every topic renamed `<run>.<short name>`, same steps, concurrency, retries. */
export function renamedPipeline(run: string): PipelineSpec {
  const rename = (t: string) => `${run}.${t.replace(/^listings\./, '')}`;
  return {
    name: run,
    topics: Object.fromEntries(Object.entries(listings.topics).map(([t, s]) => [rename(t), s])),
    steps: listings.steps.map((s) => ({
      ...s,
      input: rename(s.input),
      outputs: Object.fromEntries(Object.entries(s.outputs).map(([p, t]) => [p, rename(t)])),
    })),
  };
}

/**
 * Where the images worker stores variants: under `<prefix>/<run>/` of the platform's S3 store when the
 * environment names one (as `npm run local` and the helper platform do), else in a temporary directory.
 */
function blobSettings(run: string, dir: string): { env: Record<string, string>; s3Prefix?: string } {
  const base = process.env.LISTFLOW_IMAGES_BLOB_STORE;
  if (base?.startsWith('s3://')) {
    const store = `${base.replace(/\/+$/, '')}/${run}`;
    const where = parseBlobStore(store);
    return { env: { LISTFLOW_IMAGES_BLOB_STORE: store }, ...(where.kind === 's3' ? { s3Prefix: where.prefix } : {}) };
  }
  return { env: { LISTFLOW_IMAGES_BLOB_STORE: 'file', LISTFLOW_IMAGES_BLOB_ROOT: join(dir, 'blobs') } };
}

/** SIGTERM (the graceful drain), SIGKILL after 30 s. */
async function stopWorker(w: WorkerProcess): Promise<void> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return;
  w.child.kill('SIGTERM');
  const timer = setTimeout(() => w.child.kill('SIGKILL'), 30_000);
  await w.exited;
  clearTimeout(timer);
}

/** Best effort: the registry subjects the workers registered for the run's topics (soft, then permanent). */
async function deleteSubjects(topics: readonly string[]): Promise<void> {
  const base = endpoints.registryUrl.replace(/\/$/, '');
  for (const t of topics) {
    const url = `${base}/subjects/${encodeURIComponent(subjectFor(t))}`;
    for (const q of ['', '?permanent=true']) {
      await fetch(url + q, { method: 'DELETE', signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
    }
  }
}

export async function startChain(opts: ChainOptions): Promise<Chain> {
  const { admin, run } = opts;
  const dir = mkdtempSync(join(tmpdir(), 'listflow-bench-latency-'));
  const spec = renamedPipeline(run);
  const file = join(dir, 'pipeline.json');
  writeFileSync(file, JSON.stringify(spec, null, 2));
  const topics: ChainTopics = {
    raw: `${run}.raw`,
    normalized: `${run}.normalized`,
    enriched: `${run}.enriched`,
    published: `${run}.published`,
  };
  const steps = STEPS.map((id) => spec.steps.find((s) => s.id === id)!);
  const wanted: Record<string, number> = {};
  for (const t of Object.values(topics)) wanted[t] = spec.topics[t]!.partitions;
  for (const s of steps) wanted[dlqTopic(s.input)] = spec.topics[s.input]!.partitions;
  const created = Object.keys(wanted);

  const schema = run.replace(/-/g, '_');
  const url = withSearchPath(PG_URL, schema);
  const admin_pg = new pg.Client({ connectionString: PG_URL });
  const listener = new pg.Client({ connectionString: PG_URL });
  const rows = new Map<string, number>();
  const workers: WorkerProcess[] = [];
  const blobs = blobSettings(run, dir);

  const stop = async () => {
    await Promise.all(workers.map(stopWorker));
    await deleteTopics(admin, created);
    await admin.deleteGroups(steps.map((s) => groupId(spec, s))).catch(() => undefined);
    await deleteSubjects(created);
    await listener.end().catch(() => undefined);
    await admin_pg.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch((e: unknown) => {
      console.error(`could not drop schema ${schema}: ${(e as Error).message}`);
    });
    await admin_pg.end().catch(() => undefined);
    if (blobs.s3Prefix) await removeLocalObjects(platformLayout(), blobs.s3Prefix).catch(() => 0);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await createTopics(admin, wanted);
    await admin_pg.connect();
    await admin_pg.query(`CREATE SCHEMA ${schema}`);
    // publish's own migrations create its table here first, so the trigger has something to hang on; the
    // worker's migrate at start-up then finds nothing to do.
    const db = createPgDb({ url, poolSize: 1, statementTimeoutMs: 60_000, connectTimeoutMs: 5_000 });
    await applyMigrations(db);
    await db.close();
    await admin_pg.query(`
      CREATE FUNCTION ${schema}.bench_latency_notify() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_notify('${schema}', NEW.id); RETURN NULL; END $$;
      CREATE TRIGGER bench_latency_notify AFTER INSERT OR UPDATE ON ${schema}.listings
        FOR EACH ROW EXECUTE FUNCTION ${schema}.bench_latency_notify();`);
    await listener.connect();
    listener.on('notification', (n) => {
      const at = Date.now();
      // The first commit counts: a record processed twice (at-least-once) rewrites its row later.
      if (n.payload && !rows.has(n.payload)) rows.set(n.payload, at);
    });
    await listener.query(`LISTEN ${schema}`);

    const env: Record<string, Record<string, string>> = {
      normalize: {},
      images: {
        ...blobs.env,
        // The photo server is on loopback, which the guarded client refuses unless allowed.
        ...(opts.photoHost ? { LISTFLOW_IMAGES_ALLOW_HOSTS: opts.photoHost } : {}),
      },
      publish: { LISTFLOW_POSTGRES_URL: url },
    };
    for (const s of steps) {
      workers.push(
        spawnTestWorker('pipeline-worker-main.js', [s.id], {
          LISTFLOW_PIPELINE_FILE: file,
          ...(opts.logLevel ? { LISTFLOW_LOG_LEVEL: opts.logLevel } : {}),
          ...env[s.id],
        }),
      );
    }
  } catch (e) {
    await stop();
    throw e;
  }

  return {
    run,
    spec,
    topics,
    rows,
    async countRows(prefix) {
      const r = await admin_pg.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.listings WHERE id LIKE $1`, [
        `${prefix}%`,
      ]);
      return Number(r.rows[0]!.n);
    },
    outputs: () => workers.map((w, i) => ({ step: STEPS[i]!, output: w.output() })),
    checkWorkers() {
      workers.forEach((w, i) => {
        if (w.child.exitCode !== null || w.child.signalCode !== null) {
          throw new Error(
            `the ${STEPS[i]} worker exited (${w.child.exitCode ?? w.child.signalCode}); its output ends:\n${w.output().slice(-4000)}`,
          );
        }
      });
    },
    stop,
  };
}
