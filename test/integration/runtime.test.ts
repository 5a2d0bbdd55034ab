/**
 * The runtime's guarantees, proven against the real broker and registry (see issue: worker runtime).
 * Workers run as child processes (dist/test/support/worker-main.js), exactly as `listflow run` runs them,
 * so they can be killed with SIGKILL or stopped with SIGTERM.
 */
import type { RawListing } from '../../schemas/generated/types';
import { DLQ_HEADER } from '../../runtime/dead-letters/build';
import { connectedKafka } from '../support/kafka-suite';
import {
  createTopics,
  delay,
  produceRecords,
  rawListing,
  type ReadRecord,
  readTopic,
  startReader,
  startWorkerProcess,
  uniqueName,
  type WorkerProcess,
  waitFor,
} from '../support/streams';
import { fetchCommittedOffsets } from '../../runtime/kafka';

const GROUP = (step: string) => `listflow.itest.${step}`;
const seqOf = (r: ReadRecord<RawListing>) => r.value!.position;

const broker = connectedKafka();

/** Fresh input/output/dlq topics and a unique step id (hence consumer group) per test. */
async function topics(name: string, partitions: number) {
  const input = uniqueName(`${name}-in`);
  const output = uniqueName(`${name}-out`);
  const step = uniqueName(name);
  await createTopics(broker.admin, { [input]: partitions, [output]: partitions, [`${input}.dlq`]: partitions });
  return { input, output, step, dlq: `${input}.dlq` };
}

function keyedRecords(count: number, keys: number) {
  const seq = new Map<string, number>();
  return Array.from({ length: count }, (_, i) => {
    const key = `k${i % keys}`;
    const s = seq.get(key) ?? 0;
    seq.set(key, s + 1);
    return { key, value: rawListing(key, s) };
  });
}

async function stopWorker(w: WorkerProcess): Promise<number | null> {
  if (w.child.exitCode !== null) return w.child.exitCode;
  w.child.kill('SIGTERM');
  return w.exited;
}

/** Per key: the first occurrences of sequence numbers appear in order and without gaps (replays may repeat). */
function perKeyOrderViolations(records: ReadRecord<RawListing>[]): string[] {
  const maxSeen = new Map<string, number>();
  const problems: string[] = [];
  for (const r of [...records].sort(
    (a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)),
  )) {
    const key = r.key!;
    const s = seqOf(r);
    const max = maxSeen.get(key) ?? -1;
    if (s > max + 1) problems.push(`${key}: ${s} after ${max}`);
    if (s > max) maxSeen.set(key, s);
  }
  return problems;
}

test('crash safety: kill -9 at random moments loses nothing, keeps per-key order and bounds duplicates', async () => {
  const partitions = 6;
  const concurrency = 8;
  const window = 32; // LISTFLOW_MAX_IN_FLIGHT below: records per partition taken but not committed
  const { input, output, step } = await topics('crash', partitions);
  const records = keyedRecords(20_000, 600);
  await produceRecords(broker.kafka, input, 'RawListing', records);
  const env = {
    ITEST_CONCURRENCY: String(concurrency),
    LISTFLOW_MAX_IN_FLIGHT: String(window),
    LISTFLOW_ECHO_MIN_DELAY_MS: '2',
    LISTFLOW_ECHO_MAX_DELAY_MS: '25',
    LISTFLOW_SESSION_TIMEOUT_MS: '6000',
    LISTFLOW_HEARTBEAT_INTERVAL_MS: '1000',
  };
  const reader = await startReader<RawListing>(broker.kafka, output, 'RawListing');
  const distinct = () => new Set(reader.records.map((r) => `${r.key}/${seqOf(r)}`)).size;
  let worker = startWorkerProcess([input, output, String(partitions), step], env);
  let kills = 0;
  while (kills < 5) {
    const base = reader.records.length;
    const target = base + 800 + Math.floor(Math.random() * 1500);
    const progressed = await waitFor(() => reader.records.length >= target || distinct() >= records.length, 90_000);
    if (!progressed || distinct() >= records.length) break;
    worker.child.kill('SIGKILL');
    await worker.exited;
    kills++;
    worker = startWorkerProcess([input, output, String(partitions), step], env);
  }
  const complete = await waitFor(() => distinct() >= records.length, 180_000, 500);
  expect(await stopWorker(worker)).toBe(0);
  await reader.stop();

  expect(kills).toBe(5);
  expect(complete).toBe(true);
  const missing = records.filter((r) => !reader.records.some((o) => o.key === r.key && seqOf(o) === r.value.position));
  expect(missing).toHaveLength(0);
  expect(reader.records.every((r) => r.value!.payload.endsWith('|echo'))).toBe(true);
  expect(perKeyOrderViolations(reader.records)).toEqual([]);
  const duplicates = reader.records.length - records.length;
  console.log(
    `crash safety: ${kills} kills, ${records.length} inputs, ${duplicates} duplicate outputs (bound ${kills * partitions * window})`,
  );
  expect(duplicates).toBeLessThanOrEqual(kills * partitions * window);
  // Everything is committed at the end: the group's offsets equal the end of every partition.
  const committed = await fetchCommittedOffsets(broker.admin, GROUP(step), input);
  const ends = await broker.admin.fetchTopicOffsets(input);
  for (const e of ends) expect(committed.get(e.partition)).toBe(BigInt(e.high));
});

