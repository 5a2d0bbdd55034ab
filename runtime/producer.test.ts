import type { KafkaProducer, TopicMessages } from './kafka-client';
import { partitionForKey } from './kafka-client/murmur2';
import { type BatcherOptions, type OutRecord, OutputBatcher } from './producer';

type SentBatch = { topicMessages: TopicMessages[] };

/** A producer whose requests complete when the test says so; it records what each request carried. */
function fakeProducer() {
  const requests: SentBatch[] = [];
  const pending: (() => void)[] = [];
  const producer = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    sendBatch: (b: SentBatch) => {
      requests.push(b);
      return new Promise((resolve) => pending.push(() => resolve([])));
    },
  } as unknown as KafkaProducer;
  const completeAll = async () => {
    while (pending.length > 0) {
      for (const done of pending.splice(0)) done();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { producer, requests, completeAll };
}

const KB = 1024;
const record = (topic: string, key: string | null, bytes: number): OutRecord => ({
  topic,
  // sizeOf counts value + key + 64 bytes of overhead: make the whole record `bytes`.
  message: { key, value: Buffer.alloc(bytes - 64 - (key ? Buffer.byteLength(key) : 0)) },
});

/** A key of `topic` that lands on `partition` of `count`. */
function keyFor(partition: number, count: number, n = 0): string {
  let found = -1;
  for (let i = 0; ; i++) {
    const k = `key-${i}`;
    if (partitionForKey(k, count) === partition && ++found === n) return k;
  }
}

const options = (o: Partial<BatcherOptions> = {}): BatcherOptions => ({
  maxRecords: 1000,
  maxBytes: 40 * KB,
  maxBytesPerPartition: 10 * KB,
  maxRequests: 1,
  partitionCounts: new Map([['out', 4]]),
  ...o,
});

/** Sends one record per call, all in one turn (as jobs finishing together do), then lets requests complete. */
async function run(o: BatcherOptions, records: OutRecord[]): Promise<SentBatch[]> {
  const { producer, requests, completeAll } = fakeProducer();
  const batcher = new OutputBatcher(() => producer, o);
  await batcher.start();
  const acks = records.map((r) => batcher.send([r]));
  await new Promise((r) => setImmediate(r));
  await completeAll();
  await Promise.all(acks);
  return requests;
}

/** `topic/partition` of each record, per request. */
const placements = (requests: SentBatch[]) =>
  requests.map((req) => req.topicMessages.flatMap((t) => t.messages.map((m) => `${t.topic}/${m.partition ?? '?'}`)));

describe('OutputBatcher', () => {
  test.each([
    {
      name: 'records of different partitions share one request up to each partition limit',
      records: () =>
        [0, 1, 2, 3].flatMap((p) => Array.from({ length: 9 }, (_, n) => record('out', keyFor(p, 4, n), KB))),
      // 36 records of 1 KB, 9 per partition: under 10 KB per partition and 40 KB in all.
      requests: [36],
    },
    {
      name: 'a partition over its limit starts a new request',
      records: () => Array.from({ length: 25 }, (_, n) => record('out', keyFor(2, 4, n), KB)),
      requests: [10, 10, 5],
    },
    {
      name: 'the request limit holds across partitions',
      options: { maxBytes: 12 * KB },
      records: () =>
        [0, 1, 2, 3].flatMap((p) => Array.from({ length: 6 }, (_, n) => record('out', keyFor(p, 4, n), KB))),
      requests: [12, 12],
    },
    {
      name: 'records without a key count against every partition',
      records: () => [
        ...Array.from({ length: 6 }, () => record('out', null, KB)),
        ...Array.from({ length: 6 }, (_, n) => record('out', keyFor(1, 4, n), KB)),
      ],
      // 6 unplaced + 4 on partition 1 fill partition 1's 10 KB; the rest go next.
      requests: [10, 2],
    },
    {
      name: 'a topic of unknown size is left to the client and counted like unkeyed records',
      records: () => Array.from({ length: 15 }, (_, n) => record('elsewhere', `k${n}`, KB)),
      requests: [10, 5],
    },
  ])('$name', async (c) => {
    const records = c.records();
    const requests = placements(await run(options(c.options), records));
    expect(requests.map((r) => r.length)).toEqual(c.requests);
    // Every record went out exactly once, on the partition its key hashes to when the topic's size is known.
    const sent = requests.flat();
    expect(sent).toHaveLength(records.length);
    for (const r of records) {
      if (r.topic === 'out' && r.message.key) expect(r.message.partition).toBe(partitionForKey(r.message.key, 4));
      if (r.topic === 'elsewhere') expect(r.message.partition).toBeUndefined();
    }
  });

  test('no partition of any request exceeds its limit', async () => {
    const records = Array.from({ length: 400 }, (_, n) =>
      record('out', n % 7 === 0 ? null : `listing-${n}`, 600 + ((n * 37) % 900)),
    );
    const o = options({ maxRequests: 2 });
    const requests = await run(o, records);
    const size = (m: { key?: unknown; value?: unknown }) =>
      (m.value as Buffer).length + (m.key ? Buffer.byteLength(m.key as string) : 0) + 64;
    let count = 0;
    for (const req of requests) {
      const perPartition = new Map<string, number>();
      let unplaced = 0;
      for (const t of req.topicMessages) {
        for (const m of t.messages) {
          count++;
          if (m.partition === undefined) unplaced += size(m);
          else perPartition.set(`${m.partition}`, (perPartition.get(`${m.partition}`) ?? 0) + size(m));
        }
      }
      for (const b of perPartition.values()) expect(b + unplaced).toBeLessThanOrEqual(o.maxBytesPerPartition);
      expect(unplaced).toBeLessThanOrEqual(o.maxBytesPerPartition);
    }
    expect(count).toBe(records.length);
  });
});
