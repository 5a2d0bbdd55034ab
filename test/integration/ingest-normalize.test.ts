/**
 * ingest and normalize, the real operators in worker processes on the real broker and schema registry: a
 * 10,000-record NDJSON sample feed (with its few percent of deliberately broken records) goes in as one
 * IngestJob; every record must come out exactly once as a Listing or as a dead letter with the right code.
 * Expectations come from the generator (`sampleListings` knows which records it broke and how), never from
 * fixed numbers. Topics, consumer groups and the listing source are unique per run.
 */
import { sampleListings, writeSampleFeed } from '../../samples';
import { DLQ_HEADER } from '../../runtime/dead-letters/build';
import type { IngestJob, IngestJobStatus, Listing, RawListing } from '../../schemas/generated/types';
import { connectedKafka, scratchDir } from '../support/kafka-suite';
import {
  allCommitted,
  createPipelineTopics,
  startStepWorker,
  testListingsPipeline,
  whileWorkersRun,
} from '../support/pipeline-workers';
import {
  produceRecords,
  type ReadRecord,
  startReader,
  testSerde,
  uniqueName,
  type WorkerProcess,
  waitFor,
} from '../support/streams';

const COUNT = 10_000;
const SEED = 20_261;

const broker = connectedKafka();
const scratch = scratchDir('itest-ingest-');

/** What the generator says must happen to each record of the feed. */
function expectations(source: string) {
  const ok = new Set<string>();
  const normalizeRejects = new Map<string, string>(); // listing id -> code
  const ingestRejects = new Map<number, string>(); // feed position -> code
  let position = 0;
  for (const s of sampleListings({ seed: SEED, count: COUNT })) {
    const id = `${source}:${String(s.record.ListingKey)}`;
    if (s.expected.stage === 'ok') ok.add(id);
    else if (s.expected.stage === 'normalize') normalizeRejects.set(id, s.expected.code);
    else ingestRejects.set(position, s.expected.code);
    position++;
  }
  return { ok, normalizeRejects, ingestRejects };
}

const countBy = (codes: Iterable<string>): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const c of codes) out[c] = (out[c] ?? 0) + 1;
  return out;
};

