/**
 * Reads topics from given offsets, for tools that follow or inspect the pipeline (the CLI, the dead-letter
 * module), never for a worker: `TopicReader` follows from a start, `readToEnd` reads to the ends at the time of
 * the call and stops, `readAt` fetches one record.
 *
 * The client seam has no assign() (kafkajs has none): a reader is a consumer in a throw-away group
 * (`listflow.cli.<purpose>.<uuid>`) that never commits and is deleted on close. Setting the group's offsets
 * first would join the group once per topic (seconds each, kafkajs's `admin.setOffsets`), so instead the reader
 * seeks every partition it is assigned to the requested start offset on each join,
 * and pauses the partitions it was not asked for. A fetch that happened before the seek can deliver some
 * records twice; records are therefore deduplicated by (topic, partition, offset), which keeps every count exact.
 * Progress also advances on the consumer's batchEnd signal, so batches made only of transaction markers (topics
 * written transactionally, such as the redrive ledger) count as read.
 */
import { randomUUID } from 'node:crypto';
import { askAgainWhileRetriable, withAdmin } from './kafka';
import type { ConsumedMessage, KafkaAdmin, KafkaClient, KafkaConsumer, RetryPolicy } from './kafka-client';

export type Offsets = Map<string, Map<number, bigint>>;

export interface ReadMessage {
  readonly topic: string;
  readonly partition: number;
  readonly message: ConsumedMessage;
}

async function watermarks(admin: KafkaAdmin, topics: readonly string[], which: 'low' | 'high'): Promise<Offsets> {
  const out: Offsets = new Map();
  for (const t of topics) {
    // A topic created a moment ago can still answer NOT_LEADER_FOR_PARTITION (its leader is being elected),
    // which kafkajs's admin does not ask again itself.
    const parts = await askAgainWhileRetriable(() => admin.fetchTopicOffsets(t));
    out.set(t, new Map(parts.map((p) => [p.partition, BigInt(p[which])])));
  }
  return out;
}

/** Current end (high watermark) of every partition of `topics`. */
export const endOffsets = (admin: KafkaAdmin, topics: readonly string[]): Promise<Offsets> =>
  watermarks(admin, topics, 'high');

/** Start (low watermark) of every partition of `topics`. */
export const startOffsets = (admin: KafkaAdmin, topics: readonly string[]): Promise<Offsets> =>
  watermarks(admin, topics, 'low');

export interface ReaderOptions {
  /** Retry policy of the reader's consumer (the CLI's is short); the client's default otherwise. */
  readonly retry?: RetryPolicy;
  /** Wraps the reader's connect and run, e.g. to explain connection failures (cli/kafka-io.ts withKafka). */
  readonly wrap?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** The consumer of a reader: it joins alone, so a short session and a fast rejoin. */
export function readerConsumer(kafka: KafkaClient, groupId: string, retry?: RetryPolicy): KafkaConsumer {
  return kafka.consumer({
    groupId,
    ...(retry ? { retry } : {}),
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
    maxWaitTimeInMs: 250,
  });
}

export class TopicReader {
  readonly groupId: string;
  private consumer: KafkaConsumer | null = null;
  /** Next offset to read per topic and partition: the start, then past the highest record (or marker) seen. */
  private readonly position: Offsets = new Map();
  private readonly seen = new Map<string, Set<string>>();
  private failure: unknown = null;
  private lastProgressAt = Date.now();

  constructor(
    private readonly kafka: KafkaClient,
    purpose: string,
    private readonly from: Offsets,
    private readonly onMessage: (m: ReadMessage) => void | Promise<void>,
    private readonly options: ReaderOptions = {},
  ) {
    this.groupId = `listflow.cli.${purpose}.${randomUUID()}`;
    for (const [t, parts] of from) this.position.set(t, new Map(parts));
  }

  get topics(): string[] {
    return [...this.from.keys()];
  }

  /** An error the consumer hit while running (crash without restart), if any. */
  get error(): unknown {
    return this.failure;
  }

  /** When the reader last read a batch (of records or markers). */
  get lastProgress(): number {
    return this.lastProgressAt;
  }

  private advance(topic: string, partition: number, next: bigint): void {
    this.lastProgressAt = Date.now();
    const parts = this.position.get(topic);
    if (parts?.has(partition) && (parts.get(partition) ?? 0n) < next) parts.set(partition, next);
  }

  async start(): Promise<void> {
    const consumer = readerConsumer(this.kafka, this.groupId, this.options.retry);
    this.consumer = consumer;
    consumer.on('join', ({ assignment }) => {
      for (const [topic, partitions] of Object.entries(assignment)) {
        const notAsked: number[] = [];
        for (const partition of partitions ?? []) {
          const offset = this.from.get(topic)?.get(partition);
          if (offset === undefined) notAsked.push(partition);
          else consumer.seek({ topic, partition, offset: offset.toString() });
        }
        if (notAsked.length > 0) consumer.pause([{ topic, partitions: notAsked }]);
      }
    });
    consumer.on('batchEnd', ({ topic, partition, lastOffset }) => {
      if (lastOffset !== null) this.advance(topic, partition, BigInt(lastOffset) + 1n);
    });
    consumer.on('crash', ({ error, restart }) => {
      if (!restart) this.failure = error;
    });
    const wrap = this.options.wrap ?? (<T>(fn: () => Promise<T>) => fn());
    await wrap(async () => {
      await consumer.connect();
      await consumer.subscribe({ topics: this.topics, fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently: 4,
        eachBatch: async ({ batch }) => {
          const start = this.from.get(batch.topic)?.get(batch.partition);
          if (start === undefined) return;
          const key = `${batch.topic}/${batch.partition}`;
          const seen = this.seen.get(key) ?? new Set<string>();
          this.seen.set(key, seen);
          for (const message of batch.messages) {
            const off = BigInt(message.offset);
            if (off < start || seen.has(message.offset)) continue;
            seen.add(message.offset);
            await this.onMessage({ topic: batch.topic, partition: batch.partition, message });
            this.advance(batch.topic, batch.partition, off + 1n);
          }
        },
      });
    });
  }

