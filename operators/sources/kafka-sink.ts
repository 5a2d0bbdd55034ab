/**
 * LEGACY (JSON state, before the Avro SourceState and runtime/assigned/): kept only for
 * test/integration/sources.test.ts until its rewrite; delete then. The worker's commit path is
 * runtime/assigned/transactions.ts through poller.ts's openSourceSync.
 *
 * The Kafka side of a source's sync: a transactional producer (one transactional id per source, so a stale
 * poller after a rebalance is fenced) that writes a page's RawListings to `listings.raw` and the state after
 * the page to the compacted `listings.source-state` in ONE transaction; and the reader of the last committed
 * state per source (read_committed, the kafkajs consumer default), where a worker resumes.
 *
 * One open transaction per producer and no overlapping sends inside it (kafkajs #430, #1315): commits are
 * sequential, which `syncSource` guarantees by awaiting each one.
 */
import type { Kafka, Producer } from 'kafkajs';
import { readToEnd } from '../../runtime/topic-reader';
import type { RawListing } from '../../schemas/generated/types';
import type { RawListingRecord } from './raw-listings';
import { decodeSourceState, encodeSourceState, type SourceState } from './state';
import type { PageSink } from './sync';

export const sourcesTransactionalId = (pipeline: string, source: string): string =>
  `listflow.${pipeline}.sources.${source}`;

export interface TransactionalSinkOptions {
  readonly kafka: Kafka;
  readonly transactionalId: string;
  readonly source: string;
  readonly rawTopic: string;
  readonly stateTopic: string;
  /** RawListing to its wire bytes (Avro with the registry's schema id). */
  readonly encodeRaw: (v: RawListing) => Buffer;
}

export interface TransactionalSink extends PageSink {
  close(): Promise<void>;
}

export async function openTransactionalSink(o: TransactionalSinkOptions): Promise<TransactionalSink> {
  const producer: Producer = o.kafka.producer({
    transactionalId: o.transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  // kafkajs registers the transactional id (InitProducerId, which bumps the epoch and so fences a previous
  // owner of this source) only at the first transaction(), not at connect: open and abort an empty one now, so
  // the stale poller is fenced before this one replicates anything.
  const init = await producer.transaction();
  await init.abort();
  return {
    async commit(records: readonly RawListingRecord[], state: SourceState): Promise<void> {
      const tx = await producer.transaction();
      try {
        if (records.length > 0) {
          await tx.send({
            topic: o.rawTopic,
            messages: records.map((r) => ({ key: r.key, value: o.encodeRaw(r.value) })),
          });
        }
        await tx.send({ topic: o.stateTopic, messages: [{ key: o.source, value: encodeSourceState(state) }] });
        await tx.commit();
      } catch (e) {
        // A fenced or failed transaction: abort what is open (its records stay invisible to read_committed)
        // and let the caller's restart resume from the last committed state.
        await tx.abort().catch(() => undefined);
        throw e;
      }
    },
    close: () => producer.disconnect(),
  };
}

export interface SourceStateProblem {
  readonly source: string;
  readonly problem: string;
}

/**
 * The last committed state of every source in the state topic (a tombstone removes it). A record that does not
 * decode is reported, not thrown: the caller decides (the worker refuses to start such a source).
 */
export async function readSourceStates(
  kafka: Kafka,
  stateTopic: string,
): Promise<{ states: Map<string, SourceState>; problems: Map<string, string> }> {
  const states = new Map<string, SourceState>();
  const problems = new Map<string, string>();
  await readToEnd(
    kafka,
    [stateTopic],
    ({ message }) => {
      const key = message.key?.toString();
      if (key === undefined) return;
      const d = decodeSourceState(message.value);
      problems.delete(key);
      states.delete(key);
      if (!d.ok) problems.set(key, d.problem);
      else if (d.state) states.set(key, d.state);
    },
    { purpose: 'source-state' },
  );
  return { states, problems };
}
