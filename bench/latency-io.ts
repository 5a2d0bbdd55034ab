/**
 * bench:latency's Kafka side: the records it offers (RawListings of the sample feed, one new listing each),
 * the producers that offer them (all at once, or paced at a fixed rate), and the reader that collects each
 * record's CreateTime on a topic afterwards. Reading afterwards is what keeps the reader off the measurement:
 * a record's timestamp was set by the producer that wrote it, whenever it is read.
 */
import type { KafkaClient, KafkaProducer, OutMessage } from '../runtime/kafka-client';
import { sleep } from '../runtime/execute/retry';
import { sampleListings } from '../samples/generator';
import type { RawListing } from '../schemas/generated/types';
import { testSerde, uniqueName } from '../test/support/streams';

/** The source every offered listing names: ids (and keys on every topic) are `bench:<ListingKey>`. */
export const SOURCE = 'bench';

/**
 * `count` valid RawListings (no broken ones: every record must end as a row), ListingKeys `<prefix><i>`.
 * With `photoBase`, each has three photos `<photoBase>/<ListingKey>/<n>.jpg`, distinct URLs for distinct
 * photos; without, no Media, so the images step passes the listing through.
 */
export async function offeredRecords(
  topic: string,
  prefix: string,
  count: number,
  photoBase?: string,
): Promise<OutMessage[]> {
  const serde = testSerde();
  const id = await serde.schemaIdFor(topic, 'RawListing', true);
  const out: OutMessage[] = [];
  let i = 0;
  for (const s of sampleListings({ seed: 5, count, badRate: 0, keyPrefix: prefix })) {
    const key = String(s.record.ListingKey);
    if (photoBase) {
      s.record.Media = [0, 1, 2].map((n) => ({
        MediaURL: `${photoBase}/${key}/${n}.jpg`,
        Order: n + 1,
        MediaCategory: 'Photo',
      }));
    }
    const value: RawListing = {
      jobId: 'bench-latency',
      source: SOURCE,
      listingKey: key,
      position: i++,
      receivedAt: new Date(0),
      defaultCountry: null,
      defaultCurrency: null,
      payload: JSON.stringify(s.record),
    };
    out.push({ key: `${SOURCE}:${key}`, value: serde.encode(id, 'RawListing', value) });
  }
  return out;
}

/** Everything at once (the saturating run): chunks as fast as the producer takes them. */
export async function burstProduce(producer: KafkaProducer, topic: string, messages: OutMessage[]): Promise<void> {
  const chunks: Promise<unknown>[] = [];
  for (let i = 0; i < messages.length; i += 500) {
    chunks.push(producer.send({ topic, messages: messages.slice(i, i + 500) }));
  }
  await Promise.all(chunks);
}

export interface PacedResult {
  /** Seconds from the first send to the last acknowledgement. */
  readonly seconds: number;
  /**
   * Records per second the pacing produced: records after the first / seconds from the first send to the
   * last (n / seconds would read high for a few records: the first goes out at 0, the n-th at (n-1) / rate).
   */
  readonly achieved: number;
  /** Sends that were still waiting for an earlier one when their tick came (the producer fell behind). */
  readonly late: number;
}

/**
 * Offers `messages` at `rate` records per second: every `tickMs` the records due by now (rate x elapsed) go
 * out as one small send, up to `maxInFlight` sends at once. A send that finds that many still unacknowledged
 * waits; its records wait with it and are produced late (counted), so the offered rate stays the target.
 */
export async function pacedProduce(
  producer: KafkaProducer,
  topic: string,
  messages: OutMessage[],
  rate: number,
  opts: { tickMs: number; maxInFlight?: number },
): Promise<PacedResult> {
  const maxInFlight = opts.maxInFlight ?? 8;
  const inFlight = new Set<Promise<unknown>>();
  let failure: unknown = null;
  let sent = 0;
  let late = 0;
  let lastSend = 0;
  const t0 = performance.now();
  while (sent < messages.length) {
    if (failure) throw failure;
    const due = Math.min(messages.length, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
    if (due > sent) {
      if (inFlight.size >= maxInFlight) {
        late++;
        await Promise.race(inFlight);
        continue;
      }
      const p: Promise<unknown> = producer
        .send({ topic, messages: messages.slice(sent, due) })
        .catch((e: unknown) => {
          failure = e;
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      sent = due;
      lastSend = performance.now();
    }
    await sleep(opts.tickMs);
  }
  await Promise.all(inFlight);
  if (failure) throw failure;
  const seconds = (performance.now() - t0) / 1000;
  const achieved = lastSend > t0 ? ((messages.length - 1) * 1000) / (lastSend - t0) : messages.length / seconds;
  return { seconds, achieved, late };
}

export interface TopicTimes {
  /** key -> the CreateTime of its first record on the topic. */
  readonly first: Map<string, number>;
  /** Records beyond the first per key (a step that processed a record twice, at-least-once). */
  readonly duplicates: number;
  /** Records the reader was handed again (same partition and offset): the reading client's, not on the topic. */
  readonly redelivered: number;
  /** The reader's throwaway consumer group (for the clean-up). */
  readonly groupId: string;
}

/**
 * Reads `topic` from the beginning and collects the CreateTime of each key starting with `prefix`, until
 * `count` keys were seen or nothing new arrived for `idleMs`. Keys and timestamps only: nothing is decoded.
 */
export async function readTimes(
  kafka: KafkaClient,
  topic: string,
  prefix: string,
  count: number,
  idleMs = 15_000,
): Promise<TopicTimes> {
  const groupId = uniqueName('bench-latency-reader');
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  const first = new Map<string, number>();
  let duplicates = 0;
  let redelivered = 0;
  const offsets = new Set<string>();
  let lastNew = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      partitionsConsumedConcurrently: 6,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const key = m.key?.toString();
          if (!key?.startsWith(prefix)) continue;
          const at = `${batch.partition}:${m.offset}`;
          if (offsets.has(at)) {
            redelivered++;
            continue;
          }
          offsets.add(at);
          const t = Number(m.timestamp);
          const seen = first.get(key);
          if (seen === undefined) {
            first.set(key, t);
            lastNew = Date.now();
          } else {
            duplicates++;
            if (t < seen) first.set(key, t);
          }
        }
      },
    });
    while (first.size < count && Date.now() - lastNew < idleMs) await sleep(50);
  } finally {
    await consumer.disconnect();
  }
  return { first, duplicates, redelivered, groupId };
}
