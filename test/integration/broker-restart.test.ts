/**
 * A broker restart mid-run: the echo worker (test/support/worker-main, a child process exactly as `listflow
 * run` runs) works through a few thousand records while the local platform's Kafka is stopped (SIGTERM to
 * its recorded pid) and started again on the same data directory. The same worker process must recover on
 * its own and lose nothing: every input has an output and the group's offsets reach the end.
 *
 * The platform is shared: the downtime is kept to the restart itself, and Kafka is brought up again in
 * `finally` whatever happens.
 */
import { kafkaAnswers } from '../../infra/kafka';
import { platformLayout } from '../../infra/layout';
import { restartKafka, up } from '../../infra/platform';
import type { RawListing } from '../../schemas/generated/types';
import {
  createTopics,
  produceRecords,
  rawListing,
  readTopic,
  startReader,
  startWorkerProcess,
  testKafka,
  uniqueName,
  waitFor,
} from '../support/streams';
import { fetchCommittedOffsets } from '../../runtime/kafka';
import type { KafkaClient } from '../../runtime/kafka-client';

const RECORDS = 4000;
const PARTITIONS = 6;

/** Offsets committed by the group equal the end of every partition; false while the broker cannot say. */
async function allCommitted(kafka: KafkaClient, group: string, topic: string): Promise<boolean> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const committed = await fetchCommittedOffsets(admin, group, topic);
    const ends = await admin.fetchTopicOffsets(topic);
    return ends.every((e) => committed.get(e.partition) === BigInt(e.high));
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

test('Kafka restarted mid-run: the worker recovers by itself and every input has an output', async () => {
  const layout = platformLayout();
  const say = (msg: string) => console.log(`broker-restart: ${msg}`);
  let kafka = testKafka();
  const admin = kafka.admin();
  await admin.connect();
  const input = uniqueName('restart-in');
  const output = uniqueName('restart-out');
  const step = uniqueName('restart');
  await createTopics(admin, { [input]: PARTITIONS, [output]: PARTITIONS, [`${input}.dlq`]: PARTITIONS });
  await admin.disconnect();
  const records = Array.from({ length: RECORDS }, (_, i) => ({
    key: `k${i % 400}`,
    value: rawListing(`k${i % 400}`, i),
  }));
  await produceRecords(kafka, input, 'RawListing', records);

  // About 200 records/s: long enough that the restart falls in the middle of the run.
  const worker = startWorkerProcess([input, output, String(PARTITIONS), step], {
    ITEST_CONCURRENCY: '1',
    LISTFLOW_ECHO_MIN_DELAY_MS: '20',
    LISTFLOW_ECHO_MAX_DELAY_MS: '40',
    LISTFLOW_SESSION_TIMEOUT_MS: '10000',
    LISTFLOW_HEARTBEAT_INTERVAL_MS: '1000',
    LISTFLOW_LOG_LEVEL: 'info',
  });
  const progress = await startReader<RawListing>(kafka, output, 'RawListing');
  const distinct = () => new Set(progress.records.map((r) => r.value!.position)).size;
  expect(await waitFor(() => distinct() >= 600, 120_000, 100)).toBe(true);
  await progress.stop();
  const beforeRestart = distinct();

  let restart: Awaited<ReturnType<typeof restartKafka>> | undefined;
  try {
    restart = await restartKafka(layout, say);
  } finally {
    // Whatever happened, leave a running Kafka behind for everyone else.
    if (!(await kafkaAnswers(layout))) await up(layout, say, ['kafka']);
  }
  expect(restart.pid).not.toBe(restart.stoppedPid);

  kafka = testKafka();
  const caughtUp = await waitFor(() => allCommitted(kafka, `listflow.itest.${step}`, input), 180_000, 1000);
  const aliveThroughout = worker.child.exitCode === null && worker.child.signalCode === null;
  if (!caughtUp || !aliveThroughout) console.log(worker.output().slice(-5000));
  worker.child.kill('SIGTERM');
  const code = await worker.exited;

  const out = await readTopic<RawListing>(kafka, output, {
    schema: 'RawListing',
    until: (r) => new Set(r.map((x) => x.value!.position)).size >= RECORDS,
    timeoutMs: 60_000,
  });
  const seen = new Set(out.map((r) => r.value!.position));
  const missing = records.filter((r) => !seen.has(r.value.position)).map((r) => r.value.position);

  expect(beforeRestart).toBeLessThan(RECORDS); // the restart really was mid-run
  expect(aliveThroughout).toBe(true); // recovered by itself: the same process, never restarted
  expect(caughtUp).toBe(true);
  expect(missing).toEqual([]);
  expect(out.every((r) => r.value!.payload.endsWith('|echo') && r.key === r.value!.listingKey)).toBe(true);
  expect(code).toBe(0);
  console.log(
    `broker restart: Kafka down ${restart.downMs} ms with ${beforeRestart}/${RECORDS} outputs written; ` +
      `${out.length} outputs for ${RECORDS} inputs (${out.length - RECORDS} duplicates), ` +
      `${(worker.output().match(/joined consumer group/g) ?? []).length} group joins, ` +
      `${(worker.output().match(/consumer crashed/g) ?? []).length} consumer restarts`,
  );
});