test('without faults, a steady stream is processed exactly once, in one generation', async () => {
  // Many batches per partition (small sends over time): a client that took a later batch for unresolved
  // would restart its epoch and process records again (the platformatic adapter did, 2026-12-04).
  const partitions = 3;
  const { input, output, step } = await topics('steady', partitions);
  const records = keyedRecords(3000, 300);
  const w = startWorkerProcess([input, output, String(partitions), step], {
    LISTFLOW_ECHO_MIN_DELAY_MS: '0',
    LISTFLOW_ECHO_MAX_DELAY_MS: '3',
    LISTFLOW_LOG_LEVEL: 'info',
  });
  const reader = await startReader<RawListing>(broker.kafka, output, 'RawListing');
  expect(await waitFor(() => /joined consumer group/.test(w.output()), 60_000)).toBe(true);
  for (let i = 0; i < records.length; i += 100) {
    await produceRecords(broker.kafka, input, 'RawListing', records.slice(i, i + 100));
    await delay(100);
  }
  expect(await waitFor(() => reader.records.length >= records.length, 90_000, 200)).toBe(true);
  await delay(2000); // records processed twice would arrive within this time
  expect(await stopWorker(w)).toBe(0);
  await reader.stop();
  const seen = reader.records.map((r) => `${r.key}/${seqOf(r)}`);
  expect(new Set(seen).size).toBe(records.length);
  expect(seen.length - records.length).toBe(0);
  expect(w.output().match(/joined consumer group/g)).toHaveLength(1);
  const committed = await fetchCommittedOffsets(broker.admin, GROUP(step), input);
  const ends = await broker.admin.fetchTopicOffsets(input);
  for (const e of ends) expect(committed.get(e.partition)).toBe(BigInt(e.high));
});

test('a job slower than the session timeout is processed once, without a rebalance loop', async () => {
  const { input, output, step } = await topics('slow', 1);
  await produceRecords(broker.kafka, input, 'RawListing', [
    { key: 'a', value: rawListing('a', 0, 'slow') },
    { key: 'b', value: rawListing('b', 0, 'fast') },
  ]);
  const w = startWorkerProcess([input, output, '1', step], {
    LISTFLOW_ECHO_SLOW: 'slow',
    LISTFLOW_ECHO_SLOW_MS: '15000',
    LISTFLOW_SESSION_TIMEOUT_MS: '6000',
    LISTFLOW_HEARTBEAT_INTERVAL_MS: '1000',
    LISTFLOW_LOG_LEVEL: 'info',
  });
  const out = await readTopic<RawListing>(broker.kafka, output, {
    schema: 'RawListing',
    until: (r) => r.length >= 2,
    timeoutMs: 60_000,
  });
  await delay(3000); // a rebalance loop would reprocess and duplicate within this time
  expect(await stopWorker(w)).toBe(0);
  const again = await readTopic<RawListing>(broker.kafka, output, {
    schema: 'RawListing',
    until: (r) => r.length >= 3,
    timeoutMs: 3000,
  });
  expect(out.map((r) => r.key).sort()).toEqual(['a', 'b']);
  expect(again).toHaveLength(2);
  expect(w.output().match(/joined consumer group/g)).toHaveLength(1);
  const committed = await fetchCommittedOffsets(broker.admin, GROUP(step), input);
  expect(committed.get(0)).toBe(2n);
});

