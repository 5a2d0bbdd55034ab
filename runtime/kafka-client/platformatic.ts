/**
 * The @platformatic/kafka adapter of the client seam (types.ts): its admin and producer here, its consumer in
 * platformatic-consumer.ts (the stream of single messages made into per-partition batches). What differs from
 * kafkajs and is answered here (../shared/design/kafka-clients.md):
 * - keys are placed with its compatibility (Java murmur2) partitioner, not its default, so both clients put a
 *   key on the same partition (kafka-client/murmur2.ts; a unit test compares them); unkeyed records go round
 *   robin (keyedOrRoundRobin);
 * - every send waits for all replicas (acks=all also without idempotence, where its default is the leader);
 *   idempotent producers keep one request in flight, as the runtime's ordering assumes;
 * - offsets are bigint and headers a Map there, decimal strings and records here;
 * - its errors are turned into KafkaClientError with the broker's error name as `type` (what the runtime's
 *   rebalance and ask-again checks read) and `retriable` from its own `canRetry`;
 * - a transaction's offsets for a group it does not consume (`listflow replay`) need a consumer's metadata,
 *   so sendOffsets builds it from the group's coordinator.
 */
import {
  Admin,
  ConfigResourceTypes,
  ConfigSources,
  compatibilityPartitioner,
  FetchIsolationLevels,
  FindCoordinatorKeyTypes,
  ListOffsetTimestamps,
  type Message,
  type MessageToProduce,
  ProduceAcks,
  Producer,
} from '@platformatic/kafka';
import { KafkaClientError } from '../errors';
import { guard, toProduce } from './platformatic-codec';
import { platformaticConsumer } from './platformatic-consumer';
import type {
  ClientConfig,
  KafkaAdmin,
  KafkaClient,
  KafkaProducer,
  KafkaTransaction,
  PartitionWatermarks,
  ProducerOptions,
  RetryPolicy,
  TopicMessages,
} from './types';

/** The library's own options every client of one adapter shares (brokers, timeouts, retries, TLS, SASL). */
export type BaseOptions = ConstructorParameters<typeof Admin>[0];

const SASL = { plain: 'PLAIN', 'scram-sha-256': 'SCRAM-SHA-256', 'scram-sha-512': 'SCRAM-SHA-512' } as const;

export function baseOptions(c: ClientConfig, retry?: RetryPolicy): BaseOptions {
  const r = retry ?? c.retry ?? {};
  const initial = r.initialRetryTime ?? 300;
  const max = r.maxRetryTime ?? 10_000;
  return {
    clientId: c.clientId,
    bootstrapBrokers: [...c.brokers],
    ...(c.connectionTimeout !== undefined ? { connectTimeout: c.connectionTimeout } : {}),
    ...(c.requestTimeout !== undefined ? { requestTimeout: c.requestTimeout } : {}),
    retries: r.retries ?? 5,
    // Exponential like kafkajs's, capped: a broker restart is waited out, not hammered.
    retryDelay: (_client: unknown, _op: string, attempt: number) =>
      Math.min(max, initial * 2 ** Math.max(0, attempt - 1)),
    ...(c.ssl ? { tls: c.ssl === true ? {} : { ca: [...c.ssl.ca] } } : {}),
    ...(c.sasl
      ? { sasl: { mechanism: SASL[c.sasl.mechanism], username: c.sasl.username, password: c.sasl.password } }
      : {}),
  } as BaseOptions;
}

// --- the client ---

export function platformaticClient(c: ClientConfig): KafkaClient {
  return {
    kind: 'platformatic',
    admin: (opts) => new PlatformaticAdmin(baseOptions(c, opts?.retry)),
    producer: (opts) => platformaticProducer(c, opts ?? {}),
    consumer: (opts) => platformaticConsumer(baseOptions(c, opts.retry), opts),
    isConnectionError: (e) => e instanceof KafkaClientError && e.connection,
  };
}

/** Partition indexes of `topic`, from fresh metadata. */
async function partitionsOf(admin: Admin, topic: string): Promise<number[]> {
  const meta = await guard(admin.metadata({ topics: [topic], forceUpdate: true }));
  const t = meta.topics.get(topic);
  return t ? t.partitions.map((_, i) => i) : [];
}

class PlatformaticAdmin implements KafkaAdmin {
  private readonly a: Admin;

  constructor(options: BaseOptions) {
    this.a = new Admin(options);
  }

  async connect(): Promise<void> {
    // The library connects on first use; asking for the brokers makes an unreachable cluster fail here, as
    // kafkajs's connect does (the CLI explains it in one line).
    await guard(this.a.metadata({ topics: [] }));
  }

  disconnect(): Promise<void> {
    return guard(this.a.close());
  }

  listTopics(): Promise<string[]> {
    return guard(this.a.listTopics({ includeInternals: true }));
  }