  /** True once every partition in `target` has been read up to (excluding) its offset there. */
  caughtUp(target: Offsets): boolean {
    for (const [t, parts] of target) {
      for (const [p, end] of parts) {
        const start = this.from.get(t)?.get(p) ?? 0n;
        if (end <= start) continue;
        if ((this.position.get(t)?.get(p) ?? 0n) < end) return false;
      }
    }
    return true;
  }

  async close(admin?: KafkaAdmin): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
    // The group never committed anything; deleting it keeps `kafka-consumer-groups --list` clean.
    if (admin) await admin.deleteGroups([this.groupId]).catch(() => undefined);
  }
}

export class ReadStalledError extends Error {
  override readonly name = 'ReadStalledError';
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface ReadToEndOptions extends ReaderOptions {
  /** Group name part (default `read`). */
  readonly purpose?: string;
  /** Give up when no batch arrived for this long (default 30 s): an open transaction holds the reader back. */
  readonly stallMs?: number;
}

/**
 * Reads `topics` (those that exist) from their start to their ends at the time of the call, calling
 * `onMessage` for each record, then stops. Throws ReadStalledError when reading makes no progress for `stallMs`.
 */
export async function readToEnd(
  kafka: KafkaClient,
  topics: readonly string[],
  onMessage: (m: ReadMessage) => void | Promise<void>,
  opts: ReadToEndOptions = {},
): Promise<void> {
  const { from, to } = await withAdmin(kafka, async (admin) => {
    const existing = new Set(await admin.listTopics());
    const present = topics.filter((t) => existing.has(t));
    return { from: await startOffsets(admin, present), to: await endOffsets(admin, present) };
  });
  // Only the partitions that hold something: the reader is asked for those, up to their ends.
  const nonEmpty: Offsets = new Map();
  const target: Offsets = new Map();
  for (const [t, parts] of to) {
    for (const [p, end] of parts) {
      const start = from.get(t)?.get(p) ?? 0n;
      if (end <= start) continue;
      nonEmpty.set(t, (nonEmpty.get(t) ?? new Map()).set(p, start));
      target.set(t, (target.get(t) ?? new Map()).set(p, end));
    }
  }
  if (nonEmpty.size === 0) return;
  const reader = new TopicReader(kafka, opts.purpose ?? 'read', nonEmpty, onMessage, opts);
  const stallMs = opts.stallMs ?? 30_000;
  try {
    await reader.start();
    while (!reader.caughtUp(target)) {
      if (reader.error) throw reader.error;
      if (Date.now() - reader.lastProgress > stallMs) {
        throw new ReadStalledError(
          `Reading ${reader.topics.join(', ')} made no progress for ${stallMs / 1000}s (an open transaction?).`,
        );
      }
      await sleep(50);
    }
  } finally {
    await reader.close();
    await withAdmin(kafka, (admin) => admin.deleteGroups([reader.groupId])).catch(() => undefined);
  }
}

/** Everything `readToEnd` reads, ordered by topic, partition and offset. */
export async function readAllToEnd(
  kafka: KafkaClient,
  topics: readonly string[],
  opts: ReadToEndOptions = {},
): Promise<ReadMessage[]> {
  const out: ReadMessage[] = [];
  await readToEnd(kafka, topics, (m) => void out.push(m), opts);
  const order = (m: ReadMessage) => `${m.topic}\u0000${String(m.partition).padStart(6, '0')}`;
  return out.sort((a, b) =>
    order(a) === order(b)
      ? BigInt(a.message.offset) < BigInt(b.message.offset)
        ? -1
        : 1
      : order(a) < order(b)
        ? -1
        : 1,
  );
}

/**
 * The one record at `offset` of a partition, or undefined once the reader has passed it (removed by retention
 * or compaction) or `timeoutMs` elapsed.
 */
export async function readAt(
  kafka: KafkaClient,
  at: { topic: string; partition: number; offset: string },
  opts: ReaderOptions & { timeoutMs?: number } = {},
): Promise<ConsumedMessage | undefined> {
  let found: ConsumedMessage | undefined;
  const from: Offsets = new Map([[at.topic, new Map([[at.partition, BigInt(at.offset)]])]]);
  const reader = new TopicReader(
    kafka,
    'show',
    from,
    ({ message }) => {
      if (message.offset === at.offset) found = message;
    },
    opts,
  );
  const past: Offsets = new Map([[at.topic, new Map([[at.partition, BigInt(at.offset) + 1n]])]]);
  try {
    await reader.start();
    const end = Date.now() + (opts.timeoutMs ?? 30_000);
    while (!found && !reader.caughtUp(past) && Date.now() < end) {
      if (reader.error) throw reader.error;
      await sleep(50);
    }
  } finally {
    await reader.close();
    await withAdmin(kafka, (admin) => admin.deleteGroups([reader.groupId])).catch(() => undefined);
  }
  return found;
}
