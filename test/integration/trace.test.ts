/**
 * Trace context end to end: ingest -> normalize -> images -> publish, the real operators in worker processes
 * on the real broker, registry and PostgreSQL, exporting spans to an OTLP/HTTP receiver in the test
 * (test/support/otlp-receiver.ts). One submission's W3C trace must reach every published listing and every
 * dead letter in Kafka headers, and the exported job spans must form one trace whose parent links lead from
 * publish back through images, normalize and ingest to the submission.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeSampleFeed, writeSamplePhotos } from '../../samples';
import { TRACE_HEADER } from '../../runtime/dead-letters/build';
import { formatTraceparent, parseTraceparent, TRACEPARENT_HEADER } from '../../runtime/trace/context';
import type { IngestJob, IngestJobStatus, PublishedListing } from '../../schemas/generated/types';
import { connectedKafka, scratchDir } from '../support/kafka-suite';
import { type OtlpReceiver, startOtlpReceiver } from '../support/otlp-receiver';
import {
  allCommitted,
  createPipelineTopics,
  scratchPgSchema,
  startStepWorker,
  testListingsPipeline,
  whileWorkersRun,
} from '../support/pipeline-workers';
import { produceRecords, startReader, uniqueName, waitFor } from '../support/streams';

const SEED = 1818;
const COUNT = 40;

const broker = connectedKafka();

/** A port free right now on 127.0.0.1 (the images worker's /metrics). */
const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
const scratch = scratchDir('itest-trace-');
const pgScratch = scratchPgSchema('itest_trace');

let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(() => receiver.close());