  async fetchTopicMetadata(opts: { topics: string[] }) {
    const meta = await guard(this.a.metadata({ topics: opts.topics, forceUpdate: true }));
    return {
      topics: opts.topics.flatMap((name) => {
        const t = meta.topics.get(name);
        if (!t) return [];
        return [
          {
            name,
            partitions: t.partitions.map((p, i) => ({
              partitionId: i,
              leader: p.leader,
              partitionErrorCode: 0,
              replicas: p.replicas,
            })),
          },
        ];
      }),
    };
  }

  async createTopics(opts: Parameters<KafkaAdmin['createTopics']>[0]): Promise<boolean> {
    let created = false;
    // One request per topic: the library's configs apply to every topic of a request.
    for (const t of opts.topics) {
      try {
        await guard(
          this.a.createTopics({
            topics: [t.topic],
            partitions: t.numPartitions ?? 1,
            replicas: t.replicationFactor ?? -1,
            configs: t.configEntries ?? [],
          }),
        );
        created = true;
      } catch (e) {
        if ((e as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw e;
      }
    }
    return created;
  }

  deleteTopics(opts: { topics: string[] }): Promise<void> {
    return guard(this.a.deleteTopics({ topics: opts.topics }));
  }

  async createPartitions(opts: { topicPartitions: { topic: string; count: number }[] }): Promise<boolean> {
    await guard(
      this.a.createPartitions({ topics: opts.topicPartitions.map((t) => ({ name: t.topic, count: t.count })) }),
    );
    return true;
  }

  async describeTopicConfigs(topics: string[], names?: string[]) {
    const res = await guard(
      this.a.describeConfigs({
        resources: topics.map((name) => ({
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: name,
          configurationKeys: names ?? null,
        })),
      }),
    );
    return new Map(
      res.map((r) => [
        r.resourceName,
        r.configs.map((e) => ({
          name: e.name,
          value: e.value ?? null,
          isTopicOverride: e.configSource === ConfigSources.TOPIC_CONFIG,
        })),
      ]),
    );
  }

  alterTopicConfigs(changes: { topic: string; entries: { name: string; value: string }[] }[]): Promise<void> {
    return guard(
      this.a.alterConfigs({
        resources: changes.map((c) => ({
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: c.topic,
          configs: c.entries,
        })),
      }),
    );
  }

  /** Per partition the offset at `timestamp` (or a ListOffsetTimestamps value), read_committed as kafkajs asks. */
  private async offsetsAt(topic: string, timestamp: bigint): Promise<Map<number, bigint>> {
    const partitions = await partitionsOf(this.a, topic);
    const res = await guard(
      this.a.listOffsets({
        isolationLevel: FetchIsolationLevels.READ_COMMITTED,
        topics: [{ name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp })) }],
      }),
    );
    return new Map((res[0]?.partitions ?? []).map((p) => [p.partitionIndex, p.offset]));
  }

  async fetchTopicOffsets(topic: string): Promise<PartitionWatermarks[]> {
    const low = await this.offsetsAt(topic, ListOffsetTimestamps.EARLIEST);
    const high = await this.offsetsAt(topic, ListOffsetTimestamps.LATEST);
    return [...high].map(([partition, h]) => ({ partition, low: String(low.get(partition) ?? 0n), high: String(h) }));
  }

  async fetchTopicOffsetsByTimestamp(topic: string, timestamp: number) {
    const at = await this.offsetsAt(topic, BigInt(timestamp));
    const high = await this.offsetsAt(topic, ListOffsetTimestamps.LATEST);
    // No record at or after the time: the partition's end, as kafkajs answers.
    return [...high].map(([partition, h]) => {
      const o = at.get(partition) ?? -1n;
      return { partition, offset: String(o >= 0n ? o : h) };
    });
  }

  async fetchOffsets(opts: { groupId: string; topics: string[] }) {
    const wanted = await Promise.all(
      opts.topics.map(async (name) => ({ name, partitionIndexes: await partitionsOf(this.a, name) })),
    );
    const [group] = await guard(
      this.a.listConsumerGroupOffsets({ groups: [{ groupId: opts.groupId, topics: wanted }] }),
    );
    return wanted.map(({ name, partitionIndexes }) => {
      const got = new Map(
        (group?.topics.find((t) => t.name === name)?.partitions ?? []).map((p) => [
          p.partitionIndex,
          p.committedOffset,
        ]),
      );
      return {
        topic: name,
        partitions: partitionIndexes.map((partition) => ({ partition, offset: String(got.get(partition) ?? -1n) })),
      };
    });
  }

  async describeGroups(groupIds: string[]) {
    const groups = await guard(this.a.describeGroups({ groups: groupIds }));
    return {
      groups: [...groups.values()].map((g) => ({
        groupId: g.id,
        state: String(g.state),
        members: [...g.members.values()].map((m) => ({
          memberId: m.id,
          clientId: m.clientId,
          clientHost: m.clientHost,
        })),
      })),
    };
  }

  deleteGroups(groupIds: string[]): Promise<void> {
    return guard(this.a.deleteGroups({ groups: groupIds }));
  }

  async describeCluster() {
    const meta = await guard(this.a.metadata({ topics: [] }));
    return { brokers: [...meta.brokers.keys()].map((nodeId) => ({ nodeId })), controller: meta.controllerId };
  }

  /** The node coordinating `groupId` (what a transaction's offsets are sent to). */
  async coordinatorOf(groupId: string): Promise<number> {
    const [found] = await guard(this.a.findCoordinator({ keyType: FindCoordinatorKeyTypes.GROUP, keys: [groupId] }));
    if (!found)
      throw new KafkaClientError(`no coordinator for group ${groupId}`, { retriable: true, connection: false });
    return found.nodeId;
  }
}

