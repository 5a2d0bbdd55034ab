/**
 * Kafka helpers for integration tests and benchmarks: create topics, produce RawListing records in the
 * Confluent wire format, read a topic back decoded, read committed offsets, run worker child processes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { RawListing, SchemaName } from '../../schemas/generated/types';
import { createTopicsAndWait } from '../../runtime/kafka';
import { type KafkaAdmin, type KafkaClient, type KafkaClientKind, openKafkaClient } from '../../runtime/kafka-client';
import { AvroSerde, createRegistry } from '../../runtime/serde';
import { childOutput } from './child-output';

export const endpoints = {
  kafkaBrokers: (process.env.LISTFLOW_KAFKA_BROKERS ?? '127.0.0.1:19092').split(','),
  registryUrl: process.env.LISTFLOW_REGISTRY_URL ?? 'http://127.0.0.1:18081/apis/ccompat/v7',
};

export const uniqueName = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

/** The client the tests' own reads and writes use: the one the workers under test use (LISTFLOW_KAFKA_CLIENT). */
export const testClientKind = (): KafkaClientKind =>
  process.env.LISTFLOW_KAFKA_CLIENT === 'platformatic' ? 'platformatic' : 'kafkajs';

export function testKafka(clientId = 'itest'): KafkaClient {
  return openKafkaClient(testClientKind(), { clientId, brokers: endpoints.kafkaBrokers, retry: { retries: 8 } });
}

export const testSerde = (): AvroSerde => new AvroSerde(createRegistry({ url: endpoints.registryUrl }));

export async function createTopics(admin: KafkaAdmin, topics: Record<string, number>): Promise<void> {
  await createTopicsAndWait(
    admin,
    Object.entries(topics).map(([topic, numPartitions]) => ({ topic, numPartitions, replicationFactor: 1 })),
  );
}

export function rawListing(key: string, seq: number, payload = `{"seq":${seq}}`): RawListing {
  return {
    jobId: 'itest',
    source: 'itest',
    listingKey: key,
    position: seq,
    receivedAt: new Date(0),
    defaultCountry: null,
    defaultCurrency: null,
    payload,
  };
}

/** Produces records (already keyed) in chunks; returns when Kafka acknowledged all. */
export async function produceRecords<T>(
  kafka: KafkaClient,
  topic: string,
  schema: SchemaName,
  records: { key: string; value: T; headers?: Record<string, string> }[],
): Promise<void> {
  const serde = testSerde();
  const id = await serde.schemaIdFor(topic, schema, true);
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += 2000) {
      const chunk = records.slice(i, i + 2000);
      await producer.send({
        topic,
        messages: chunk.map((r) => ({ key: r.key, value: serde.encode(id, schema, r.value), headers: r.headers })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

export interface ReadRecord<T> {
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: T | null;
  readonly raw: Buffer | null;
  readonly headers: Record<string, string>;
}

export interface TopicReader<T> {
  readonly records: ReadRecord<T>[];
  stop(): Promise<void>;
}

/** Reads a topic from the beginning in the background (throwaway group); `records` grows as data arrives. */
export async function startReader<T>(kafka: KafkaClient, topic: string, schema?: SchemaName): Promise<TopicReader<T>> {
  const serde = testSerde();
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), maxWaitTimeInMs: 200 });
  const records: ReadRecord<T>[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        let value: T | null = null;
        if (m.value && schema) {
          const d = await serde.decode<T>(m.value, schema);
          if (!d.ok) throw d.error;
          value = d.value;
        }
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) headers[k] = v.toString();
        records.push({
          partition: batch.partition,
          offset: m.offset,
          key: m.key?.toString() ?? null,
          value,
          raw: m.value,
          headers,
        });
      }
    },
  });
  return { records, stop: () => consumer.disconnect() };
}

/**
 * Reads a whole topic from the beginning until `until` says stop or `timeoutMs` passes (then it returns
 * what it has; the test's assertions decide).
 */
export async function readTopic<T>(
  kafka: KafkaClient,
  topic: string,
  opts: { schema?: SchemaName; until: (records: ReadRecord<T>[]) => boolean; timeoutMs: number },
): Promise<ReadRecord<T>[]> {
  const reader = await startReader<T>(kafka, topic, opts.schema);
  await waitFor(() => opts.until(reader.records), opts.timeoutMs, 100);
  await reader.stop();
  return reader.records;
}

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

// The compiled worker scripts: beside this file when it runs compiled (benchmarks run from dist/), else in
// dist/test/support of the checkout (jest runs this file from its TypeScript source).
const compiledSupport = __filename.endsWith('.js') ? __dirname : join(__dirname, '..', '..', 'dist', 'test', 'support');

/**
 * Starts a worker script of test/support (compiled into dist/ by `npm run build`) as a child process with
 * the settings every test worker shares; its output (stdout and stderr, the last MB) is kept for failure messages.
 */
export function spawnTestWorker(scriptName: string, args: string[], env: Record<string, string>): WorkerProcess {
  const script = join(compiledSupport, scriptName);
  const child = spawn(process.execPath, [script, ...args], {
    env: {
      ...process.env,
      LISTFLOW_REGISTER_SCHEMAS: 'true',
      LISTFLOW_HTTP_PORT: '0',
      LISTFLOW_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { child, ...childOutput(child) };
}

/** Starts test/support/worker-main as a child process. */
export function startWorkerProcess(args: string[], env: Record<string, string>): WorkerProcess {
  return spawnTestWorker('worker-main.js', args, env);
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true or `timeoutMs` passes; returns the last result. */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 250,
): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await delay(everyMs);
  }
}
