/**
 * Follows submitted jobs (IngestJob) through the pipeline until every listing they produced is published or dead-lettered.
 *
 * How records are tied to a job (the correlation):
 * - The CLI produces the IngestJob with header `listflow.trace-id` = jobId. The runtime gives every output the
 *   trace id of its input (`runtime/worker.ts` toRecord: `meta.headers[TRACE_HEADER]`), and a dead letter keeps
 *   the original headers. So every RawListing, Listing, EnrichedListing, PublishedListing and every dead letter
 *   that descends from the job carries the job id in that header, whatever its key. Only Listing and later
 *   lack a jobId field, and a listing id (`<source>:<ListingKey>`) is not enough on its own: two jobs can carry
 *   the same listing. The header is read without decoding, so following a job costs little.
 * - Within a job, records are counted per listing key and capped by what entered the stage, so a record
 *   processed twice (at-least-once redelivery after a worker restart) is not counted twice.
 * - A stage may consume a record and emit nothing (a sink ignores a version older than the stored one). Such a
 *   record would never show up downstream, so waiting for outputs alone could hang. The tracker therefore also
 *   asks Kafka for the stage's committed offsets: a record below the committed offset has been fully handled
 *   (the runtime commits only after its outputs or dead letter were acknowledged). Once the reader has read the
 *   output and dead-letter topics up to their ends taken after that commit, a handled record with no output
 *   or dead letter was dropped on purpose ("skipped"), and counts as done.
 * A job is done when its status is COMPLETED or FAILED, every RawListing and feed reject it announced has been
 * seen, and every record of it that entered a stage of the chain (pipelineTopics) is done there.
 *
 * Latency: a stage's output carries the Kafka timestamp of its produce (the runtime sets none, so the client
 * stamps the send), so the time from a job's submission to a listing's first output of each stage is read off
 * the records the tracker sees anyway. Only the first output of a listing key counts: a redelivered record's
 * second output says when it was redone, not when the listing got through.
 */
import { headersToStrings, TRACE_HEADER } from '../runtime/dead-letters/build';
import { fetchCommittedOffsets } from '../runtime/kafka';
import { dlqTopic, type PipelineSpec, type Stage, stages } from '../runtime/pipeline';
import type { EnrichedListing, IngestJobStatus } from '../schemas/generated/types';
import type { CliContext } from './context';
import { CLI_OFFSETS } from './kafka-io';
import { endOffsets, type Offsets, type ReadMessage, TopicReader } from './topic-reader';
import type { KafkaAdmin } from '../runtime/kafka-client';

/** A stage the tracker follows: one step of the chain, with its one output. */
export interface TrackedStage extends Stage {
  /** The step id: how progress, summaries and latencies name the stage. */
  readonly name: string;
  readonly output: string;
}

export interface PipelineTopics {
  /** The step that reads the jobs and turns them into records. */
  readonly source: Stage;
  readonly jobs: string;
  readonly status: string;
  readonly raw: string;
  /** From the source's records to the published listings, in pipeline order. */
  readonly stages: readonly TrackedStage[];
  /** The stage whose output carries the photos' outcome (EnrichedListing), if the chain has one. */
  readonly photos: string | undefined;
  /** The last stage: its output with a value is a listing the published view in PostgreSQL holds. */
  readonly sink: TrackedStage;
}

/** Schemas the tracker reads: what they mean, not which operator writes them, ties it to the pipeline. */
const STATUS_SCHEMA = 'IngestJobStatus';
const PHOTOS_SCHEMA = 'EnrichedListing';
const PUBLISHED_SCHEMA = 'PublishedListing';

/**
 * The chain a job's records take, from stages(pipeline): the step reading the external job topic writes the
 * job status (IngestJobStatus) and records; from there, the steps that read each stage's one output, up to the
 * one that writes published listings (PublishedListing).
 */