test('scaling out and in: no loss, and committed offsets never move backwards', async () => {
  const partitions = 6;
  const { input, output, step } = await topics('scale', partitions);
  const records = keyedRecords(12_000, 300);
  const env = {
    LISTFLOW_ECHO_MIN_DELAY_MS: '1',
    LISTFLOW_ECHO_MAX_DELAY_MS: '12',
    LISTFLOW_SESSION_TIMEOUT_MS: '6000',
    LISTFLOW_HEARTBEAT_INTERVAL_MS: '1000',
  };
  const reader = await startReader<RawListing>(broker.kafka, output, 'RawListing');
  const a = startWorkerProcess([input, output, String(partitions), step], env);
  const b = startWorkerProcess([input, output, String(partitions), step], env);
  // Watch committed offsets while producing in waves and changing membership.
  const seen = new Map<number, bigint>();
  const regressions: string[] = [];
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const now = await fetchCommittedOffsets(broker.admin, GROUP(step), input).catch(() => new Map<number, bigint>());
      for (const [p, o] of now) {
        const before = seen.get(p) ?? -1n;
        if (o < before) regressions.push(`partition ${p}: ${before} -> ${o}`);
        if (o > before) seen.set(p, o);
      }
      await delay(200);
    }
  })();
  await produceRecords(broker.kafka, input, 'RawListing', records.slice(0, 4000));
  await waitFor(() => reader.records.length >= 1500, 60_000);
  const c = startWorkerProcess([input, output, String(partitions), step], env);
  await produceRecords(broker.kafka, input, 'RawListing', records.slice(4000, 8000));
  await waitFor(() => reader.records.length >= 5000, 60_000);
  expect(await stopWorker(a)).toBe(0);
  await produceRecords(broker.kafka, input, 'RawListing', records.slice(8000));
  const distinct = () => new Set(reader.records.map((r) => `${r.key}/${seqOf(r)}`)).size;
  const complete = await waitFor(() => distinct() >= records.length, 120_000, 500);
  watching = false;
  await watcher;
  expect(await stopWorker(b)).toBe(0);
  expect(await stopWorker(c)).toBe(0);
  await reader.stop();
  expect(complete).toBe(true);
  expect(regressions).toEqual([]);
  expect(perKeyOrderViolations(reader.records)).toEqual([]);
  const committed = await fetchCommittedOffsets(broker.admin, GROUP(step), input);
  const ends = await broker.admin.fetchTopicOffsets(input);
  for (const e of ends) expect(committed.get(e.partition)).toBe(BigInt(e.high));
});

test('a poison message is dead-lettered with its bytes and headers; a healing retriable failure is not', async () => {
  const { input, output, step, dlq } = await topics('poison', 1);
  const recs = [
    { key: 'p0', value: rawListing('p0', 0) },
    { key: 'p1', value: rawListing('p1', 0, 'POISON') },
    { key: 'p2', value: rawListing('p2', 0, 'FLAKY') },
    { key: 'p3', value: rawListing('p3', 0) },
  ];
  await produceRecords(broker.kafka, input, 'RawListing', recs);
  // Something that is not Avro at all: undecodable input is permanent too.
  const producer = broker.kafka.producer();
  await producer.connect();
  await producer.send({
    topic: input,
    messages: [{ key: 'junk', value: Buffer.from('not avro'), headers: { origin: 'test' } }],
  });
  await producer.send({ topic: input, messages: [{ key: 'p5', value: null }] });
  await producer.disconnect();
  await produceRecords(broker.kafka, input, 'RawListing', [{ key: 'p6', value: rawListing('p6', 0) }]);

  const w = startWorkerProcess([input, output, '1', step], {
    LISTFLOW_ECHO_POISON: 'POISON',
    LISTFLOW_ECHO_FLAKY: 'FLAKY',
    LISTFLOW_ECHO_HEAL_ON_ATTEMPT: '3',
  });
  const out = await readTopic<RawListing>(broker.kafka, output, {
    schema: 'RawListing',
    until: (r) => r.length >= 4,
    timeoutMs: 60_000,
  });
  const letters = await readTopic<never>(broker.kafka, dlq, { until: (r) => r.length >= 2, timeoutMs: 30_000 });
  expect(
    await waitFor(async () => (await fetchCommittedOffsets(broker.admin, GROUP(step), input)).get(0) === 7n, 30_000),
  ).toBe(true);
  expect(await stopWorker(w)).toBe(0);

  // Different keys: p2's retries may let p3 and p6 overtake it.
  expect(out.map((r) => r.key).sort()).toEqual(['p0', 'p2', 'p3', 'p6']);
  expect(letters).toHaveLength(2);
  const poison = letters.find((l) => l.key === 'p1');
  const junk = letters.find((l) => l.key === 'junk');
  expect(poison!.key).toBe('p1');
  expect(poison!.headers[DLQ_HEADER.code]).toBe('NORMALIZE_PAYLOAD_INVALID');
  expect(poison!.headers[DLQ_HEADER.kind]).toBe('permanent');
  expect(poison!.headers[DLQ_HEADER.message]).toContain('poison record p1');
  expect(poison!.headers[DLQ_HEADER.stack]).toContain('PermanentError');
  expect(poison!.headers[DLQ_HEADER.operator]).toBe('echo');
  expect(poison!.headers[DLQ_HEADER.step]).toBe(step);
  expect(poison!.headers[DLQ_HEADER.topic]).toBe(input);
  expect(poison!.headers[DLQ_HEADER.partition]).toBe('0');
  expect(poison!.headers[DLQ_HEADER.offset]).toBe('1');
  expect(poison!.headers[DLQ_HEADER.attempts]).toBe('1');
  expect(Date.parse(poison!.headers[DLQ_HEADER.firstFailure]!)).toBeLessThanOrEqual(
    Date.parse(poison!.headers[DLQ_HEADER.lastFailure]!),
  );
  // Original bytes: the dead letter decodes to the record that was produced.
  const original = await readTopic<RawListing>(broker.kafka, input, {
    schema: undefined,
    until: (r) => r.length >= 2,
    timeoutMs: 10_000,
  });
  expect(poison!.raw!.equals(original[1]!.raw!)).toBe(true);
  expect(junk!.key).toBe('junk');
  expect(junk!.raw!.toString()).toBe('not avro');
  expect(junk!.headers.origin).toBe('test');
  expect(junk!.headers[DLQ_HEADER.code]).toBe('SERDE_BAD_MAGIC_BYTE');
});

