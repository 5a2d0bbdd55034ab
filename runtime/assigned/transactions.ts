/**
 * One key's transactional writer: a transactional producer (one transactional id per key, so the
 * replica that takes a key over fences the one that had it) that produces a set of outputs and commits them
 * in ONE transaction. An owning operator (a source's poller) commits a page of records together with the state
 * after it, so a reader (read_committed, as the client seam's consumers read) sees both or neither.
 *
 * One open transaction per producer and no overlapping sends inside it (kafkajs #430, #1315): `commit` is
 * serialized here, whatever the caller does.
 */
import type { KafkaClient, KafkaProducer } from '../kafka-client';

export interface KeyedRecord {
  readonly topic: string;
  readonly key: string;
  /** Wire bytes (Avro, Confluent framing), or null for a tombstone. */
  readonly value: Buffer | null;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface RecordWriter {
  /** Produces `records` and commits them atomically; resolves once committed. Throws after aborting. */
  commit(records: readonly KeyedRecord[]): Promise<void>;
  close(): Promise<void>;
}

export async function openTransactionalWriter(kafka: KafkaClient, transactionalId: string): Promise<RecordWriter> {
  const producer: KafkaProducer = kafka.producer({ transactionalId, idempotent: true });
  await producer.connect();
  // kafkajs registers the transactional id (InitProducerId: it bumps the epoch, which fences an earlier owner
  // and aborts that owner's open transaction) only at the first transaction(), not at connect. Open and abort
  // an empty one now, so the earlier owner is fenced before this one reads its state or writes anything
  // (measured 2026-12-02: a connected-only new owner left the stale producer's next commit visible).
  const init = await producer.transaction();
  await init.abort();
  let queue: Promise<unknown> = Promise.resolve();
  const commitNow = async (records: readonly KeyedRecord[]): Promise<void> => {
    const tx = await producer.transaction();
    try {
      const byTopic = new Map<string, KeyedRecord[]>();
      for (const r of records) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r]);
      // One send per topic, in turn: never two sends in flight inside one transaction.
      for (const [topic, rs] of byTopic) {
        await tx.send({
          topic,
          messages: rs.map((r) => ({
            key: r.key,
            value: r.value,
            ...(r.headers ? { headers: { ...r.headers } } : {}),
          })),
        });
      }
      await tx.commit();
    } catch (e) {
      // Fenced or failed: abort what is open (its records stay invisible to read_committed readers); the
      // caller resumes from the last committed state.
      await tx.abort().catch(() => undefined);
      throw e;
    }
  };
  return {
    commit(records) {
      const run = queue.then(() => commitNow(records));
      queue = run.catch(() => undefined);
      return run;
    },
    close: () => producer.disconnect(),
  };
}