export function pipelineTopics(pipeline: PipelineSpec): PipelineTopics {
  const all = stages(pipeline);
  const schemaOf = (topic: string) => pipeline.topics[topic]?.schema;
  const source = all.find(
    (s) => pipeline.topics[s.input]?.external && s.outputs.some((o) => schemaOf(o) === STATUS_SCHEMA),
  );
  const status = source?.outputs.find((o) => schemaOf(o) === STATUS_SCHEMA);
  const raw = source?.outputs.find((o) => o !== status);
  if (!source || !status || !raw || source.outputs.length !== 2) {
    throw new Error(
      `pipeline ${pipeline.name} has no step reading an external topic with two outputs, one of them ${STATUS_SCHEMA}`,
    );
  }
  const chain: TrackedStage[] = [];
  let topic = raw;
  while (schemaOf(topic) !== PUBLISHED_SCHEMA) {
    const stage = all.find((s) => s.input === topic);
    if (!stage)
      throw new Error(`pipeline ${pipeline.name} has no step reading ${topic} on the way to ${PUBLISHED_SCHEMA}`);
    if (stage.outputs.length !== 1)
      throw new Error(`step ${stage.step.id} must have exactly one output to be followed`);
    if (chain.some((s) => s.step === stage.step)) throw new Error(`pipeline ${pipeline.name} loops at ${topic}`);
    chain.push({ ...stage, name: stage.step.id, output: stage.outputs[0]! });
    topic = stage.outputs[0]!;
  }
  const sink = chain.at(-1);
  if (!sink) throw new Error(`pipeline ${pipeline.name}: ${raw} has no step after it`);
  const photos = chain.find((s) => schemaOf(s.output) === PHOTOS_SCHEMA)?.name;
  return { source, jobs: source.input, status, raw, stages: chain, photos, sink };
}

/** The row in PostgreSQL: a latency point besides the stages' outputs, just before the sink's. */
export const ROW_POINT = 'postgresRow';

/** Where latency is measured to, in pipeline order: each stage's output, and the sink's row in PostgreSQL. */
export function latencyPoints(t: Pick<PipelineTopics, 'stages'>): string[] {
  const names = t.stages.map((s) => s.name);
  return [...names.slice(0, -1), ROW_POINT, ...names.slice(-1)];
}

export interface StageProgress {
  /** Records of the job that entered the stage. */
  readonly entered: number;
  /** Handled: output written, dead-lettered or skipped. */
  readonly done: number;
  readonly output: number;
  readonly failed: number;
  readonly skipped: number;
  readonly inFlight: number;
  readonly reasons: Record<string, number>;
}

export interface JobProgress {
  readonly jobId: string;
  readonly state: IngestJobStatus['state'];
  /** RawListing records the job announced (status) and the ones seen on the raw topic. */
  readonly records: number;
  readonly rawSeen: number;
  /** Feed records the source step dead-lettered (announced, seen) and their codes. */
  readonly rejects: number;
  readonly rejectReasons: Record<string, number>;
  readonly errorCode: string | null;
  readonly message: string | null;
  /** By stage name, in pipeline order. */
  readonly stages: Record<string, StageProgress>;
  readonly photos: { readonly ok: number; readonly failed: number; readonly reasons: Record<string, number> };
  /** Ids of listings published with a value (not tombstones): what PostgreSQL should hold. */
  readonly publishedIds: readonly string[];
  readonly finished: boolean;
}

const inc = (m: Map<string, number>, k: string, n = 1) => m.set(k, (m.get(k) ?? 0) + n);
const toRecord = (m: Map<string, number>) => Object.fromEntries([...m].sort((a, b) => b[1] - a[1]));

class StageState {
  /** Per listing key: records that entered, outputs, dead letters, and inputs the stage committed. */
  readonly entered = new Map<string, number>();
  readonly out = new Map<string, number>();
  readonly dlq = new Map<string, number>();
  readonly handled = new Map<string, number>();
  readonly reasons = new Map<string, number>();
  /** Input positions of the job's records, to compare with the stage's committed offsets. */
  readonly inputs: { partition: number; offset: bigint; key: string }[] = [];

  progress(): StageProgress {
    let entered = 0;
    let done = 0;
    let output = 0;
    let failed = 0;
    let skipped = 0;
    for (const [key, n] of this.entered) {
      const o = Math.min(n, this.out.get(key) ?? 0);
      const f = Math.min(n - o, this.dlq.get(key) ?? 0);
      const d = Math.min(n, Math.max(o + f, this.handled.get(key) ?? 0));
      entered += n;
      output += o;
      failed += f;
      skipped += d - o - f;
      done += d;
    }
    return { entered, done, output, failed, skipped, inFlight: entered - done, reasons: toRecord(this.reasons) };
  }
}

class JobState {
  constructor(
    readonly submittedAt: number,
    stageNames: readonly string[],
  ) {
    this.stages = new Map(stageNames.map((s) => [s, new StageState()]));
    this.firstOutputAt = new Map(stageNames.map((s) => [s, new Map()]));
  }
  status: IngestJobStatus | null = null;
  readonly rawByKey = new Map<string, number>();
  rawSeen = 0;
  rejectsSeen = 0;
  readonly rejectReasons = new Map<string, number>();
  readonly stages: Map<string, StageState>;
  readonly photos = new Map<string, { ok: number; failed: number; reasons: string[] }>();
  readonly published = new Map<string, boolean>();
  /** Per stage and listing key: the Kafka timestamp (ms) of the first output. */
  readonly firstOutputAt: Map<string, Map<string, number>>;
}