test('SIGTERM mid-batch: exits 0 within the grace period; finished work is committed, unfinished is not', async () => {
  const { input, output, step } = await topics('sigterm', 1);
  await produceRecords(broker.kafka, input, 'RawListing', keyedRecords(40, 40));
  const w = startWorkerProcess([input, output, '1', step], {
    ITEST_CONCURRENCY: '4',
    LISTFLOW_ECHO_MIN_DELAY_MS: '1500',
    LISTFLOW_ECHO_MAX_DELAY_MS: '1500',
    LISTFLOW_SHUTDOWN_GRACE_MS: '8000',
  });
  const reader = await startReader<RawListing>(broker.kafka, output, 'RawListing');
  await waitFor(() => reader.records.length >= 4, 60_000, 50);
  const t0 = Date.now();
  w.child.kill('SIGTERM');
  const code = await w.exited;
  const took = Date.now() - t0;
  await delay(1000);
  await reader.stop();
  expect(code).toBe(0);
  expect(took).toBeLessThan(8000 + 5000);
  const committed = (await fetchCommittedOffsets(broker.admin, GROUP(step), input)).get(0)!;
  const producedOffsets = new Set(reader.records.map((r) => Number(r.key!.slice(1))));
  // Inputs k0..k39 sit at offsets 0..39: exactly the committed prefix was produced, nothing beyond it.
  expect(committed).toBeGreaterThan(0n);
  expect(committed).toBeLessThan(40n);
  expect([...producedOffsets].sort((a, b) => a - b)).toEqual(Array.from({ length: Number(committed) }, (_, i) => i));
});

test('SIGTERM with a job longer than the grace period: exits 1, the aborted job stays uncommitted', async () => {
  const { input, output, step } = await topics('grace', 1);
  await produceRecords(broker.kafka, input, 'RawListing', keyedRecords(3, 3));
  const w = startWorkerProcess([input, output, '1', step], {
    ITEST_CONCURRENCY: '1',
    LISTFLOW_ECHO_MIN_DELAY_MS: '4000',
    LISTFLOW_ECHO_MAX_DELAY_MS: '4000',
    LISTFLOW_SHUTDOWN_GRACE_MS: '1500',
  });
  const reader = await startReader<RawListing>(broker.kafka, output, 'RawListing');
  await waitFor(() => reader.records.length >= 1, 60_000, 20);
  // The second job has just started and needs 4 s: it cannot finish within the 1.5 s grace period.
  const t0 = Date.now();
  w.child.kill('SIGTERM');
  const code = await w.exited;
  const took = Date.now() - t0;
  await delay(4000);
  await reader.stop();
  expect(code).toBe(1);
  expect(took).toBeLessThan(1500 + 5000 + 1000);
  expect(reader.records.map((r) => r.key)).toEqual(['k0']);
  expect((await fetchCommittedOffsets(broker.admin, GROUP(step), input)).get(0)).toBe(1n);
});
