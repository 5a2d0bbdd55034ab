/**
 * The kafkajs adapter of the client seam (types.ts). kafkajs 2.2.4 is the project's original client; its
 * traps and their answers are ../shared/design/kafkajs-pitfalls.md. What is kafkajs-specific stays here:
 * - its negative-timeout warning on Node 24 is dropped (silenceNegativeTimeoutWarning);
 * - idempotent producers get maxInFlightRequests 1 (pitfall 11), every send acks=all, keys go through the
 *   default (Java murmur2) partitioner, and topics are never auto-created;
 * - consumers never auto-commit (pitfall 1): the runtime commits explicit offsets through BatchContext.commit,
 *   which is eachBatch's commitOffsetsIfNecessary (pitfall 13: it still works while stopping);
 * - its logs go through ours, its connection-level error names are what isConnectionError knows.
 * The runtime's own answers to the rest (heartbeats on a timer, generations, drains) stay above the seam,
 * because they are right for any client.
 */
import {
  type Admin,
  ConfigResourceTypes,
  ConfigSource,
  type Consumer,
  type EachBatchPayload,
  Kafka,
  type KafkaConfig,
  logLevel,
  Partitioners,
  type SASLOptions,
} from 'kafkajs';
import type {
  BatchContext,
  ClientConfig,
  ConsumerEvents,
  ConsumerOptions,
  KafkaAdmin,
  KafkaClient,
  KafkaConsumer,
  KafkaProducer,
  KafkaTransaction,
  ProducerOptions,
  RunOptions,
} from './types';
import { kafkajsLogLevel } from './kafkajs-log-level';
import { assertKafkajsPatched } from './kafkajs-patch';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * kafkajs 2.2.4 schedules its throttle check with `setTimeout(throttledUntil - Date.now())` while
 * `throttledUntil` is still its initial -1 (network/requestQueue/index.js), so Node 24 prints a
 * TimeoutNegativeWarning on every connection. Node clamps the delay to 1 ms, which is what kafkajs wants, so
 * the warning is noise in every CLI command and worker log; drop that one warning and keep all others.
 */
let negativeTimeoutWarningSilenced = false;
function silenceNegativeTimeoutWarning(): void {
  if (negativeTimeoutWarningSilenced) return;
  negativeTimeoutWarningSilenced = true;
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const name = warning instanceof Error ? warning.name : typeof rest[0] === 'string' ? rest[0] : undefined;
    if (name === 'TimeoutNegativeWarning') return;
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}

/** kafkajs's names for "the brokers could not be reached" (after its own retries). */
const CONNECTION_ERRORS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSNonRetriableError',
  'KafkaJSBrokerNotFound',
  'KafkaJSRequestTimeoutError',
  'KafkaJSConnectionClosedError',
]);

export function kafkajsClient(c: ClientConfig): KafkaClient {
  silenceNegativeTimeoutWarning();
  assertKafkajsPatched();
  const config: KafkaConfig = {
    clientId: c.clientId,
    brokers: [...c.brokers],
    ...(c.connectionTimeout !== undefined ? { connectionTimeout: c.connectionTimeout } : {}),
    ...(c.requestTimeout !== undefined ? { requestTimeout: c.requestTimeout } : {}),
    ...(c.retry ? { retry: { ...c.retry } } : {}),
    logLevel: c.logger ? logLevel.WARN : logLevel.NOTHING,
  };
  const logger = c.logger;
  if (logger) {
    // kafkajs logs through ours, so its warnings carry operator and step.
    config.logCreator =
      () =>
      ({ level, log }) => {
        const { message, ...extra } = log;
        logger[LEVELS[kafkajsLogLevel(level, log)] ?? 'info']({ kafkajs: extra }, message);
      };
  }
  if (c.ssl) config.ssl = c.ssl === true ? true : { ca: [...c.ssl.ca] };
  if (c.sasl) config.sasl = { ...c.sasl } as SASLOptions;
  const kafka = new Kafka(config);
  return {
    kind: 'kafkajs',
    admin: (opts) => adminOf(kafka.admin(opts?.retry ? { retry: { ...opts.retry } } : undefined)),
    producer: (opts) => producerOf(kafka, opts ?? {}),
    consumer: (opts) => new KafkajsConsumer(consumerOf(kafka, opts)),
    isConnectionError: (e) => CONNECTION_ERRORS.has((e as Error | undefined)?.name ?? ''),
  };
}

function adminOf(a: Admin): KafkaAdmin {
  return {
    connect: () => a.connect(),
    disconnect: () => a.disconnect(),
    listTopics: () => a.listTopics(),
    fetchTopicMetadata: (opts) => a.fetchTopicMetadata(opts),
    // kafkajs's own wait for leaders retries too little on KRaft (runtime/kafka.ts createTopicsAndWait).
    createTopics: ({ topics }) => a.createTopics({ waitForLeaders: false, topics: topics.map((t) => ({ ...t })) }),
    deleteTopics: (opts) => a.deleteTopics(opts),
    createPartitions: (opts) => a.createPartitions(opts),
    describeTopicConfigs: async (topics, names) => {
      const res = await a.describeConfigs({
        includeSynonyms: false,
        resources: topics.map((name) => ({
          type: ConfigResourceTypes.TOPIC,
          name,
          ...(names ? { configNames: names } : {}),
        })),
      });
      return new Map(
        res.resources.map((r) => [
          r.resourceName,
          r.configEntries.map((e) => ({
            name: e.configName,
            value: e.configValue ?? null,
            isTopicOverride: e.configSource === ConfigSource.TOPIC_CONFIG,
          })),
        ]),
      );
    },
    alterTopicConfigs: async (changes) => {
      await a.alterConfigs({
        validateOnly: false,
        resources: changes.map((c) => ({ type: ConfigResourceTypes.TOPIC, name: c.topic, configEntries: c.entries })),
      });
    },
    fetchTopicOffsets: (topic) => a.fetchTopicOffsets(topic),
    fetchTopicOffsetsByTimestamp: (topic, timestamp) => a.fetchTopicOffsetsByTimestamp(topic, timestamp),
    fetchOffsets: (opts) => a.fetchOffsets(opts),
    describeGroups: (ids) => a.describeGroups(ids),
    deleteGroups: (ids) => a.deleteGroups(ids),
    describeCluster: () => a.describeCluster(),
  };
}

