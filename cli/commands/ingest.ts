/**
 * `listflow ingest <uri>`: submit a feed as an IngestJob, print its id at once, and with --wait follow every
 * listing of it to listings.published or a dead-letter topic (see cli/job-tracker.ts for how).
 * `listflow ingest samples`: write the sample feeds (every format, broken records and photos included), ingest
 * them all, follow them and print the summary `npm run local` ends with.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FEED_ROOT_ENVS } from '../../k8s/deploy-needs';
import { expectedOutcome, writeSampleSet } from '../../samples/local-set';
import { toolOf } from '../../operators/tools';
import { TRACE_HEADER } from '../../runtime/dead-letters/build';
import { PermanentError } from '../../runtime/errors';
import { formatTraceparent, newTrace, TRACEPARENT_HEADER, traceIdOfUuid } from '../../runtime/trace/context';
import { dlqTopic } from '../../runtime/pipeline';
import type { FeedFormat, IngestJob } from '../../schemas/generated/types';
import { type Command, type Io, intOption, printJson, stringOption } from '../command';
import { FORMAT_HELP, formatOption, sourceOption } from '../feed-options';
import { type CliContext, cliContext } from '../context';
import { type JobProgress, JobTracker, type PipelineTopics, pipelineTopics } from '../job-tracker';
import { connectAdmin, connectProducer, sleep, withKafka } from '../kafka-io';
import { type LatencySummary, latencySummary, progressView, summaryLines, type Totals, totals } from '../progress';
import { jobOptions } from './ingest-options';
import type { KafkaAdmin } from '../../runtime/kafka-client';

/**
 * A local path or a file://, http:// or https:// URI, checked before anything is sent: a path becomes an
 * absolute file:// URI and must name an existing file.
 */
export function feedUri(input: string, cwd = process.cwd()): string {
  const hasScheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.test(input) && !/^[A-Za-z]:[\\/]/.test(input);
  let url: URL;
  if (hasScheme) {
    try {
      url = new URL(input);
    } catch {
      throw new PermanentError('INGEST_URI_INVALID', `${JSON.stringify(input)} is not a valid URI.`);
    }
    if (!['file:', 'http:', 'https:'].includes(url.protocol)) {
      throw new PermanentError(
        'INGEST_URI_INVALID',
        `${JSON.stringify(input)} uses ${url.protocol.slice(0, -1)}:; expected a local path or a file://, http:// or https:// URI.`,
      );
    }
    if (url.protocol !== 'file:') {
      if (!url.hostname) throw new PermanentError('INGEST_URI_INVALID', `${JSON.stringify(input)} names no host.`);
      return url.href;
    }
  } else {
    url = pathToFileURL(resolve(cwd, input));
  }
  const path = fileURLToPath(url);
  if (!existsSync(path)) throw new PermanentError('INGEST_FEED_NOT_FOUND', `no such file: ${path}`);
  if (!statSync(path).isFile()) throw new PermanentError('INGEST_FEED_NOT_FOUND', `not a regular file: ${path}`);
  return url.href;
}

export interface JobRequest {
  readonly uri: string;
  readonly source: string;
  readonly format: FeedFormat;
  readonly country: string | null;
  readonly currency: string | null;
  /** The source profile (pipelines/profiles) the job's records are normalized with; null or absent: reso-dd-2.0. */
  readonly profile?: string | null;
}

/**
 * Produces the jobs, keyed by jobId, with the job id as trace id (what --wait follows), and a W3C trace whose
 * id is the job id's 32 hex digits, so the job can be found from any traceparent of its listings.
 */
