/**
 * A source profile on the real broker and registry (issue 16): an IngestJob naming crea-ddf, for a feed in the
 * older DDF shape (no ListingKey), through the ingest and normalize workers. The profile name travels on the
 * job and on each RawListing (Avro, schema-evolved field); ingest keys the records by the profile's key field,
 * normalize maps them and keeps their local fields, and a value the profile does not map is dead-lettered
 * naming the profile and the file to fix.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DLQ_HEADER } from '../../runtime/dead-letters/build';
import type { IngestJob, Listing, RawListing } from '../../schemas/generated/types';
import { connectedKafka, scratchDir } from '../support/kafka-suite';
import { OLDER_DDF_RECORD } from '../support/listings';
import {
  allCommitted,
  createPipelineTopics,
  startStepWorker,
  testListingsPipeline,
  whileWorkersRun,
} from '../support/pipeline-workers';
import { produceRecords, startReader, testSerde, uniqueName, waitFor } from '../support/streams';

const broker = connectedKafka();
const scratch = scratchDir('itest-profiles-');

const ddf = (id: string, over: Record<string, unknown> = {}) => ({
  ...OLDER_DDF_RECORD,
  ID: id,
  ListingID: `X${id}`,
  Address: { ...OLDER_DDF_RECORD.Address, StreetAddress: `${id} King St` },
  ...over,
});

test('an older-shape DDF feed with profile crea-ddf: keyed by ID, mapped, local fields kept; an unmapped value names the profile', async () => {
  const p = testListingsPipeline(scratch.path);
  await createPipelineTopics(broker.admin, p);
  const source = uniqueName('ddf').replace('-', '');
  const file = join(scratch.path, 'ddf.ndjson');
  writeFileSync(
    file,
    `${[ddf('1001'), ddf('1002'), ddf('1003', { PropertyType: 'Houseboat' })].map((r) => JSON.stringify(r)).join('\n')}\n`,
  );

  const normalized = await startReader<Listing>(broker.kafka, p.topics.normalized, 'Listing');
  const raw = await startReader<RawListing>(broker.kafka, p.topics.raw, 'RawListing');
  const rawDlq = await startReader<never>(broker.kafka, p.dlq('normalize'));
  const jobId = uniqueName('job');
  const job: IngestJob = {
    jobId,
    source,
    uri: pathToFileURL(file).href,
    format: 'ndjson',
    submittedAt: new Date(),
    defaultCountry: null,
    defaultCurrency: null,
    profile: 'crea-ddf',
  };
  await produceRecords(broker.kafka, p.topics.ingestJobs, 'IngestJob', [{ key: jobId, value: job }]);
  const workers = [
    startStepWorker(p, 'ingest', { LISTFLOW_INGEST_FILE_ROOT: scratch.path }),
    startStepWorker(p, 'normalize', {}),
  ];
  try {
    await whileWorkersRun(workers, async () => {
      const done = await waitFor(
        async () =>
          new Set(normalized.records.map((r) => r.key)).size >= 2 &&
          rawDlq.records.length >= 1 &&
          (await allCommitted(broker.admin, p, 'normalize', p.topics.raw)),
        120_000,
        500,
      );
      if (!done) for (const w of workers) console.log(w.output().slice(-3000));
      expect(done).toBe(true);
    });
  } finally {
    await Promise.all([normalized.stop(), raw.stop(), rawDlq.stop()]);
  }

  // Partitions do not keep feed order across keys: compared sorted.
  expect(raw.records.map((r) => [r.key, r.value?.profile]).sort()).toEqual([
    [`${source}:1001`, 'crea-ddf'],
    [`${source}:1002`, 'crea-ddf'],
    [`${source}:1003`, 'crea-ddf'],
  ]);
  const byId = new Map(normalized.records.map((r) => [r.key, r.value!]));
  expect([...byId.keys()].sort()).toEqual([`${source}:1001`, `${source}:1002`]);
  expect(byId.get(`${source}:1001`)).toMatchObject({
    status: 'ACTIVE',
    propertyType: 'RESIDENTIAL',
    price: { amountMinor: 89_900_000, currency: 'CAD' },
    address: { line1: '1001 King St', region: 'ON', postalCode: 'M5V 2T6', country: 'CA' },
    localFields: { ListingID: 'X1001', TransactionType: 'For sale' },
  });

  const letter = rawDlq.records[0]!;
  expect(letter.key).toBe(`${source}:1003`);
  expect(letter.headers[DLQ_HEADER.code]).toBe('NORMALIZE_PROPERTY_TYPE_UNKNOWN');
  expect(letter.headers[`${DLQ_HEADER.detailPrefix}profile`]).toBe('crea-ddf');
  expect(letter.headers[`${DLQ_HEADER.detailPrefix}profileFile`]).toBe('pipelines/profiles/crea-ddf.yaml');
  expect(letter.headers[`${DLQ_HEADER.detailPrefix}value`]).toBe('Houseboat');
  expect(letter.headers[`${DLQ_HEADER.detailPrefix}source`]).toBe(source);
  // The dead letter is the original RawListing, profile included, so a redrive after the fix maps it.
  const decoded = await testSerde().decode<RawListing>(letter.raw!, 'RawListing');
  if (!decoded.ok) throw decoded.error;
  expect(decoded.value.profile).toBe('crea-ddf');
});
