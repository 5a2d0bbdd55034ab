/**
 * bench:runtime's baselines: a bare copy loop per Kafka client, written directly against the library (not the
 * client seam), doing the work the runtime must do for each record: decode and re-encode the Avro, write the
 * same output record (key, value, trace-id header), produce with acks=all on an idempotent producer, and commit
 * the input's offsets only after the acknowledgement. Each is the ceiling the runtime on that client is held to.
 */
import {
  Consumer,
  compatibilityPartitioner,
  FetchIsolationLevels,
  type Message,
  type MessageToProduce,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  ProduceAcks,
  Producer,
} from '@platformatic/kafka';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { TRACE_HEADER } from '../runtime/dead-letters/build';
import type { RawListing } from '../schemas/generated/types';
import { endpoints, testKafka, testSerde, uniqueName } from '../test/support/streams';
import { type SteadyRate, steadyRate } from './harness';

export type BareLoop = (input: string, output: string, total: number, partitions: number) => Promise<SteadyRate>;

/** The kafkajs baseline: an eachBatch loop, sends of up to 700 records, commit after each batch's acks. */
export const bareKafkajsLoop: BareLoop = async (input, output, total, partitions) => {
  const bare = new Kafka({ clientId: 'bench-bare', brokers: endpoints.kafkaBrokers, logLevel: logLevel.NOTHING });
  const admin = testKafka('bench-bare').admin();
  await admin.connect();
  const serde = testSerde();
  const outId = await serde.schemaIdFor(output, 'RawListing', true);
  const producer = bare.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const consumer = bare.consumer({
    groupId: uniqueName('bench-bare'),
    maxBytesPerPartition: 1024 * 1024,
    allowAutoTopicCreation: false,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [input], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: partitions,
    eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary, heartbeat }) => {
      if (batch.messages.length === 0) return;
      const messages = [];
      for (const m of batch.messages) {
        const d = await serde.decode<RawListing>(m.value!, 'RawListing');
        if (!d.ok) throw d.error;
        // The same output record as the runtime's: its contract carries the trace id on every output (the
        // input's, else one derived from topic, partition and offset), and kafkajs encodes each header.
        const trace = m.headers?.[TRACE_HEADER]?.toString() ?? `${batch.topic}-${batch.partition}-${m.offset}`;
        messages.push({
          key: m.key,
          value: serde.encode(outId, 'RawListing', d.value),
          headers: { [TRACE_HEADER]: trace },
        });
      }
      // At most 800 KB per request, like the runtime, so no record batch exceeds the broker's message.max.bytes.
      for (let i = 0; i < messages.length; i += 700) {
        await producer.send({ topic: output, acks: -1, messages: messages.slice(i, i + 700) });
      }
      const last = batch.messages[batch.messages.length - 1]!.offset;
      resolveOffset(last);
      await commitOffsetsIfNecessary({
        topics: [
          { topic: batch.topic, partitions: [{ partition: batch.partition, offset: (BigInt(last) + 1n).toString() }] },
        ],
      });
      await heartbeat();
    },
  });
  const rate = await steadyRate(admin, output, total);
  await consumer.disconnect();
  await producer.disconnect();
  await admin.disconnect();
  return rate;
};

/** Records per produce request: about 700 KB of ~1 KB records, under the broker's message.max.bytes. */
const PLT_SEND_MAX = 700;
/** The stream is paused while this many records wait, so memory stays bounded. */
const PLT_BUFFER_MAX = 4 * PLT_SEND_MAX;

/**
 * The @platformatic/kafka baseline. The library delivers single messages; this loop gathers what one turn of
 * the event loop delivered (across partitions), sends it in requests of up to 700 records (one request in
 * flight, as an idempotent producer there allows), and after the acks commits the next offset of every
 * partition the requests covered. The start position is the group's committed offsets, earliest as fallback.
 */
export const barePlatformaticLoop: BareLoop = async (input, output, total) => {
  const base = { clientId: 'bench-bare', bootstrapBrokers: [...endpoints.kafkaBrokers] };
  const admin = testKafka('bench-bare').admin();
  await admin.connect();
  const serde = testSerde();
  const outId = await serde.schemaIdFor(output, 'RawListing', true);
  const traceName = Buffer.from(TRACE_HEADER);
  const producer = new Producer({
    ...base,
    idempotent: true,
    producerId: -1n,
    producerEpoch: -1,
    acks: ProduceAcks.ALL,
    maxInflights: 1,
    autocreateTopics: false,
    partitioner: compatibilityPartitioner,
  });
  const consumer = new Consumer({
    ...base,
    groupId: uniqueName('bench-bare'),
    autocommit: false,
    isolationLevel: FetchIsolationLevels.READ_COMMITTED,
    maxBytesPerPartition: 1024 * 1024,
  });
  const stream = await consumer.consume({
    topics: [input],
    autocommit: false,
    mode: MessagesStreamModes.COMMITTED,
    fallbackMode: MessagesStreamFallbackModes.EARLIEST,
  });
  let pending: Message[] = [];
  let running = false;
  let failure: unknown = null;
  // One send in flight (all an idempotent producer there allows) while the next chunk is encoded; each chunk's
  // commit follows its own acknowledgement, in order.
  let inFlight: Promise<void> = Promise.resolve();
  const copy = async (): Promise<void> => {
    running = true;
    try {
      while (pending.length > 0) {
        const taken = pending.splice(0, PLT_SEND_MAX);
        if (stream.isPaused() && pending.length < PLT_BUFFER_MAX / 2) stream.resume();
        const messages: MessageToProduce[] = [];
        const next = new Map<string, { topic: string; partition: number; offset: bigint; leaderEpoch: number }>();
        for (const m of taken) {
          const d = await serde.decode<RawListing>(m.value, 'RawListing');
          if (!d.ok) throw d.error;
          // The library's headers are a Map keyed by Buffers: found by content, not by identity.
          let trace: Buffer | undefined;
          for (const [k, v] of m.headers) if (k.equals(traceName)) trace = v;
          trace ??= Buffer.from(`${m.topic}-${m.partition}-${m.offset}`);
          messages.push({
            topic: output,
            key: m.key,
            value: serde.encode(outId, 'RawListing', d.value),
            headers: new Map([[traceName, trace]]),
          });
          next.set(`${m.topic}:${m.partition}`, {
            topic: m.topic,
            partition: m.partition,
            offset: m.offset + 1n,
            leaderEpoch: m.leaderEpoch,
          });
        }
        await inFlight;
        inFlight = producer
          .send({ messages })
          .then(() => consumer.commit({ offsets: [...next.values()] }))
          .catch((e: unknown) => {
            failure ??= e;
          });
      }
    } catch (e) {
      failure ??= e;
    } finally {
      running = false;
    }
  };
  stream.on('data', (m: Message) => {
    pending.push(m);
    if (pending.length >= PLT_BUFFER_MAX && !stream.isPaused()) stream.pause();
    if (!running) {
      running = true;
      // What this fetch response delivers comes in one go: start once it has all arrived.
      setImmediate(() => void copy());
    }
  });
  stream.on('error', (e: unknown) => {
    failure ??= e;
  });
  try {
    const rate = await steadyRate(admin, output, total);
    if (failure) throw failure;
    return rate;
  } finally {
    pending = [];
    await stream.close().catch(() => undefined);
    await consumer.close(true).catch(() => undefined);
    await producer.close().catch(() => undefined);
    await admin.disconnect();
  }
};