function producerOf(kafka: Kafka, o: ProducerOptions): KafkaProducer {
  const idempotent = o.idempotent === true || o.transactionalId !== undefined;
  const p = kafka.producer({
    ...(o.transactionalId !== undefined ? { transactionalId: o.transactionalId } : {}),
    // kafkajs does not renumber sequences with more than one request in flight (pitfall 11).
    ...(idempotent ? { idempotent: true, maxInFlightRequests: 1 } : {}),
    ...(o.retry ? { retry: { ...o.retry } } : {}),
    allowAutoTopicCreation: false,
    // The Java client's murmur2 placement (kafka-client/murmur2.ts computes the same), without kafkajs 2's
    // warning about its changed default.
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  return {
    connect: () => p.connect(),
    disconnect: () => p.disconnect(),
    send: (r) => p.send({ ...r, acks: -1 }),
    sendBatch: (b) => p.sendBatch({ ...b, acks: -1 }),
    transaction: async (): Promise<KafkaTransaction> => {
      const tx = await p.transaction();
      return {
        send: (r) => tx.send({ ...r, acks: -1 }),
        sendBatch: (b) => tx.sendBatch({ ...b, acks: -1 }),
        sendOffsets: (offsets) => tx.sendOffsets(offsets),
        commit: () => tx.commit(),
        abort: () => tx.abort(),
      };
    },
  };
}

function consumerOf(kafka: Kafka, o: ConsumerOptions): Consumer {
  return kafka.consumer({
    groupId: o.groupId,
    ...(o.sessionTimeout !== undefined ? { sessionTimeout: o.sessionTimeout } : {}),
    ...(o.rebalanceTimeout !== undefined ? { rebalanceTimeout: o.rebalanceTimeout } : {}),
    ...(o.heartbeatInterval !== undefined ? { heartbeatInterval: o.heartbeatInterval } : {}),
    ...(o.maxBytesPerPartition !== undefined ? { maxBytesPerPartition: o.maxBytesPerPartition } : {}),
    ...(o.maxBytes !== undefined ? { maxBytes: o.maxBytes } : {}),
    ...(o.maxWaitTimeInMs !== undefined ? { maxWaitTimeInMs: o.maxWaitTimeInMs } : {}),
    ...(o.retry ? { retry: { ...o.retry } } : {}),
    allowAutoTopicCreation: false,
  });
}

class KafkajsConsumer implements KafkaConsumer {
  constructor(private readonly c: Consumer) {}

  connect(): Promise<void> {
    return this.c.connect();
  }

  subscribe(opts: { topics: string[]; fromBeginning: boolean }): Promise<void> {
    return this.c.subscribe(opts);
  }

  run(o: RunOptions): Promise<void> {
    const { eachBatch, eachMessage } = o;
    return this.c.run({
      autoCommit: false,
      eachBatchAutoResolve: o.autoResolve ?? true,
      partitionsConsumedConcurrently: o.partitionsConsumedConcurrently ?? 1,
      ...(eachBatch ? { eachBatch: (p: EachBatchPayload) => eachBatch(batchContext(p)) } : {}),
      ...(eachMessage
        ? { eachMessage: ({ topic, partition, message }) => eachMessage({ topic, partition, message }) }
        : {}),
    });
  }

  seek(at: { topic: string; partition: number; offset: string }): void {
    this.c.seek(at);
  }

  pause(partitions: { topic: string; partitions: number[] }[]): void {
    this.c.pause(partitions);
  }

  on<E extends keyof ConsumerEvents>(event: E, listener: (payload: ConsumerEvents[E]) => void): void {
    const c = this.c;
    const emit = listener as (p: unknown) => void;
    if (event === 'join') c.on(c.events.GROUP_JOIN, ({ payload }) => emit({ assignment: payload.memberAssignment }));
    else if (event === 'crash')
      c.on(c.events.CRASH, ({ payload }) => emit({ error: payload.error, restart: payload.restart }));
    else
      c.on(c.events.END_BATCH_PROCESS, ({ payload }) =>
        emit({ topic: payload.topic, partition: payload.partition, lastOffset: payload.lastOffset ?? null }),
      );
  }

  disconnect(): Promise<void> {
    return this.c.disconnect();
  }
}

/** eachBatch's payload as the seam's BatchContext: commits go through commitOffsetsIfNecessary (pitfall 13). */
function batchContext(p: EachBatchPayload): BatchContext {
  return {
    batch: p.batch,
    heartbeat: p.heartbeat,
    isRunning: p.isRunning,
    isStale: p.isStale,
    commit: (offsets) => p.commitOffsetsIfNecessary(offsets),
    resolveOffset: p.resolveOffset,
  };
}
