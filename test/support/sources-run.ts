/**
 * A sources step on the real broker, for the integration tests of the sources worker
 * (test/integration/sources-worker.test.ts): the project's RESO test server with four quirky sources, a scratch
 * copy of the listings pipeline (renamedListings: its own topics and consumer groups), a sources file pointing
 * at the server, its declarations written to the scratch `sources` topic (one partition per source, so two
 * replicas can split them), and sources workers started as child processes that tests can kill -9.
 * What the worker produced is read back read_committed and folded into the replica a downstream reader holds.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { declarationsOf } from '../../operators/sources/declaration';
import { dlqTopic, type PipelineSpec } from '../../runtime/pipeline';
import { readAllToEnd } from '../../runtime/topic-reader';
import type { RawListing, SourceState } from '../../schemas/generated/types';
import { renamedListings } from './pipeline-workers';
import {
  type Fault,
  type ListingTruth,
  PRESETS,
  ResoDataset,
  type ResoQuirks,
  type ResoServer,
  startResoServer,
} from './reso-server';
import { createTopics, spawnTestWorker, testSerde, type WorkerProcess } from './streams';
import type { KafkaAdmin, KafkaClient } from '../../runtime/kafka-client';

export const SOURCE_NAMES = ['local-mlsgrid', 'local-trestle', 'local-spark', 'local-proptx'] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

const oauth = PRESETS.mlsgrid.auth;

/** The secrets the sources file names, with the values the test server accepts. */
const SECRETS: Record<string, string> = {
  SOURCE_MLSGRID_CLIENT_ID: oauth.clientId,
  SOURCE_MLSGRID_CLIENT_SECRET: oauth.clientSecret,
  SOURCE_TRESTLE_CLIENT_ID: oauth.clientId,
  SOURCE_TRESTLE_CLIENT_SECRET: oauth.clientSecret,
  SOURCE_SPARK_TOKEN: PRESETS.spark.auth.token,
  SOURCE_PROPTX_TOKEN: PRESETS.proptx.auth.token,
  SOURCE_SPARK_CLIENT_ID: oauth.clientId,
  SOURCE_SPARK_CLIENT_SECRET: oauth.clientSecret,
  SOURCE_PROPTX_CLIENT_ID: oauth.clientId,
  SOURCE_PROPTX_CLIENT_SECRET: oauth.clientSecret,
};

/** Every 7th resource request a 503, every 11th a reset, every 13th a 429 asking for 1 s. */
export const everyFault = (n: number): Fault | undefined =>
  n % 13 === 0
    ? { kind: '429', retryAfterSeconds: 1 }
    : n % 11 === 0
      ? { kind: 'reset' }
      : n % 7 === 0
        ? { kind: '503' }
        : undefined;

const QUIRKS: Record<SourceName, ResoQuirks> = {
  'local-mlsgrid': PRESETS.mlsgrid,
  'local-trestle': PRESETS.trestle,
  'local-spark': PRESETS.spark,
  'local-proptx': PRESETS.proptx,
};

function authYaml(name: SourceName, base: string, allOauth: boolean): string {
  const id = name.replace('local-', '').toUpperCase();
  if (name === 'local-mlsgrid' || name === 'local-trestle' || allOauth)
    return `{ kind: oauth2, tokenUrl: "${base}/${name}/token", clientIdEnv: SOURCE_${id}_CLIENT_ID, clientSecretEnv: SOURCE_${id}_CLIENT_SECRET }`;
  return `{ kind: bearer, tokenEnv: SOURCE_${id}_TOKEN }`;
}

/**
 * The sources file: the shipped local file's four sources (pipelines/sources.yaml) with pages of 5 (ties of 7
 * cross every page boundary) and a poll every second; MLS Grid and Trestle follow the server's links
 * (double-encoded `$skip` links; `$skiptoken` links with an empty final page).
 */
