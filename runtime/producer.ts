/**
 * The worker's one producer, with group commit.
 *
 * Jobs hand their encoded outputs (and dead letters) to `send`, which resolves once Kafka has acknowledged
 * them (idempotent producer, acks=all). While requests are in flight, later sends queue up and go out
 * together in the next request, so throughput rises with load and latency stays low when idle. The client
 * sends one request at a time per broker (the adapters' idempotent producers; kafkajs pitfall 11), which keeps
 * outputs in the order they were handed over: jobs with the same key produce in offset order.
 *
 * If a request fails after the client's own retries, every queued send fails with it (the caller then fails its
 * batch without committing, so the messages are processed again) and the producer is recreated, because an
 * idempotent producer's sequence numbers cannot be trusted after a failed request.
 */
import type { KafkaProducer, OutMessage, TopicMessages } from './kafka-client';
import { partitionForKey } from './kafka-client/murmur2';

export interface OutRecord {
  readonly topic: string;
  readonly message: OutMessage;
}

/**
 * Sends queued for one request. Every send that joins a group shares the group's promise: one promise per
 * request instead of one per job, which at tens of thousands of records/s is a visible share of CPU and GC.
 */
interface Group {
  readonly records: OutRecord[];
  bytes: number;
  /** Bytes per `<topic>\0<partition>`: each becomes one record batch in the request. */
  readonly partitionBytes: Map<string, number>;
  /** Bytes of records whose partition the client picks (no key, or a topic of unknown size): counted against every partition. */
  unplacedBytes: number;
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/** What one send adds to a group. */
interface Share {
  bytes: number;
  unplaced: number;
  readonly bySlot: Map<string, number>;
}

function newGroup(): Group {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Every sender awaits it; this only keeps a failed group without senders left from crashing the process.
  promise.catch(() => undefined);
  return { records: [], bytes: 0, partitionBytes: new Map(), unplacedBytes: 0, promise, resolve, reject };
}

export interface BatcherOptions {
  /** Upper bound of records per produce request. */
  readonly maxRecords: number;
  /** Upper bound of payload bytes per request. */
  readonly maxBytes: number;
  /**
   * Upper bound of payload bytes per partition in one request: each partition's records travel as one record
   * batch, which must stay under the broker's message.max.bytes (1 MiB by default).
   */
  readonly maxBytesPerPartition: number;
  /** Requests in flight at once (see dispatch). */
  readonly maxRequests: number;
  /**
   * Partition count of each topic written to (outputs and the dead-letter topic), read at startup. Records
   * with a key get their partition here, the way the clients' partitioner would pick it (Java's murmur2
   * of the key), so a request can be filled up to the limit of every partition rather than of one.
   */
  readonly partitionCounts?: ReadonlyMap<string, number>;
}

const sizeOf = (r: OutRecord): number =>
  (r.message.value ? (r.message.value as Buffer).length : 0) +
  (r.message.key ? Buffer.byteLength(r.message.key) : 0) +
  64;

export class OutputBatcher {
  private producer: KafkaProducer | null = null;
  private connecting: Promise<KafkaProducer> | null = null;
  /** Groups not yet taken by a request, oldest first; only the newest one takes more records. */
  private queue: Group[] = [];
  private inFlight = 0;
  private dispatchScheduled = false;
  private readonly idle: (() => void)[] = [];

  constructor(
    private readonly createProducer: () => KafkaProducer,
    private readonly options: BatcherOptions,
    private readonly onAcked: (records: readonly OutRecord[]) => void = () => {},
  ) {}

  async start(): Promise<void> {
    await this.connected();
  }

  /**
   * Resolves when Kafka acknowledged every record; rejects if the request carrying them failed. The records
   * join the newest queued group while it stays within the request limits (a send is never split, so its
   * records are acknowledged together), otherwise they open a new group.
   */
  send(records: readonly OutRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    const share = this.shareOf(records);
    let group = this.queue[this.queue.length - 1];
    if (!group || (group.records.length > 0 && !this.fits(group, records.length, share))) {
      group = newGroup();
      this.queue.push(group);
    }
    for (const r of records) group.records.push(r);
    group.bytes += share.bytes;
    group.unplacedBytes += share.unplaced;
    for (const [slot, b] of share.bySlot) group.partitionBytes.set(slot, (group.partitionBytes.get(slot) ?? 0) + b);
    // A full group goes out at once (when a request slot is free); the newest one waits for the end of the turn.
    if (this.queue.length > 1) this.dispatch(false);
    this.scheduleDispatch();
    return group.promise;
  }

