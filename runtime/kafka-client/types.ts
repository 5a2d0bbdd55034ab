/**
 * The Kafka client seam: the one interface through which the runtime, the CLI and infra talk to Kafka. Two
 * adapters implement it (kafkajs.ts, platformatic.ts), chosen by LISTFLOW_KAFKA_CLIENT; nothing outside this
 * folder imports a client library (test/unit/import-graph.test.ts).
 *
 * The shapes are the ones the runtime needs, no more:
 * - consuming: per-partition batches with heartbeats, staleness and explicit commits of "next to read"
 *   offsets (never auto-commit), pause per partition, seek, rebalance signals (join with the assignment,
 *   crash), read_committed;
 * - producing: acks=all always, idempotence and transactions (with sendOffsets), keys placed by the
 *   Java-compatible murmur2 partitioner on both adapters;
 * - admin: the calls the CLI and the workers make.
 * Offsets are decimal strings (64-bit: compare them as BigInt, never as Number), as the runtime's offset
 * bookkeeping and the dead-letter headers use them; header values are Buffers or strings.
 *
 * Errors: adapters throw errors carrying `type` (the broker's error name, e.g. REBALANCE_IN_PROGRESS, when
 * the broker named one) and `retriable` (whether asking again may succeed); see errors.ts.
 */
import type { Logger } from '../operator';

export type KafkaClientKind = 'kafkajs' | 'platformatic';

/** Header values as they arrive (Buffers, several per key possible) or are sent (strings or Buffers). */
export type MessageHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined>;

/** A record read from a partition. */
export interface ConsumedMessage {
  /** Decimal 64-bit offset. */
  readonly offset: string;
  readonly key: Buffer | null;
  /** null for a tombstone. */
  readonly value: Buffer | null;
  readonly headers?: MessageHeaders;
  /** Milliseconds since the epoch, decimal. */
  readonly timestamp: string;
}

/** A record to produce. `partition` unset: the murmur2 partitioner places it by key. */
export interface OutMessage {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: MessageHeaders;
  partition?: number;
}

export interface TopicMessages {
  readonly topic: string;
  readonly messages: OutMessage[];
}

export interface PartitionOffset {
  readonly partition: number;
  /** "Next to read": the last processed offset + 1. */
  readonly offset: string;
}

export interface TopicPartitionOffsets {
  readonly topic: string;
  readonly partitions: PartitionOffset[];
}

export interface RetryPolicy {
  readonly retries?: number;
  readonly initialRetryTime?: number;
  readonly maxRetryTime?: number;
}

export interface ClientConfig {
  readonly clientId: string;
  readonly brokers: readonly string[];
  readonly connectionTimeout?: number;
  readonly requestTimeout?: number;
  readonly retry?: RetryPolicy;
  /** The client's own warnings go here (with operator and step); none are logged without it. */
  readonly logger?: Logger;
  readonly ssl?: boolean | { readonly ca: string[] };
  readonly sasl?: {
    readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
    readonly username: string;
    readonly password: string;
  };
}

// --- consuming ---

export interface ConsumerOptions {
  readonly groupId: string;
  readonly sessionTimeout?: number;
  readonly rebalanceTimeout?: number;
  readonly heartbeatInterval?: number;
  readonly maxBytesPerPartition?: number;
  readonly maxBytes?: number;
  readonly maxWaitTimeInMs?: number;
  readonly retry?: RetryPolicy;
}

export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  /** The partition's end (next offset to be written) when the batch was fetched. */
  readonly highWatermark: string;
  readonly messages: ConsumedMessage[];
}

/** One partition's batch and what its handler may do while it runs. */
export interface BatchContext {
  readonly batch: PartitionBatch;
  /** Tells the group this member is alive; rejects with a rebalance error (errors.ts) when it must rejoin. */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping. */
  isRunning(): boolean;
  /** True once the batch's partition was revoked or sought: its records must not be processed or committed. */
  isStale(): boolean;
  /** Commits "next to read" offsets for the group, as given (the caller keeps them monotonic). */
  commit(offsets: { topics: TopicPartitionOffsets[] }): Promise<void>;
  /** Marks `offset` consumed, so the next fetch of the partition starts after it. */
  resolveOffset(offset: string): void;
}

export interface MessageContext {
  readonly topic: string;
  readonly partition: number;
  readonly message: ConsumedMessage;
}

export interface RunOptions {
  /** Partitions whose handlers run at once (each partition's batches stay in order). */
  readonly partitionsConsumedConcurrently?: number;
  /**
   * With true (the default) a batch counts as consumed when its handler returns; with false only what the
   * handler resolved, and the rest is fetched again.
   */
  readonly autoResolve?: boolean;
  readonly eachBatch?: (ctx: BatchContext) => Promise<void>;
  readonly eachMessage?: (ctx: MessageContext) => Promise<void>;
}

export interface ConsumerEvents {
  /** Joined (or rejoined) the group: a new generation with this member's partitions per topic. */
  readonly join: { readonly assignment: Readonly<Record<string, number[] | undefined>> };
  /** The consumer failed; with `restart` the client rejoins by itself, otherwise it has stopped. */
  readonly crash: { readonly error: Error; readonly restart: boolean };
  /** A partition's fetch was handled up to `lastOffset` (also batches of only transaction markers). */
  readonly batchEnd: { readonly topic: string; readonly partition: number; readonly lastOffset: string | null };
}