function sourcesYaml(base: string, allOauth: boolean): string {
  const common = (name: SourceName) =>
    [
      `  - name: ${name}`,
      '    kind: reso-web-api',
      `    resource: "${base}/${name}/Property"`,
      `    auth: ${authYaml(name, base, allOauth)}`,
      '    pageSize: 5',
      '    pollInterval: 1s',
    ].join('\n');
  return `sources:
${common('local-mlsgrid')}
    filter: "OriginatingSystemName eq 'listflow'"
    initialFilter: MlgCanView eq true
    tieBreak: timestamp
    paging: next-link
    nextLinkEncoding: double
    rateLimits: { perSecond: 2, perHour: 7200, perDay: 40000 }
    deletes: { kind: flag, field: MlgCanView }
    media: { mode: expand, changeTimestamp: PhotosChangeTimestamp }
    country: US
    currency: USD
    profile: mlsgrid
${common('local-trestle')}
    tieBreak: key
    paging: next-link
    deletes: { kind: status, field: StandardStatus, values: [Delete] }
    media: { mode: expand, changeTimestamp: PhotosChangeTimestamp }
    country: US
    currency: USD
    profile: trestle
${common('local-spark')}
    tieBreak: key
    paging: cursor
    deletes: { kind: purge, every: 1m }
    media: { mode: expand, changeTimestamp: PhotosChangeTimestamp }
    country: US
    currency: USD
    profile: reso-dd-2.0
${common('local-proptx')}
    tieBreak: key
    paging: cursor
    deletes: { kind: status, field: StandardStatus, values: [Delete] }
    media: { mode: expand, changeTimestamp: PhotosChangeTimestamp, bumpsModification: false }
    country: CA
    currency: CAD
    profile: proptx
`;
}

export interface SourcesRunOptions {
  readonly seed: number;
  /** Listings per source at the start. */
  readonly count: number;
  /** Faults on every source's resource requests (default none). */
  readonly faults?: (n: number) => Fault | undefined;
  /** Every source on OAuth2 (its own token per poller, so the server's log tells pollers apart). */
  readonly allOauth?: boolean;
}

export interface SourcesRun extends SourcesStep {
  readonly server: ResoServer;
  readonly dataset: (name: SourceName) => ResoDataset;
  /** Keys each purge-rule source removed (the worker has no purge pass yet). */
  readonly purged: Map<SourceName, Set<string>>;
  close(): Promise<void>;
}

export async function startSourcesRun(
  admin: KafkaAdmin,
  kafka: KafkaClient,
  dir: string,
  o: SourcesRunOptions,
): Promise<SourcesRun> {
  const server = await startResoServer({
    sources: SOURCE_NAMES.map((name, i) => {
      const preset = QUIRKS[name];
      return {
        name,
        quirks: {
          ...preset,
          ...(o.allOauth ? { auth: oauth } : {}),
          ...(o.faults ? { faults: o.faults } : {}),
        },
        dataset: new ResoDataset({
          seed: o.seed + i,
          count: o.count,
          tieSize: 7,
          deletes: preset.deletes,
          photoChangeBumpsModification: preset.photoChangeBumpsModification,
          originatingSystem: 'listflow',
          keyPrefix: `${name.replace('local-', '').toUpperCase()}-`,
        }),
      };
    }),
  });
  const step = await startSourcesStep(admin, kafka, dir, sourcesYaml(server.url, o.allOauth ?? false), {
    ...SECRETS,
    LISTFLOW_SOURCES_ALLOW_HOSTS: new URL(server.url).host,
  });
  return {
    server,
    ...step,
    dataset: (name) => server.source(name).dataset,
    purged: new Map(),
    close: () => server.close(),
  };
}

export interface SourcesStep {
  readonly spec: PipelineSpec;
  readonly topics: { readonly sources: string; readonly raw: string; readonly state: string; readonly keys: string };
  /** A sources worker process (LISTFLOW_LOG_LEVEL info, so its 'source owned' lines are in its output). */
  startWorker(): WorkerProcess;
}

/**
 * A scratch sources step: the listings pipeline's topics renamed for this run, the sources file `yaml`'s
 * declarations on its `sources` topic (one source per partition), and workers with `env` on top of the test's.
 */