/**
 * Keys through the compatibility partitioner (Java's murmur2); records without a key in turn over the partitions
 * (the library reduces the number modulo the partition count). A custom partitioner replaces the library's round
 * robin, which would otherwise put every unkeyed record on partition 0.
 */
export function keyedOrRoundRobin(): (message: MessageToProduce, key: Buffer | undefined) => number {
  let next = 0;
  return (message, key) => (key ? compatibilityPartitioner(message, key) : next++ & 0x7fffffff);
}

function platformaticProducer(c: ClientConfig, o: ProducerOptions): KafkaProducer {
  const idempotent = o.idempotent === true || o.transactionalId !== undefined;
  const base = baseOptions(c, o.retry);
  const p = new Producer({
    ...base,
    ...(o.transactionalId !== undefined ? { transactionalId: o.transactionalId } : {}),
    idempotent,
    // A new producer asks for its id as one (-1, -1): the library's default (0, 0) names an existing producer,
    // which the broker answers with PRODUCER_FENCED once the transactional id has been used before (KIP-360).
    producerId: -1n,
    producerEpoch: -1,
    // All replicas always: without idempotence the library's default is the leader only.
    acks: ProduceAcks.ALL,
    partitioner: keyedOrRoundRobin(),
    autocreateTopics: false,
    // One request in flight: later sends never overtake earlier ones (the output batcher's ordering).
    ...(idempotent ? { maxInflights: 1 } : {}),
  });
  const flat = (topicMessages: TopicMessages[]) =>
    topicMessages.flatMap((t) => t.messages.map((m) => toProduce(t.topic, m)));
  return {
    connect: async () => {
      // Registers a transactional id now (fencing an earlier owner) rather than at the first transaction.
      await guard(p.metadata({ topics: [] }));
    },
    disconnect: () => guard(p.close()),
    send: (r) => guard(p.send({ messages: r.messages.map((m) => toProduce(r.topic, m)) })),
    sendBatch: (b) => guard(p.send({ messages: flat(b.topicMessages) })),
    transaction: async (): Promise<KafkaTransaction> => {
      // The first transaction registers the transactional id (InitProducerId), fencing an earlier owner.
      const tx = await guard(p.beginTransaction());
      // Whether the broker knows of this transaction: an empty one has nothing to end there (EndTxn would
      // answer INVALID_TXN_STATE and leave the producer stuck in it), so it is cancelled locally instead.
      let started = false;
      return {
        send: (r) => {
          started = true;
          return guard(tx.send({ messages: r.messages.map((m) => toProduce(r.topic, m)) }));
        },
        sendBatch: (b) => {
          started = true;
          return guard(tx.send({ messages: flat(b.topicMessages) }));
        },
        sendOffsets: async ({ consumerGroupId, topics }) => {
          started = true;
          const admin = new PlatformaticAdmin(base);
          try {
            const coordinatorId = await admin.coordinatorOf(consumerGroupId);
            // The library adds a group through a consumer and commits a message's offset + 1; it reads only
            // the group id and the message's position and consumer metadata, which a replay has without a
            // member: generation -1 and no member id commit as a tool outside the group (KIP-447).
            await guard(tx.addConsumer({ groupId: consumerGroupId } as Parameters<typeof tx.addConsumer>[0]));
            for (const t of topics) {
              for (const { partition, offset } of t.partitions) {
                const at = {
                  topic: t.topic,
                  partition,
                  offset: BigInt(offset) - 1n,
                  metadata: { consumer: { groupId: consumerGroupId, generationId: -1, memberId: '', coordinatorId } },
                } as unknown as Message;
                await guard(tx.addOffset(at));
              }
            }
          } finally {
            await admin.disconnect().catch(() => undefined);
          }
        },
        commit: () => (started ? guard(tx.commit()) : guard(tx.cancel())),
        abort: async () => {
          if (!started) return guard(tx.cancel());
          try {
            await guard(tx.abort());
          } catch (e) {
            // The producer would refuse every later transaction while this one stays open locally.
            await tx.cancel().catch(() => undefined);
            throw e;
          }
        },
      };
    },
  };
}