export class JobTracker {
  private readonly topics: PipelineTopics;
  private readonly jobs = new Map<string, JobState>();
  private reader: TopicReader | null = null;
  /** A pending check of committed offsets: done once the reader has caught up with `ends`. */
  private pending: { committed: Map<string, Map<number, bigint>>; ends: Offsets } | null = null;
  private lastCheck = 0;
  /** Records whose accounting is under way (see onMessage). */
  private counting = 0;

  private constructor(
    private readonly ctx: CliContext,
    private readonly admin: KafkaAdmin,
    private readonly from: Offsets,
  ) {
    this.topics = pipelineTopics(ctx.pipeline);
    this.stageNames = this.topics.stages.map((s) => s.name);
  }

  private readonly stageNames: readonly string[];

  /** Where latencies are measured to, in pipeline order (see latencies). */
  get latencyPoints(): string[] {
    return latencyPoints(this.topics);
  }

  /** Topics read: the status, every stage's input and output, and the dead-letter topics that exist. */
  static followedTopics(t: PipelineTopics, existing: ReadonlySet<string>): string[] {
    const wanted = [t.status, t.raw, dlqTopic(t.jobs)];
    for (const s of t.stages) wanted.push(s.output, s.dlq);
    return [...new Set(wanted)].filter((x) => existing.has(x));
  }

  /**
   * Call BEFORE producing the jobs: remembers where every followed topic ends now, so that nothing the jobs
   * cause can be missed and nothing older is read.
   */
  static async prepare(ctx: CliContext, admin: KafkaAdmin): Promise<JobTracker> {
    const t = pipelineTopics(ctx.pipeline);
    const existing = new Set(await admin.listTopics());
    const missing = [t.jobs, t.status, t.raw, ...t.stages.map((s) => s.output)].filter((x) => !existing.has(x));
    if (missing.length > 0) {
      throw new Error(`topics missing: ${missing.join(', ')}. Fix: run \`listflow topics apply\`.`);
    }
    return new JobTracker(ctx, admin, await endOffsets(admin, JobTracker.followedTopics(t, existing)));
  }

  /** Follows a job; `submittedAt` is when it was produced, what its latencies are measured from. */
  add(jobId: string, submittedAt: Date): void {
    if (!this.jobs.has(jobId)) this.jobs.set(jobId, new JobState(submittedAt.getTime(), this.stageNames));
  }

  async start(): Promise<void> {
    this.reader = new TopicReader(this.ctx, 'wait', this.from, (m) => this.onMessage(m));
    await this.reader.start();
  }

  /**
   * One record at a time per partition, but a record's accounting spans awaits (decoding a status or an
   * EnrichedListing's photos): while one is half counted (one stage's output counted, the next one's input not yet),
   * the follow loop must not read the job as finished.
   */
  private async onMessage(m: ReadMessage): Promise<void> {
    this.counting++;
    try {
      await this.count(m);
    } finally {
      this.counting--;
    }
  }

  private async count({ topic, partition, message }: ReadMessage): Promise<void> {
    const headers = headersToStrings(message.headers);
    const job = this.jobs.get(headers[TRACE_HEADER] ?? '');
    if (!job) return;
    const key = message.key?.toString('utf8') ?? '';
    const t = this.topics;
    if (topic === t.status) {
      if (!message.value) return;
      const d = await this.ctx.serde().decode<IngestJobStatus>(message.value, 'IngestJobStatus');
      if (d.ok && (!job.status || job.status.updatedAt <= d.value.updatedAt)) job.status = d.value;
      return;
    }
    if (topic === dlqTopic(t.jobs)) {
      // Feed records the source step could not read carry their position; the job's own dead letter (FAILED) does not.
      if (headers['listflow.detail.position'] !== undefined) {
        job.rejectsSeen++;
        inc(job.rejectReasons, headers['listflow.error.code'] ?? 'UNKNOWN');
      }
      return;
    }
    if (topic === t.raw) {
      job.rawSeen++;
      inc(job.rawByKey, key);
    }
    for (const s of t.stages) {
      const st = job.stages.get(s.name)!;
      if (topic === s.input) {
        inc(st.entered, key);
        st.inputs.push({ partition, offset: BigInt(message.offset), key });
      }
      if (topic === s.dlq) {
        inc(st.dlq, key);
        inc(st.reasons, headers['listflow.error.code'] ?? 'UNKNOWN');
      }
      if (topic === s.output) {
        inc(st.out, key);
        const first = job.firstOutputAt.get(s.name)!;
        const at = Number(message.timestamp);
        const seen = first.get(key);
        if (seen === undefined || at < seen) first.set(key, at);
        if (s.name === t.photos && message.value) await this.countPhotos(job, key, message.value);
        if (s === t.sink) job.published.set(key, message.value !== null);
      }
    }
  }