export async function startSourcesStep(
  admin: KafkaAdmin,
  kafka: KafkaClient,
  dir: string,
  yaml: string,
  env: Readonly<Record<string, string>>,
): Promise<SourcesStep> {
  const run = `itest-src-${randomUUID().slice(0, 8)}`;
  const spec = renamedListings(run);
  const step = spec.steps.find((s) => s.id === 'sources')!;
  const pipelineFile = join(dir, `${run}.pipeline.json`);
  writeFileSync(pipelineFile, JSON.stringify(spec, null, 2));
  const topics = {
    sources: step.input,
    raw: step.outputs.raw!,
    state: step.outputs.state!,
    keys: step.outputs.keys!,
  };
  const wanted: Record<string, number> = { [dlqTopic(step.input)]: spec.topics[step.input]!.partitions };
  for (const t of [step.input, ...Object.values(step.outputs)]) wanted[t] = spec.topics[t]!.partitions;
  await createTopics(admin, wanted);

  const sourcesFile = join(dir, `${run}.sources.yaml`);
  writeFileSync(sourcesFile, yaml);
  const declarations = declarationsOf(sourcesFile, {}, new Date());
  const serde = testSerde();
  const id = await serde.schemaIdFor(topics.sources, 'SourceDeclaration', true);
  const producer = kafka.producer();
  await producer.connect();
  try {
    // One source per partition: two replicas get two sources each.
    await producer.send({
      topic: topics.sources,
      messages: declarations.map((d, i) => ({
        key: d.name,
        value: serde.encode(id, 'SourceDeclaration', d),
        partition: i % spec.topics[topics.sources]!.partitions,
      })),
    });
  } finally {
    await producer.disconnect();
  }
  const workerEnv = {
    ...env,
    LISTFLOW_PIPELINE_FILE: pipelineFile,
    LISTFLOW_LOG_LEVEL: 'info',
    LISTFLOW_SESSION_TIMEOUT_MS: '6000',
    LISTFLOW_HEARTBEAT_INTERVAL_MS: '1000',
    LISTFLOW_REBALANCE_TIMEOUT_MS: '10000',
  };
  return {
    spec,
    topics,
    startWorker: () => spawnTestWorker('pipeline-worker-main.js', ['sources'], workerEnv),
  };
}

/** One RawListing as a downstream reader sees it: its source and the record the server sent. */
export interface RawSeen {
  readonly source: string;
  readonly key: string;
  readonly record: Record<string, unknown>;
  /** The RawListing's jobId: `<source>@purge-<time>` for a purge pass's key-only DELETE. */
  readonly jobId: string;
}

/** A purge pass's key-only DELETE (not a version the server sent). */
export const isPurgeDelete = (s: RawSeen): boolean => s.jobId.includes('@purge-');

export async function decodeRaw(values: ReadonlyArray<Buffer | null>): Promise<RawSeen[]> {
  const serde = testSerde();
  const out: RawSeen[] = [];
  for (const v of values) {
    if (v === null) continue;
    const d = await serde.decode<RawListing>(v, 'RawListing');
    if (!d.ok) throw d.error;
    out.push({
      source: d.value.source,
      key: d.value.listingKey,
      record: JSON.parse(d.value.payload),
      jobId: d.value.jobId,
    });
  }
  return out;
}

/** The raw topic, read committed, from its start to its end now. */
export async function readRaw(kafka: KafkaClient, topic: string): Promise<RawSeen[]> {
  return decodeRaw((await readAllToEnd(kafka, [topic], { purpose: 'itest-raw' })).map((m) => m.message.value));
}

/** The last committed state of every source (read committed). */
export async function readStates(kafka: KafkaClient, topic: string): Promise<Map<string, SourceState>> {
  const serde = testSerde();
  const out = new Map<string, SourceState>();
  for (const m of await readAllToEnd(kafka, [topic], { purpose: 'itest-state' })) {
    const k = m.message.key?.toString();
    if (k === undefined) continue;
    if (m.message.value === null) {
      out.delete(k);
      continue;
    }
    const d = await serde.decode<SourceState>(m.message.value, 'SourceState');
    if (!d.ok) throw d.error;
    out.set(k, d.value);
  }
  return out;
}