export interface KafkaConsumer {
  connect(): Promise<void>;
  /** Starts where the group committed; without a commit at the partition's start (`fromBeginning`) or end. */
  subscribe(opts: { topics: string[]; fromBeginning: boolean }): Promise<void>;
  /** Starts consuming in the background; resolves once running. Offsets are committed only by `commit`. */
  run(opts: RunOptions): Promise<void>;
  /** Moves a partition's next fetch to `offset` (only while running, for partitions assigned now). */
  seek(at: { topic: string; partition: number; offset: string }): void;
  /** Stops fetching these partitions (until the next rebalance). */
  pause(partitions: { topic: string; partitions: number[] }[]): void;
  on<E extends keyof ConsumerEvents>(event: E, listener: (payload: ConsumerEvents[E]) => void): void;
  /** Leaves the group once the running handlers returned. */
  disconnect(): Promise<void>;
}

// --- producing ---

export interface ProducerOptions {
  /** Idempotent (one request in flight per broker, sequence numbers): exactly once per partition. */
  readonly idempotent?: boolean;
  /** Makes the producer transactional (implies idempotent); opening it fences an earlier one with the id. */
  readonly transactionalId?: string;
  readonly retry?: RetryPolicy;
}

/** Sends always wait for all in-sync replicas (acks=all). */
export interface KafkaSender {
  send(record: { topic: string; messages: OutMessage[] }): Promise<unknown>;
  sendBatch(batch: { topicMessages: TopicMessages[] }): Promise<unknown>;
}

export interface KafkaTransaction extends KafkaSender {
  /** Commits a consumer group's offsets as part of the transaction. */
  sendOffsets(offsets: { consumerGroupId: string; topics: TopicPartitionOffsets[] }): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface KafkaProducer extends KafkaSender {
  connect(): Promise<void>;
  /** One open transaction per producer; sends inside it must not overlap. */
  transaction(): Promise<KafkaTransaction>;
  disconnect(): Promise<void>;
}

// --- admin ---

export interface TopicPartitionMetadata {
  readonly partitionId: number;
  /** -1 while the partition has no leader. */
  readonly leader: number;
  readonly partitionErrorCode: number;
  readonly replicas: number[];
}

export interface TopicMetadata {
  readonly name: string;
  readonly partitions: TopicPartitionMetadata[];
}

export interface TopicCreation {
  readonly topic: string;
  readonly numPartitions?: number;
  readonly replicationFactor?: number;
  readonly configEntries?: { name: string; value: string }[];
}

export interface PartitionWatermarks {
  readonly partition: number;
  readonly low: string;
  readonly high: string;
}

export interface TopicConfigEntry {
  readonly name: string;
  readonly value: string | null;
  /** Set on the topic itself (what altering the topic's configs replaces), not a broker default. */
  readonly isTopicOverride: boolean;
}

export interface GroupDescription {
  readonly groupId: string;
  readonly state: string;
  readonly members: { readonly memberId: string; readonly clientId: string; readonly clientHost: string }[];
}

export interface KafkaAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  listTopics(): Promise<string[]>;
  fetchTopicMetadata(opts: { topics: string[] }): Promise<{ topics: TopicMetadata[] }>;
  /** Does not wait for leaders (see runtime/kafka.ts createTopicsAndWait). */
  createTopics(opts: { topics: TopicCreation[] }): Promise<boolean>;
  deleteTopics(opts: { topics: string[]; timeout?: number }): Promise<void>;
  /** Grows each topic to `count` partitions. */
  createPartitions(opts: { topicPartitions: { topic: string; count: number }[] }): Promise<boolean>;
  describeTopicConfigs(topics: string[], names?: string[]): Promise<Map<string, TopicConfigEntry[]>>;
  /** Replaces each topic's overrides with `entries`. */
  alterTopicConfigs(changes: { topic: string; entries: { name: string; value: string }[] }[]): Promise<void>;
  /** Every partition's start and end. */
  fetchTopicOffsets(topic: string): Promise<PartitionWatermarks[]>;
  /** Per partition the first offset with a timestamp at or after `timestamp` (the end when none). */
  fetchTopicOffsetsByTimestamp(topic: string, timestamp: number): Promise<PartitionOffset[]>;
  /** A group's committed offsets per topic; "-1" where it committed nothing. */
  fetchOffsets(opts: { groupId: string; topics: string[] }): Promise<TopicPartitionOffsets[]>;
  describeGroups(groupIds: string[]): Promise<{ groups: GroupDescription[] }>;
  deleteGroups(groupIds: string[]): Promise<unknown>;
  describeCluster(): Promise<{ brokers: { nodeId: number }[]; controller: number | null }>;
}

export interface KafkaClient {
  readonly kind: KafkaClientKind;
  admin(opts?: { retry?: RetryPolicy }): KafkaAdmin;
  producer(opts?: ProducerOptions): KafkaProducer;
  /** A consumer-group member, read_committed (aborted and open transactions' records are never delivered). */
  consumer(opts: ConsumerOptions): KafkaConsumer;
  /** Whether `e` means the brokers could not be reached at all (so the CLI says that in one line). */
  isConnectionError(e: unknown): boolean;
}