  private async countPhotos(job: JobState, key: string, value: Buffer): Promise<void> {
    const d = await this.ctx.serde().decode<EnrichedListing>(value, 'EnrichedListing');
    if (!d.ok) return;
    const failed = d.value.images.filter((i) => i.status !== 'OK');
    job.photos.set(key, {
      ok: d.value.images.length - failed.length,
      failed: failed.length,
      reasons: failed.map((i) => i.reasonCode ?? 'UNKNOWN'),
    });
  }

  progress(jobId: string): JobProgress {
    const job = this.jobs.get(jobId);
    if (!job) throw new Error(`job ${jobId} is not followed`);
    const stages = Object.fromEntries(this.stageNames.map((s) => [s, job.stages.get(s)!.progress()]));
    const photos = { ok: 0, failed: 0, reasons: new Map<string, number>() };
    for (const p of job.photos.values()) {
      photos.ok += p.ok;
      photos.failed += p.failed;
      for (const r of p.reasons) inc(photos.reasons, r);
    }
    const s = job.status;
    const terminal = s !== null && (s.state === 'COMPLETED' || s.state === 'FAILED');
    const finished =
      terminal &&
      job.rawSeen >= Number(s.records) &&
      job.rejectsSeen >= Number(s.rejects) &&
      this.stageNames.every((n) => stages[n]!.inFlight === 0) &&
      this.counting === 0;
    return {
      jobId,
      state: s?.state ?? 'PENDING',
      records: Number(s?.records ?? 0),
      rawSeen: job.rawSeen,
      rejects: Number(s?.rejects ?? 0),
      rejectReasons: toRecord(job.rejectReasons),
      errorCode: s?.errorCode ?? null,
      message: s?.message ?? null,
      stages,
      photos: { ok: photos.ok, failed: photos.failed, reasons: toRecord(photos.reasons) },
      publishedIds: [...job.published].filter(([, v]) => v).map(([k]) => k),
      finished,
    };
  }

  /**
   * Milliseconds from each job's submission to each of its listings' first output of every stage, and to the
   * `published_at` of its row (`rowPublishedAt`, by listing id: the sink stamps it in the transaction that
   * writes the row). A row stamped before the job was submitted was not written for it (the sink kept a newer
   * version) and is left out.
   */
  latencies(jobIds: readonly string[], rowPublishedAt: ReadonlyMap<string, number>): Record<string, number[]> {
    const out: Record<string, number[]> = Object.fromEntries(this.latencyPoints.map((p) => [p, [] as number[]]));
    for (const id of jobIds) {
      const job = this.jobs.get(id);
      if (!job) throw new Error(`job ${id} is not followed`);
      for (const s of this.stageNames) {
        for (const at of job.firstOutputAt.get(s)!.values()) out[s]!.push(at - job.submittedAt);
      }
      for (const [key, withValue] of job.published) {
        const at = rowPublishedAt.get(key);
        if (withValue && at !== undefined && at >= job.submittedAt) out[ROW_POINT]!.push(at - job.submittedAt);
      }
    }
    return out;
  }

  /**
   * Advances the committed-offset check (see the header): at most once a second, and only while some record
   * of a followed job waits in a stage.
   */
  async poll(): Promise<void> {
    if (this.reader?.error) throw this.reader.error;
    const t = this.topics;
    if (this.pending && this.reader?.caughtUp(this.pending.ends)) {
      const { committed } = this.pending;
      this.pending = null;
      for (const job of this.jobs.values()) {
        for (const s of t.stages) {
          const st = job.stages.get(s.name)!;
          const parts = committed.get(s.name)!;
          st.handled.clear();
          for (const r of st.inputs) if (r.offset < (parts.get(r.partition) ?? 0n)) inc(st.handled, r.key);
        }
      }
    }
    const waiting = [...this.jobs.keys()].some((id) =>
      this.stageNames.some((n) => this.progress(id).stages[n]!.inFlight > 0),
    );
    if (this.pending || !waiting || Date.now() - this.lastCheck < 1000) return;
    this.lastCheck = Date.now();
    const committed = new Map<string, Map<number, bigint>>();
    for (const s of t.stages) {
      committed.set(s.name, await fetchCommittedOffsets(this.admin, s.group, s.input, CLI_OFFSETS));
    }
    const followed = new Set(this.reader?.topics ?? []);
    const after = t.stages.flatMap((s) => [s.output, s.dlq]).filter((x) => followed.has(x));
    this.pending = { committed, ends: await endOffsets(this.admin, after) };
  }

  async close(): Promise<void> {
    await this.reader?.close(this.admin);
  }
}