/** `<key>@<ModificationTimestamp>@<PhotosChangeTimestamp>`: one version of a record. */
export const versionOf = (r: RawSeen): string =>
  `${r.key}@${String(r.record.ModificationTimestamp)}@${String(r.record.PhotosChangeTimestamp)}`;

const isDeleted = (r: Record<string, unknown>) => r.MlgCanView === false || r.StandardStatus === 'Delete';

/**
 * What a downstream reader holds for `source` after the records seen: per key the newest version (by
 * ModificationTimestamp, then PhotosChangeTimestamp: the photo stream's records), deleted ones removed; in
 * the shape of the dataset's truth().
 */
export function replicaOf(seen: readonly RawSeen[], source: string): Map<string, ListingTruth> {
  const newest = new Map<string, Record<string, unknown>>();
  const order = (r: Record<string, unknown>) => `${String(r.ModificationTimestamp)}|${String(r.PhotosChangeTimestamp)}`;
  for (const s of seen) {
    if (s.source !== source) continue;
    const had = newest.get(s.key);
    if (!had || order(s.record) >= order(had)) newest.set(s.key, s.record);
  }
  const out = new Map<string, ListingTruth>();
  for (const [k, r] of newest) {
    if (isDeleted(r)) continue;
    out.set(k, {
      ListPrice: r.ListPrice,
      StandardStatus: r.StandardStatus,
      ModificationTimestamp: String(r.ModificationTimestamp),
      photos: ((r.Media ?? []) as Array<{ MediaKey: string; MediaModificationTimestamp: string }>).map((m) => ({
        MediaKey: m.MediaKey,
        MediaModificationTimestamp: m.MediaModificationTimestamp,
      })),
    });
  }
  return out;
}

/**
 * The truth a replica of `source` must equal. A purge-rule source's removed keys stay in the replica until its
 * next purge pass (every minute here), which a test waits for only where it says so: until then their last
 * version is expected there, not a deletion.
 */
export function expectedReplica(
  run: SourcesRun,
  source: SourceName,
  seen: readonly RawSeen[],
): Map<string, ListingTruth> {
  const truth = run.dataset(source).truth();
  const purged = run.purged.get(source);
  if (!purged) return truth;
  const held = replicaOf(seen, source);
  for (const k of purged) {
    const v = held.get(k);
    if (v) truth.set(k, v);
  }
  return truth;
}

/** The sources whose replica is not yet their truth. */
export function unequalSources(run: SourcesRun, seen: readonly RawSeen[]): SourceName[] {
  return SOURCE_NAMES.filter((s) => !sameTruth(replicaOf(seen, s), expectedReplica(run, s, seen)));
}

function sameTruth(a: Map<string, ListingTruth>, b: Map<string, ListingTruth>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of b) if (JSON.stringify(a.get(k)) !== JSON.stringify(v)) return false;
  return true;
}

/** A round of changes through the dataset's mutation API: prices (a tie), statuses, deletes, photos, new listings. */
export function changeRound(run: SourcesRun, source: SourceName, round: number): void {
  const d = run.dataset(source);
  const keys = d.liveKeys();
  const at = (i: number) => keys[(i * 7 + round) % keys.length]!;
  d.atOneInstant(() => {
    for (let i = 0; i < 8; i++) d.changePrice(at(i), 200_000 + round * 1000 + i);
  });
  d.changeStatus(at(8), 'Pending');
  d.changeStatus(at(9), 'Closed');
  const removed = [at(10), at(11)];
  for (const k of removed) d.remove(k);
  d.changePhotos(at(12), { replace: true });
  d.changePhotos(at(13), { removeLast: true, add: 2 });
  d.atOneInstant(() => {
    for (let i = 0; i < 3; i++) d.addListing();
  });
  if (d.options.deletes === 'purge') {
    const set = run.purged.get(source) ?? new Set<string>();
    for (const k of removed) set.add(k);
    run.purged.set(source, set);
  }
}

/** The JSON log lines of a worker's output with this message. */
export function logLines(output: string, msg: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes(msg))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    })
    .filter((l) => l.msg === msg);
}
