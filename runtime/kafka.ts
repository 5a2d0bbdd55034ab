/**
 * Builds the Kafka client (the seam, kafka-client/) from worker settings: plaintext locally, TLS and SASL for
 * real clusters. The client library behind it is chosen in kafka-client/index.ts.
 */
import { readFileSync } from 'node:fs';
import { withRetry } from './execute/retry';
import {
  type ClientConfig,
  type KafkaAdmin,
  type KafkaClient,
  openKafkaClient,
  type RetryPolicy,
  type TopicCreation,
} from './kafka-client';
import type { Logger } from './operator';
import type { WorkerSettings } from './settings';

type KafkaSettings = Pick<
  WorkerSettings,
  | 'kafkaBrokers'
  | 'kafkaClient'
  | 'kafkaClientId'
  | 'kafkaSsl'
  | 'kafkaSslCaFile'
  | 'kafkaSaslMechanism'
  | 'kafkaSaslUsername'
  | 'kafkaSaslPassword'
>;

/** `retry` overrides the workers' patient policy (the CLI answers within seconds when Kafka is down). */
export function createKafka(
  settings: KafkaSettings,
  clientId: string,
  logger?: Logger,
  retry?: RetryPolicy,
): KafkaClient {
  const config: ClientConfig = {
    clientId: `${settings.kafkaClientId}-${clientId}`,
    brokers: settings.kafkaBrokers,
    connectionTimeout: 5000,
    requestTimeout: 30000,
    retry: retry ?? { initialRetryTime: 300, retries: 8, maxRetryTime: 10_000 },
    ...(logger ? { logger } : {}),
    ...(settings.kafkaSsl
      ? { ssl: settings.kafkaSslCaFile ? { ca: [readFileSync(settings.kafkaSslCaFile, 'utf8')] } : true }
      : {}),
    ...(settings.kafkaSaslMechanism !== 'none'
      ? {
          sasl: {
            mechanism: settings.kafkaSaslMechanism,
            username: settings.kafkaSaslUsername ?? '',
            password: settings.kafkaSaslPassword ?? '',
          },
        }
      : {}),
  };
  return openKafkaClient(settings.kafkaClient, config);
}

const METADATA_PROPAGATING = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

/** Waits until each topic reports at least `count` partitions, all with a leader (bounded by `timeoutMs`). */
export async function waitForTopics(
  admin: Pick<KafkaAdmin, 'fetchTopicMetadata'>,
  wanted: readonly { topic: string; count: number }[],
  timeoutMs = 30_000,
): Promise<void> {
  if (wanted.length === 0) return;
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: wanted.map((w) => w.topic) });
      const ready = new Map(
        topics.map((t) => [t.name, t.partitions.filter((p) => p.leader >= 0 && p.partitionErrorCode === 0).length]),
      );
      const pending = wanted.filter((w) => (ready.get(w.topic) ?? 0) < w.count);
      if (pending.length === 0) return;
      last = `waiting for ${pending.map((w) => `${w.topic} (${ready.get(w.topic) ?? 0}/${w.count} partitions led)`).join(', ')}`;
    } catch (e) {
      const type = (e as { type?: string }).type;
      if (!type || !METADATA_PROPAGATING.has(type)) throw e;
      last = (e as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`Kafka did not report the topics ready within ${timeoutMs / 1000}s: ${last}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Creates `topic` compacted with one partition unless it exists: the ledgers tools keep (redrive, replay), whose
 * every entry has its own key. Another run creating it at the same moment is not an error.
 */
export async function ensureCompactedTopic(admin: KafkaAdmin, topic: string): Promise<void> {
  if ((await admin.listTopics()).includes(topic)) return;
  try {
    await createTopicsAndWait(admin, [
      { topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
    ]);
  } catch (e) {
    if (!(await admin.listTopics()).includes(topic)) throw e;
  }
}

/** Runs `fn` with a connected admin of `kafka`, disconnected afterwards. */
export async function withAdmin<T>(kafka: KafkaClient, fn: (admin: KafkaAdmin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Creates topics and waits until every partition has a leader. A client's own wait for leaders (kafkajs's
 * `waitForLeaders`) retries only LEADER_NOT_AVAILABLE, but a KRaft broker answers UNKNOWN_TOPIC_OR_PARTITION
 * until a new topic's metadata has propagated (seen on a freshly started broker), and such a wait then fails:
 * waitForTopics
 * tolerates both. Topics that already exist are left as they are.
 */
export async function createTopicsAndWait(
  admin: KafkaAdmin,
  topics: TopicCreation[],
  timeoutMs = 30_000,
): Promise<void> {
  await admin.createTopics({ topics });
  await waitForTopics(
    admin,
    topics.map((t) => ({ topic: t.topic, count: t.numPartitions ?? 1 })),
    timeoutMs,
  );
}

export interface AskAgainOptions {
  /** How long to keep asking while the answer is "not yet". */
  readonly timeoutMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Runs a Kafka request again while it fails with an error the client marks retriable (kafka-client/types.ts), with backoff from 100 ms
 * capped at 1 s, for at most `timeoutMs` (default 30 s); anything else is thrown at once. Right after a
 * broker (re)start, partition leaders and group coordinators answer LEADER_NOT_AVAILABLE,
 * COORDINATOR_LOAD_IN_PROGRESS or NOT_COORDINATOR, which mean "ask again", and some admin calls
 * (fetchOffsets) do not retry them themselves.
 */
export function askAgainWhileRetriable<T>(request: () => Promise<T>, opts: AskAgainOptions = {}): Promise<T> {
  return withRetry(ASK_AGAIN, request, {
    retriable: (e) => (e as { retriable?: unknown }).retriable === true,
    budgetMs: opts.timeoutMs ?? 30_000,
    // The schedule itself, not a jittered share of it: these are one client's waits, not a crowd's.
    random: () => 1,
    ...(opts.sleep ? { sleep: opts.sleep } : {}),
  });
}

/** Bounded by time (AskAgainOptions.timeoutMs), not by attempts. */
const ASK_AGAIN = { maxAttempts: Number.POSITIVE_INFINITY, initialBackoffMs: 100, maxBackoffMs: 1000 };

/**
 * A consumer group's committed offsets on a topic: partition -> offset, -1 where the group has committed
 * nothing. The group's coordinator is still loading on a fresh broker (it creates __consumer_offsets on the
 * first group lookup) and on a restarted one, so this asks again while it says so (askAgainWhileRetriable).
 */
export async function fetchCommittedOffsets(
  admin: Pick<KafkaAdmin, 'fetchOffsets'>,
  groupId: string,
  topic: string,
  opts: AskAgainOptions = {},
): Promise<Map<number, bigint>> {
  const [res] = await askAgainWhileRetriable(() => admin.fetchOffsets({ groupId, topics: [topic] }), opts);
  return new Map((res?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
}
