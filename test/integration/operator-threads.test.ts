/**
 * normalize on operator threads against the real broker and registry: the same 3,000 RawListings (a few
 * percent broken) go through normalize with `threads: 1` and with `threads: 0` (the event loop), each in its
 * own renamed copy of the listings pipeline and its own worker process. Both must end committed, every input
 * as a Listing or a dead letter, and the two runs must agree byte for byte: the same Listing bytes under the
 * same keys, the same dead letters with the same codes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sampleRawListings } from '../../bench/fixtures';
import { DLQ_HEADER } from '../../runtime/dead-letters/build';
import {
  allCommitted,
  createPipelineTopics,
  startStepWorker,
  type TestPipeline,
  testListingsPipeline,
  whileWorkersRun,
} from '../support/pipeline-workers';
import { connectedKafka } from '../support/kafka-suite';
import { produceRecords, startReader, testSerde, waitFor } from '../support/streams';

const COUNT = 3_000;

const broker = connectedKafka();
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Outcome {
  /** Listing id -> the Listing's wire-format bytes, hex (the last one, if a replay wrote it twice). */
  readonly listings: Map<string, string>;
  /** Listing id -> the dead letter's error code. */
  readonly rejects: Map<string, string>;
}

async function runNormalize(
  threads: number,
  records: ReturnType<typeof sampleRawListings>,
  expected: number,
): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'itest-threads-'));
  dirs.push(dir);
  const p: TestPipeline = testListingsPipeline(dir, { normalize: { threads, replicas: 1 } });
  expect(p.spec.steps.find((s) => s.id === 'normalize')!.threads).toBe(threads);
  await createPipelineTopics(broker.admin, p);
  await produceRecords(broker.kafka, p.topics.raw, 'RawListing', records);
  const worker = startStepWorker(p, 'normalize', {});
  await whileWorkersRun([worker], async () => {
    const done = await waitFor(() => allCommitted(broker.admin, p, 'normalize', p.topics.raw), 120_000, 500);
    if (!done) console.log(worker.output().slice(-3000));
    expect(done).toBe(true);
  });
  // Committed means every output and dead letter was acknowledged first: read both topics to the end.
  const normalized = await startReader<never>(broker.kafka, p.topics.normalized);
  const dlq = await startReader<never>(broker.kafka, p.dlq('normalize'));
  const distinct = () => new Set([...normalized.records, ...dlq.records].map((r) => r.key)).size;
  await waitFor(() => distinct() >= expected, 30_000, 200);
  await Promise.all([normalized.stop(), dlq.stop()]);
  const listings = new Map(normalized.records.map((r) => [r.key!, r.raw!.toString('hex')]));
  // Every Listing carries, in its wire-format header, the id registered for its topic's subject.
  const id = await testSerde().schemaIdFor(p.topics.normalized, 'Listing', false);
  const header = `00${id.toString(16).padStart(8, '0')}`;
  expect([...listings.values()].filter((hex) => !hex.startsWith(header))).toEqual([]);
  const rejects = new Map(dlq.records.map((r) => [r.key!, r.headers[DLQ_HEADER.code]!]));
  return { listings, rejects };
}

test('normalize on a thread and on the event loop: every input accounted for, the same bytes and dead letters', async () => {
  const records = sampleRawListings(COUNT);
  const ids = new Set(records.map((r) => `${r.value.source}:${r.value.listingKey}`));
  const threaded = await runNormalize(1, records, ids.size);
  const onLoop = await runNormalize(0, records, ids.size);

  // Every input ended as exactly one of the two, and the feed's broken records were rejected.
  for (const o of [threaded, onLoop]) {
    expect(o.listings.size + o.rejects.size).toBe(ids.size);
    expect([...o.listings.keys(), ...o.rejects.keys()].every((id) => ids.has(id))).toBe(true);
    expect(o.rejects.size).toBeGreaterThan(COUNT * 0.01);
  }
  // The same outcome, byte for byte (the Avro bodies: each pipeline copy has its own subject, so its own id).
  expect(threaded.rejects).toEqual(onLoop.rejects);
  expect(threaded.listings.size).toBe(onLoop.listings.size);
  const differing = [...threaded.listings].filter(([id, hex]) => onLoop.listings.get(id)?.slice(10) !== hex.slice(10));
  expect(differing).toEqual([]);
}, 300_000);