  /** The bytes of one send: in all, per partition slot, and not placed (see `place`). */
  private shareOf(records: readonly OutRecord[]): Share {
    const share: Share = { bytes: 0, unplaced: 0, bySlot: new Map() };
    for (const r of records) {
      const size = sizeOf(r);
      const slot = this.place(r);
      share.bytes += size;
      if (slot === null) share.unplaced += size;
      else share.bySlot.set(slot, (share.bySlot.get(slot) ?? 0) + size);
    }
    return share;
  }

  /**
   * Gives a keyed record its partition (murmur2 of the key modulo the topic's partition count, exactly as
   * the clients' partitioner) and returns its `<topic>\0<partition>` slot; null when the client is left to
   * choose (no key, or a topic whose size is not known).
   */
  private place(r: OutRecord): string | null {
    const m = r.message;
    if (m.partition === undefined || m.partition === null) {
      const count = this.options.partitionCounts?.get(r.topic);
      if (count === undefined || m.key === null || m.key === undefined) return null;
      m.partition = partitionForKey(m.key, count);
    }
    return `${r.topic}\0${m.partition}`;
  }

  /** Whether a send of `count` records and `share` can join `group` within every limit. */
  private fits(group: Group, count: number, share: Share): boolean {
    const o = this.options;
    if (group.records.length + count > o.maxRecords || group.bytes + share.bytes > o.maxBytes) return false;
    const unplaced = group.unplacedBytes + share.unplaced;
    if (unplaced > o.maxBytesPerPartition) return false;
    // Unplaced bytes may land on any partition: count them against each.
    for (const [slot, b] of share.bySlot) {
      if ((group.partitionBytes.get(slot) ?? 0) + b + unplaced > o.maxBytesPerPartition) return false;
    }
    if (share.unplaced > 0) {
      for (const b of group.partitionBytes.values()) if (b + unplaced > o.maxBytesPerPartition) return false;
    }
    return true;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Waits for queued sends, then disconnects. */
  async stop(): Promise<void> {
    while (this.inFlight > 0 || this.queue.length > 0) await new Promise<void>((r) => this.idle.push(r));
    const p = this.producer;
    this.producer = null;
    await p?.disconnect();
  }

  private connected(): Promise<KafkaProducer> {
    if (this.producer) return Promise.resolve(this.producer);
    this.connecting ??= (async () => {
      const p = this.createProducer();
      try {
        await p.connect();
      } finally {
        this.connecting = null;
      }
      this.producer = p;
      return p;
    })();
    return this.connecting;
  }

  /**
   * Dispatches the group still taking records on the next turn of the event loop rather than at once (full
   * groups go at once, see send): jobs finishing in the same turn then share the first request, instead of the first one or two records of every fetch each paying a full
   * produce round trip on their own (measured: about 20 requests of under 10 records per 50,000 records).
   */
  private scheduleDispatch(): void {
    if (this.dispatchScheduled || this.inFlight >= this.options.maxRequests) return;
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      this.dispatch(true);
    });
  }

  /**
   * Starts a request per queued group while fewer than `maxRequests` are in flight (`includingNewest`: also
   * the group still taking records; after a request completes it holds what queued during the round trip). Two in flight let the
   * next request be encoded while the previous one waits for the broker; the client still sends them one at
   * a time per broker connection (kafkajs: maxInFlightRequests 1 and its per-broker lock for idempotent
   * producers), so per-partition order holds.
   */
  private dispatch(includingNewest: boolean): void {
    while (this.inFlight < this.options.maxRequests && this.queue.length > (includingNewest ? 0 : 1)) {
      const group = this.queue.shift()!;
      this.inFlight++;
      void this.request(group).finally(() => {
        this.inFlight--;
        this.dispatch(true);
        if (this.inFlight === 0 && this.queue.length === 0) for (const r of this.idle.splice(0)) r();
      });
    }
  }

  private async request(group: Group): Promise<void> {
    const byTopic = new Map<string, OutMessage[]>();
    for (const r of group.records) {
      const list = byTopic.get(r.topic);
      if (list) list.push(r.message);
      else byTopic.set(r.topic, [r.message]);
    }
    const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    try {
      const producer = await this.connected();
      await producer.sendBatch({ topicMessages });
    } catch (e) {
      // Fail everything still queued too: it would be written after records that were not.
      const failed = [group, ...this.queue];
      this.queue = [];
      const broken = this.producer;
      this.producer = null;
      await broken?.disconnect().catch(() => undefined);
      for (const g of failed) g.reject(e);
      return;
    }
    this.onAcked(group.records);
    group.resolve();
  }
}