export async function submitJobs(ctx: CliContext, requests: readonly JobRequest[]): Promise<IngestJob[]> {
  const topic = pipelineTopics(ctx.pipeline).jobs;
  // Kafka first: when it is down, that is the one error worth reporting.
  const producer = await connectProducer(ctx);
  try {
    const serde = ctx.serde();
    const schemaId = await serde.schemaIdFor(topic, 'IngestJob', ctx.settings.registerSchemas);
    // Stamped when the producer and the schema id are ready: --wait's latencies are measured from here, so
    // they leave out the CLI's own connection setup.
    const submittedAt = new Date();
    const jobs = requests.map(
      (r): IngestJob => ({
        jobId: randomUUID(),
        source: r.source,
        uri: r.uri,
        format: r.format,
        submittedAt,
        defaultCountry: r.country,
        defaultCurrency: r.currency,
        profile: r.profile ?? null,
      }),
    );
    await withKafka(ctx, () =>
      producer.send({
        topic,
        messages: jobs.map((j) => ({
          key: j.jobId,
          value: serde.encode(schemaId, 'IngestJob', j),
          headers: {
            [TRACE_HEADER]: j.jobId,
            [TRACEPARENT_HEADER]: formatTraceparent(newTrace(traceIdOfUuid(j.jobId))),
          },
        })),
      }),
    );
    return jobs;
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
}

export interface FollowResult {
  readonly jobs: JobProgress[];
  readonly totals: Totals;
  readonly wallMs: number;
  readonly inPostgres: number | null;
  readonly deadLetters: Record<string, number>;
  readonly latency: LatencySummary;
  readonly chain: PipelineTopics;
}

/** Follows the tracker's jobs until all are finished (or the signal aborts), drawing progress on stderr. */
export async function followJobs(
  ctx: CliContext,
  tracker: JobTracker,
  jobIds: readonly string[],
  io: Io,
  started: number,
  signal?: AbortSignal,
): Promise<FollowResult> {
  const view = progressView((s) => process.stderr.write(s), io.isTty, started);
  await tracker.start();
  let lastDraw = 0;
  for (;;) {
    await tracker.poll();
    const jobs = jobIds.map((id) => tracker.progress(id));
    const t = totals(jobs);
    if (t.finished || Date.now() - lastDraw >= (io.isTty ? 250 : 1000)) {
      view.update(t);
      lastDraw = Date.now();
    }
    if (t.finished) {
      view.done();
      const wallMs = Date.now() - started;
      const ids = [...new Set(jobs.flatMap((j) => j.publishedIds))];
      const rows = await rowsInPostgres(ctx, ids);
      return {
        jobs,
        totals: t,
        wallMs,
        inPostgres: rows?.size ?? null,
        deadLetters: deadLetters(ctx, t),
        latency: latencySummary(tracker.latencies(jobIds, rows ?? new Map())),
        chain: pipelineTopics(ctx.pipeline),
      };
    }
    if (signal?.aborted) throw signal.reason;
    await sleep(100);
  }
}

/** Dead letters of the followed jobs, by dead-letter topic. */
function deadLetters(ctx: CliContext, t: Totals): Record<string, number> {
  const p = pipelineTopics(ctx.pipeline);
  const out: Record<string, number> = { [dlqTopic(p.jobs)]: t.ingestRejects };
  for (const s of p.stages) out[s.dlq] = t.stages[s.name]?.failed ?? 0;
  return out;
}

/**
 * The rows of `ids` the published view in PostgreSQL holds, with the published_at the sink stamped on each
 * (ms); null when PostgreSQL cannot be asked.
 */
async function rowsInPostgres(ctx: CliContext, ids: readonly string[]): Promise<Map<string, number> | null> {
  if (ids.length === 0) return new Map();
  try {
    return await toolOf('publishedListings').publishedAt(ctx.pg(), ids);
  } catch {
    return null;
  }
}

/** Stops following on Ctrl-C / SIGTERM without cancelling the job: it goes on in the pipeline. */
function abortOnSignal(): { signal: AbortSignal; dispose(): void } {
  const c = new AbortController();
  const on = (sig: NodeJS.Signals) => c.abort(new FollowInterrupted(sig));
  process.once('SIGINT', on);
  process.once('SIGTERM', on);
  return {
    signal: c.signal,
    dispose() {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}

class FollowInterrupted extends Error {
  constructor(readonly sig: NodeJS.Signals) {
    super(`interrupted by ${sig}`);
  }
}

const NEXT_STEPS = (city: string) => [
  'Where to look next:',
  // From a checkout the CLI is `npm run listflow -- <command>` (an installed package has `listflow`).
  `  npm run listflow -- listings search --city ${city}    published listings (PostgreSQL)`,
  '  npm run listflow -- dlq list                          dead letters and their reasons',
  '  npm run listflow -- status                            lag and dead letters per step',
];

async function follow(
  ctx: CliContext,
  tracker: JobTracker,
  ids: string[],
  io: Io,
  started: number,
): Promise<FollowResult | 'interrupted'> {
  const stop = abortOnSignal();
  try {
    return await followJobs(ctx, tracker, ids, io, started, stop.signal);
  } catch (e) {
    if (e instanceof FollowInterrupted) {
      io.err(
        `\nStopped following; the job(s) go on in the pipeline. Check with: ${ids.map((i) => `listflow status ${i}`).join(' ; ')}`,
      );
      return 'interrupted';
    }
    throw e;
  } finally {
    stop.dispose();
  }
}

function resultJson({ chain: _, ...r }: FollowResult) {
  const secs = r.wallMs / 1000;
  return {
    jobs: r.jobs.map(({ publishedIds, ...j }) => ({ ...j, published: publishedIds.length })),
    totals: r.totals,
    publishedInPostgres: r.inPostgres,
    deadLetters: r.deadLetters,
    latencyMs: r.latency,
    wallMs: r.wallMs,
    recordsPerSecond: Number((r.totals.feedRecords / Math.max(secs, 0.001)).toFixed(1)),
  };
}

const ingestOne: Command = {
  path: ['ingest'],
  summary: 'Submit a feed (local path or file/http(s) URI) as an ingest job; --wait follows it to the end.',
  args: '<uri>',
  minPositionals: 1,
  maxPositionals: 1,
  options: {
    source: { type: 'string' },
    format: { type: 'string' },
    wait: { type: 'boolean' },
    country: { type: 'string' },
    currency: { type: 'string' },
    profile: { type: 'string' },
  },
  optionHelp: {
    source:
      'Feed or MLS id (required); prefixes every listing id, e.g. crea-ddf. A source declared in pipelines/sources.yaml brings its profile, country and currency (each option overrides).',
    profile:
      "Source profile mapping the feed's dialect (pipelines/profiles/<name>.yaml, e.g. proptx); default reso-dd-2.0.",
    format: FORMAT_HELP,
    wait: 'Follow the job until every listing is published or dead-lettered, with live progress on stderr.',
    country: 'US or CA: country of records that name none and whose region does not tell.',
    currency: 'USD or CAD: currency of records that name none.',
  },
  details:
    'Prints the job id at once (stdout). With --wait it returns only when every listing of the job is in\nlistings.published (and PostgreSQL) or a dead-letter topic; exit 1 if the job FAILED.',
  async run(args, io) {
    const { source, country, currency, profile } = jobOptions(args);
    const format = formatOption(args);
    const uri = feedUri(args.positionals[0]!);
    // The file root is the setting the operator that reads file:// feeds declares (its `deploy.feeds`).
    for (const variable of FEED_ROOT_ENVS) {
      const root = process.env[variable];
      if (root && uri.startsWith('file:') && !fileURLToPath(uri).startsWith(`${resolve(root)}/`)) {
        io.err(
          `warning: ${fileURLToPath(uri)} is outside ${variable} (${root}); the worker reading feeds will refuse it.`,
        );
      }
    }
    const ctx = cliContext();
    const wait = args.values.wait === true;
    let admin: KafkaAdmin | null = null;
    let tracker: JobTracker | null = null;
    try {
      if (wait) {
        admin = await connectAdmin(ctx);
        tracker = await withKafka(ctx, () => JobTracker.prepare(ctx, admin!));
      }
      const started = Date.now();
      const [job] = await submitJobs(ctx, [{ uri, source, format, country, currency, profile }]);
      const jobId = job!.jobId;
      if (io.json && !wait) printJson(io, { jobId, source, uri, format: stringOption(args, 'format') ?? 'auto' });
      io.out(jobId);
      if (!wait || !admin || !tracker) return 0;
      tracker.add(jobId, job!.submittedAt);
      const r = await follow(ctx, tracker, [jobId], io, started);
      if (r === 'interrupted') return 130;
      const j = r.jobs[0]!;
      if (io.json) printJson(io, { jobId, source, uri, state: j.state, ...resultJson(r) });
      io.out(`job ${jobId} ${j.state}${j.message ? `: ${j.message}` : ''}`);
      for (const l of summaryLines(r.totals, r)) io.out(`  ${l}`);
      return j.state === 'COMPLETED' ? 0 : 1;
    } finally {
      await tracker?.close();
      await admin?.disconnect().catch(() => undefined);
      await ctx.close();
    }
  },
};

const ingestSamples: Command = {
  path: ['ingest', 'samples'],
  summary: 'Write the sample feeds (JSON, NDJSON, CSV, OData; US and CA; broken records and photos) and ingest them.',
  maxPositionals: 0,
  options: {
    count: { type: 'string' },
    seed: { type: 'string' },
    dir: { type: 'string' },
    'source-prefix': { type: 'string' },
  },
  optionHelp: {
    count: 'Records per feed (default 100; four feeds).',
    seed: 'Generator seed (default 1): the same seed writes the same feeds.',
    dir: 'Where to write them (default .listflow/samples). Workers need it inside LISTFLOW_INGEST_FILE_ROOT and LISTFLOW_IMAGES_FILE_ROOT.',
    'source-prefix': 'Sources are <prefix>-json, <prefix>-ndjson, <prefix>-csv, <prefix>-odata (default sample).',
  },
  details:
    'Follows the four jobs to the end, then prints what was ingested, normalized, rejected (top reasons),\npublished (and found in PostgreSQL), photos processed and failed, dead letters, wall time and throughput,\nand checks every count against what the generator says the feeds contain (exit 1 if one differs).',
  async run(args, io) {
    const count = intOption(args, 'count', 1, 1_000_000) ?? 100;
    const seed = intOption(args, 'seed', 0, 1_000_000) ?? 1;
    const dir = resolve(stringOption(args, 'dir') ?? '.listflow/samples');
    const prefix = sourceOption(args, 'source-prefix') ?? 'sample';
    io.err(`samples: writing 4 feeds of ${count} records (seed ${seed}) to ${dir}`);
    const set = await writeSampleSet({ dir, seed, count, sourcePrefix: prefix });
    const expected = await expectedOutcome(set);
    const ctx = cliContext();
    let admin: KafkaAdmin | null = null;
    let tracker: JobTracker | null = null;
    try {
      admin = await connectAdmin(ctx);
      tracker = await withKafka(ctx, () => JobTracker.prepare(ctx, admin!));
      const started = Date.now();
      const jobs = await submitJobs(
        ctx,
        set.feeds.map((f) => ({ uri: f.uri, source: f.source, format: 'auto', country: null, currency: null })),
      );
      jobs.forEach((j, i) => {
        tracker!.add(j.jobId, j.submittedAt);
        io.err(`samples: job ${j.jobId}  ${set.feeds[i]!.format.padEnd(10)} ${set.feeds[i]!.total} records  ${j.uri}`);
      });
      const r = await follow(
        ctx,
        tracker,
        jobs.map((j) => j.jobId),
        io,
        started,
      );
      if (r === 'interrupted') return 130;
      const t = r.totals;
      // The generator's counts: records through the chain's first stage (normalized) and out of its last.
      const first = t.stages[r.chain.stages[0]!.name]!;
      const last = t.stages[r.chain.sink.name]!;
      const photosFailed = Object.values(expected.photosFailed).reduce((a, b) => a + b, 0);
      const checks: [string, number, number | null][] = [
        ['feed records', expected.feedRecords, t.feedRecords],
        ['ingested', expected.ingested, t.ingested],
        [`rejected by ${r.chain.source.step.id}`, expected.feedRecords - expected.ingested, t.ingestRejects],
        [`out of ${r.chain.stages[0]!.name}`, expected.normalized, first.output],
        [`rejected by ${r.chain.stages[0]!.name}`, expected.ingested - expected.normalized, first.failed],
        ['photos processed', expected.photosOk, t.photos.ok],
        ['photos failed', photosFailed, t.photos.failed],
        [`out of ${r.chain.sink.name}`, expected.normalized, last.output],
        ['rows in PostgreSQL', expected.listingIds.length, r.inPostgres],
      ];
      const mismatches = checks.filter(([, want, got]) => want !== got);
      const failedJobs = r.jobs.filter((j) => j.state !== 'COMPLETED');
      if (io.json) {
        printJson(io, {
          ...resultJson(r),
          expected,
          mismatches: mismatches.map(([what, want, got]) => ({ what, expected: want, actual: got })),
        });
      }
      io.out('');
      io.out(
        `Sample run: ${r.jobs.length} jobs, ${failedJobs.length === 0 ? 'all COMPLETED' : `${failedJobs.length} not COMPLETED`}`,
      );
      for (const l of summaryLines(t, r)) io.out(`  ${l}`);
      io.out(
        mismatches.length === 0
          ? `  check             every count matches what the generator put in the feeds`
          : `  check             MISMATCH: ${mismatches.map(([w, want, got]) => `${w} expected ${want}, got ${got}`).join('; ')}`,
      );
      io.out('');
      for (const l of NEXT_STEPS('Toronto')) io.out(l);
      if (mismatches.length > 0)
        io.err(`samples: ${mismatches.length} count(s) differ from the generator's expectation`);
      return mismatches.length === 0 && failedJobs.length === 0 ? 0 : 1;
    } finally {
      await tracker?.close();
      await admin?.disconnect().catch(() => undefined);
      await ctx.close();
    }
  },
};

export const ingestCommands: Command[] = [ingestOne, ingestSamples];