test('a 10,000-record feed through ingest and normalize: every record is a Listing or a dead letter with its code', async () => {
  const started = Date.now();
  const p = testListingsPipeline(scratch.path);
  await createPipelineTopics(broker.admin, p);
  const source = uniqueName('itest').replace('-', '');
  const expected = expectations(source);

  // The feed as the generator writes it; its summary must agree with the per-record expectations.
  const feed = await writeSampleFeed({ dir: scratch.path, seed: SEED, count: COUNT, format: 'ndjson', name: 'feed' });
  expect(feed.total).toBe(COUNT);
  expect(feed.listings).toBe(expected.ok.size);
  expect(countBy([...expected.normalizeRejects.values(), ...expected.ingestRejects.values()])).toEqual(feed.rejects);
  // The feed really is "a few percent" broken, and in every way the generator knows.
  expect(expected.ingestRejects.size + expected.normalizeRejects.size).toBeGreaterThan(COUNT * 0.01);
  expect(new Set(expected.ingestRejects.values())).toEqual(
    new Set(['INGEST_RECORD_NO_LISTING_KEY', 'INGEST_RECORD_UNPARSEABLE']),
  );
  expect(new Set(expected.normalizeRejects.values())).toEqual(
    new Set([
      'NORMALIZE_PRICE_INVALID',
      'NORMALIZE_STATUS_UNKNOWN',
      'NORMALIZE_POSTAL_CODE_INVALID',
      'NORMALIZE_MODIFIED_AT_INVALID',
    ]),
  );

  const normalized = await startReader<Listing>(broker.kafka, p.topics.normalized, 'Listing');
  const status = await startReader<IngestJobStatus>(broker.kafka, p.topics.ingestStatus, 'IngestJobStatus');
  const rawDlq = await startReader<never>(broker.kafka, p.dlq('normalize'));
  const jobDlq = await startReader<never>(broker.kafka, p.dlq('ingest'));

  const jobId = uniqueName('job');
  const job: IngestJob = {
    jobId,
    source,
    uri: feed.uri,
    format: 'auto',
    submittedAt: new Date(),
    defaultCountry: null,
    defaultCurrency: null,
  };
  await produceRecords(broker.kafka, p.topics.ingestJobs, 'IngestJob', [{ key: jobId, value: job }]);

  const workers: WorkerProcess[] = [
    startStepWorker(p, 'ingest', { LISTFLOW_INGEST_FILE_ROOT: scratch.path, LISTFLOW_INGEST_PROGRESS_EVERY: '2500' }),
    startStepWorker(p, 'normalize', {}),
    startStepWorker(p, 'normalize', {}),
  ];
  const distinctListings = () => new Set(normalized.records.map((r) => r.key)).size;
  const completed = () => status.records.some((r) => r.value?.state === 'COMPLETED' || r.value?.state === 'FAILED');
  try {
    await whileWorkersRun(workers, async () => {
      const done = await waitFor(
        async () =>
          completed() &&
          distinctListings() >= expected.ok.size &&
          (await allCommitted(broker.admin, p, 'ingest', p.topics.ingestJobs)) &&
          (await allCommitted(broker.admin, p, 'normalize', p.topics.raw)),
        240_000,
        500,
      );
      if (!done) {
        console.log(
          `not done: status ${completed()}, listings ${distinctListings()}/${expected.ok.size}, ` +
            `ingest committed ${await allCommitted(broker.admin, p, 'ingest', p.topics.ingestJobs)}, ` +
            `normalize committed ${await allCommitted(broker.admin, p, 'normalize', p.topics.raw)}`,
        );
        for (const w of workers) console.log(w.output().slice(-3000));
      }
      expect(done).toBe(true);
      // Everything is committed, so every dead letter was acknowledged before its offset: read them to the end.
      expect(
        await waitFor(
          () =>
            new Set(rawDlq.records.map((r) => r.key)).size >= expected.normalizeRejects.size &&
            new Set(jobDlq.records.map((r) => r.headers[`${DLQ_HEADER.detailPrefix}position`])).size >=
              expected.ingestRejects.size,
          30_000,
        ),
      ).toBe(true);
    });
  } finally {
    await Promise.all([normalized.stop(), status.stop(), rawDlq.stop(), jobDlq.stop()]);
  }

  // The job's final status carries the counts.
  const final = status.records.filter((r) => r.key === jobId).at(-1)!.value!;
  expect(final).toMatchObject({
    state: 'COMPLETED',
    source,
    records: COUNT - expected.ingestRejects.size,
    rejects: expected.ingestRejects.size,
    errorCode: null,
  });

  // Listings: exactly the good records, each id at least once (at-least-once may repeat), each well formed.
  const listingIds = new Set<string>();
  for (const r of normalized.records) {
    expect(r.value!.id).toBe(r.key);
    expect(r.value!.source).toBe(source);
    listingIds.add(r.key!);
  }
  expect([...expected.ok].filter((id) => !listingIds.has(id))).toEqual([]);
  expect([...listingIds].filter((id) => !expected.ok.has(id))).toEqual([]);

  // normalize's dead letters: the original RawListing bytes, with the code the generator broke it for.
  const serde = testSerde();
  const normalizeRejects = new Map<string, string>();
  for (const l of rawDlq.records as ReadRecord<never>[]) {
    const decoded = await serde.decode<RawListing>(l.raw!, 'RawListing');
    if (!decoded.ok) throw decoded.error;
    const id = `${decoded.value.source}:${decoded.value.listingKey}`;
    expect(l.key).toBe(id);
    expect(l.headers[DLQ_HEADER.kind]).toBe('permanent');
    expect(l.headers[DLQ_HEADER.step]).toBe('normalize');
    expect(l.headers[DLQ_HEADER.topic]).toBe(p.topics.raw);
    expect(l.headers[`${DLQ_HEADER.detailPrefix}field`]).toBeTruthy();
    normalizeRejects.set(id, l.headers[DLQ_HEADER.code]!);
  }
  expect(normalizeRejects).toEqual(expected.normalizeRejects);

  // ingest's rejects: dead letters of the job, one per bad feed record, naming its position and the reason.
  const ingestRejects = new Map<number, string>();
  for (const l of jobDlq.records) {
    expect(l.key).toBe(jobId);
    expect(l.headers[DLQ_HEADER.step]).toBe('ingest');
    expect(l.headers[DLQ_HEADER.topic]).toBe(p.topics.ingestJobs);
    expect(l.headers[`${DLQ_HEADER.detailPrefix}jobId`]).toBe(jobId);
    ingestRejects.set(Number(l.headers[`${DLQ_HEADER.detailPrefix}position`]), l.headers[DLQ_HEADER.code]!);
  }
  expect(ingestRejects).toEqual(expected.ingestRejects);

  // Nothing lost, nothing invented: outcomes add up to the input.
  expect(listingIds.size + normalizeRejects.size + ingestRejects.size).toBe(COUNT);
  console.log(
    `ingest+normalize: ${COUNT} records -> ${listingIds.size} listings (${normalized.records.length} messages), ` +
      `${normalizeRejects.size} normalize rejects ${JSON.stringify(countBy(normalizeRejects.values()))}, ` +
      `${ingestRejects.size} ingest rejects ${JSON.stringify(countBy(ingestRejects.values()))} in ${Date.now() - started} ms`,
  );
});
