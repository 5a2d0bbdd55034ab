/**
 * Reads topics from given offsets, for CLI commands that follow or inspect the pipeline (never a worker).
 *
 * kafkajs has no assign(): a reader is a consumer in a throw-away group (`listflow.cli.<purpose>.<uuid>`),
 * that never commits and is deleted on close. `admin.setOffsets` would join the group once per topic (seconds
 * each), so instead the reader seeks every partition it is assigned to the requested start offset on each
 * GROUP_JOIN. A fetch that happened before the seek can deliver some records twice; records are therefore
 * deduplicated by (topic, partition, offset), which keeps every count exact.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, KafkaMessage } from 'kafkajs';
import type { CliContext } from './context';
import { cliConsumer, cliKafka, withKafka } from './kafka-io';

export type Offsets = Map<string, Map<number, bigint>>;

export interface ReadMessage {
  readonly topic: string;
  readonly partition: number;
  readonly message: KafkaMessage;
}

/** Current end (high watermark) of every partition of `topics`. */
export async function endOffsets(admin: Admin, topics: readonly string[]): Promise<Offsets> {
  const out: Offsets = new Map();
  for (const t of topics) {
    const parts = await admin.fetchTopicOffsets(t);
    out.set(t, new Map(parts.map((p) => [p.partition, BigInt(p.high)])));
  }
  return out;
}

/** Start (low watermark) of every partition of `topics`. */
export async function startOffsets(admin: Admin, topics: readonly string[]): Promise<Offsets> {
  const out: Offsets = new Map();
  for (const t of topics) {
    const parts = await admin.fetchTopicOffsets(t);
    out.set(t, new Map(parts.map((p) => [p.partition, BigInt(p.low)])));
  }
  return out;
}

export class TopicReader {
  readonly groupId: string;
  private consumer: Consumer | null = null;
  /** Next offset to read per topic and partition: the start, then past the highest record seen. */
  private readonly position: Offsets = new Map();
  private readonly seen = new Map<string, Set<string>>();
  private failure: unknown = null;

  constructor(
    private readonly ctx: CliContext,
    purpose: string,
    private readonly from: Offsets,
    private readonly onMessage: (m: ReadMessage) => void | Promise<void>,
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

  async start(): Promise<void> {
    const consumer = cliConsumer(cliKafka(this.ctx), this.groupId);
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
        for (const partition of partitions) {
          const offset = this.from.get(topic)?.get(partition);
          if (offset !== undefined) consumer.seek({ topic, partition, offset: offset.toString() });
        }
      }
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) this.failure = payload.error;
    });
    await withKafka(this.ctx, async () => {
      await consumer.connect();
      await consumer.subscribe({ topics: this.topics, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: 4,
        eachBatch: async ({ batch }) => {
          const key = `${batch.topic}/${batch.partition}`;
          const seen = this.seen.get(key) ?? new Set<string>();
          this.seen.set(key, seen);
          const start = this.from.get(batch.topic)?.get(batch.partition) ?? 0n;
          for (const message of batch.messages) {
            const off = BigInt(message.offset);
            if (off < start || seen.has(message.offset)) continue;
            seen.add(message.offset);
            await this.onMessage({ topic: batch.topic, partition: batch.partition, message });
            const parts = this.position.get(batch.topic) ?? new Map<number, bigint>();
            this.position.set(batch.topic, parts);
            if ((parts.get(batch.partition) ?? 0n) <= off) parts.set(batch.partition, off + 1n);
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

  async close(admin?: Admin): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
    // The group never committed anything; deleting it keeps `kafka-consumer-groups --list` clean.
    if (admin) await admin.deleteGroups([this.groupId]).catch(() => undefined);
  }
}