test("one submission's trace: every published listing and dead letter carries it, and the spans link up", async () => {
  const p = testListingsPipeline(scratch.path);
  await createPipelineTopics(broker.admin, p);
  const photoUrls = await writeSamplePhotos(join(scratch.path, 'photos'), 2, SEED);
  const feed = await writeSampleFeed({
    dir: scratch.path,
    seed: SEED,
    count: COUNT,
    format: 'ndjson',
    name: 'feed',
    badRate: 0.2,
    photoUrls,
  });
  const normalizeRejects = Object.entries(feed.rejects)
    .filter(([code]) => code.startsWith('NORMALIZE_'))
    .reduce((n, [, k]) => n + k, 0);
  expect(feed.listings).toBeGreaterThan(0);
  expect(normalizeRejects).toBeGreaterThan(0);

  const published = await startReader<PublishedListing>(broker.kafka, p.topics.published, 'PublishedListing');
  const status = await startReader<IngestJobStatus>(broker.kafka, p.topics.ingestStatus, 'IngestJobStatus');
  const rawDlq = await startReader<never>(broker.kafka, p.dlq('normalize'));

  // The submission, as `listflow ingest` makes it: a new trace, the submission's span its root.
  const traceId = randomBytes(16).toString('hex');
  const submissionSpan = randomBytes(8).toString('hex');
  const jobId = uniqueName('job');
  const job: IngestJob = {
    jobId,
    source: uniqueName('itest').replace('-', ''),
    uri: feed.uri,
    format: 'auto',
    submittedAt: new Date(),
    defaultCountry: null,
    defaultCurrency: null,
  };
  await produceRecords(broker.kafka, p.topics.ingestJobs, 'IngestJob', [
    {
      key: jobId,
      value: job,
      headers: {
        [TRACE_HEADER]: jobId,
        [TRACEPARENT_HEADER]: formatTraceparent({ traceId, spanId: submissionSpan, flags: '01' }),
      },
    },
  ]);

  const blobRoot = join(scratch.path, 'blobs');
  mkdirSync(blobRoot, { recursive: true });
  // Spans leave each worker within 200 ms, and all of them when it stops.
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: '200' };
  const imagesPort = await freePort();
  const workers = [
    startStepWorker(p, 'ingest', { ...otel, LISTFLOW_INGEST_FILE_ROOT: scratch.path }),
    startStepWorker(p, 'normalize', { ...otel, LISTFLOW_NORMALIZE_ALLOW_FILE_PHOTO_URLS: 'true' }),
    startStepWorker(p, 'images', {
      ...otel,
      LISTFLOW_HTTP_PORT: String(imagesPort),
      LISTFLOW_IMAGES_FILE_ROOT: scratch.path,
      LISTFLOW_IMAGES_BLOB_STORE: 'file',
      LISTFLOW_IMAGES_PUBLIC_BASE_URL: '',
      LISTFLOW_IMAGES_BLOB_ROOT: blobRoot,
    }),
    startStepWorker(p, 'publish', { ...otel, LISTFLOW_POSTGRES_URL: pgScratch.url }),
  ];
  try {
    await whileWorkersRun(workers, async () => {
      const done = await waitFor(
        async () =>
          status.records.some((r) => r.value?.state === 'COMPLETED') &&
          new Set(published.records.map((r) => r.key)).size >= feed.listings &&
          new Set(rawDlq.records.map((r) => r.key)).size >= normalizeRejects &&
          (await allCommitted(broker.admin, p, 'publish', p.topics.enriched)),
        180_000,
        500,
      );
      if (!done) for (const w of workers) console.log(w.output().slice(-3000));
      expect(done).toBe(true);
      // The images worker counts each photo (listflow_items_total, the dashboard's photo panel): fetched (ok),
      // or reused, for a photo URL another listing of the feed already stored (the sample photos are shared).
      const metrics = await (await fetch(`http://127.0.0.1:${imagesPort}/metrics`)).text();
      const photos = (outcome: string) =>
        Number(
          new RegExp(`^listflow_items_total\\{[^}]*item="photo"[^}]*outcome="${outcome}"[^}]*\\} (\\d+)`, 'm').exec(
            metrics,
          )?.[1] ?? 0,
        );
      expect(photos('ok')).toBeGreaterThan(0);
      expect(photos('ok') + photos('reused')).toBeGreaterThanOrEqual(new Set(published.records.map((r) => r.key)).size);
    });
  } finally {
    await Promise.all([published.stop(), status.stop(), rawDlq.stop()]);
  }

  // Kafka headers: the trace reaches every published listing and every dead letter; the Listflow id stays the job's.
  const traceOf = (h: Record<string, string>) => parseTraceparent(h[TRACEPARENT_HEADER])?.traceId;
  expect(new Set(published.records.map((r) => traceOf(r.headers)))).toEqual(new Set([traceId]));
  expect(new Set(published.records.map((r) => r.headers[TRACE_HEADER]))).toEqual(new Set([jobId]));
  expect(rawDlq.records.length).toBeGreaterThanOrEqual(normalizeRejects);
  expect(new Set(rawDlq.records.map((r) => traceOf(r.headers)))).toEqual(new Set([traceId]));

  // Exported spans: one trace; each step's job spans are children of the previous step's.
  const jobs = (step: string) => receiver.spans.filter((s) => s.name === `${step} job`);
  await receiver.waitFor(() => jobs('publish').length >= feed.listings);
  const ids = (step: string) => new Set(jobs(step).map((s) => s.spanId));
  for (const step of ['ingest', 'normalize', 'images', 'publish']) {
    expect(jobs(step).length).toBeGreaterThan(0);
    expect(new Set(jobs(step).map((s) => s.traceId))).toEqual(new Set([traceId]));
    expect(new Set(jobs(step).map((s) => s.service))).toEqual(new Set([`listflow-${step}`]));
  }
  expect(jobs('ingest').map((s) => s.parentSpanId)).toEqual([submissionSpan]);
  const chain: [string, string][] = [
    ['normalize', 'ingest'],
    ['images', 'normalize'],
    ['publish', 'images'],
  ];
  for (const [step, previous] of chain) {
    const parents = ids(previous);
    expect(jobs(step).filter((s) => !parents.has(s.parentSpanId))).toEqual([]);
  }
  // Phases are children of their job (normalize runs in operator threads: decode is part of process there).
  const phasesOf = (step: string) => {
    const parents = ids(step);
    return new Set(
      receiver.spans.filter((s) => parents.has(s.parentSpanId) && !s.name.endsWith(' job')).map((s) => s.name),
    );
  };
  expect(phasesOf('normalize')).toEqual(new Set(['process', 'produce']));
  expect(phasesOf('ingest')).toEqual(new Set(['decode', 'process', 'produce']));
  // images: a photo-fetch child per photo it fetched (the sample photos are file: URLs), beside its phases.
  expect(phasesOf('images')).toEqual(new Set(['decode', 'process', 'produce', 'photo-fetch']));
  const imageJobs = ids('images');
  const fetches = receiver.spans.filter((s) => s.name === 'photo-fetch');
  // At least one fetch, but not one per listing: the sample feeds share photo URLs, and a photo a listing
  // before stored is reused from the media index with no fetch (the photo counts above add up to every listing).
  expect(fetches.length).toBeGreaterThan(0);
  expect(fetches.filter((s) => !imageJobs.has(s.parentSpanId) || s.traceId !== traceId)).toEqual([]);
  expect(new Set(fetches.map((s) => s.attributes['server.address']))).toEqual(new Set(['file']));
});
