/**
 * The worker's one producer, with group commit.
 *
 * Jobs hand their encoded outputs (and dead letters) to `send`, which resolves once Kafka has acknowledged
 * them (idempotent producer, acks=all). While requests are in flight, later sends queue up and go out
 * together in the next request, so throughput rises with load and latency stays low when idle. kafkajs
 * sends one request at a time per broker (maxInFlightRequests 1 for idempotence, pitfall 11), which keeps
 * outputs in the order they were handed over: jobs with the same key produce in offset order.
 *
 * If a request fails after kafkajs's own retries, every queued send fails with it (the caller then fails its
 * batch without committing, so the messages are processed again) and the producer is recreated, because an
 * idempotent producer's sequence numbers cannot be trusted after a failed request.
 */
import type { Message, Producer, TopicMessages } from 'kafkajs';

export interface OutRecord {
  readonly topic: string;
  readonly message: Message;
}

interface Pending {
  readonly records: readonly OutRecord[];
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

export interface BatcherOptions {
  /** Upper bound of records per produce request. */
  readonly maxRecords: number;
  /** Upper bound of payload bytes per request; keeps every partition's record batch under the broker's message.max.bytes. */
  readonly maxBytes: number;
  /** Requests in flight at once (see dispatch). */
  readonly maxRequests: number;
}

const sizeOf = (r: OutRecord): number =>
  (r.message.value ? (r.message.value as Buffer).length : 0) +
  (r.message.key ? Buffer.byteLength(r.message.key) : 0) +
  64;

export class OutputBatcher {
  private producer: Producer | null = null;
  private connecting: Promise<Producer> | null = null;
  private queue: Pending[] = [];
  private inFlight = 0;
  private readonly idle: (() => void)[] = [];

  constructor(
    private readonly createProducer: () => Producer,
    private readonly options: BatcherOptions,
    private readonly onAcked: (records: readonly OutRecord[]) => void = () => {},
  ) {}

  async start(): Promise<void> {
    await this.connected();
  }

  /** Resolves when Kafka acknowledged every record; rejects if the request carrying them failed. */
  send(records: readonly OutRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ records, bytes: records.reduce((n, r) => n + sizeOf(r), 0), resolve, reject });
      this.dispatch();
    });
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

  private connected(): Promise<Producer> {
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
   * Starts a request when fewer than `maxRequests` are in flight. Two in flight let the next request be
   * encoded while the previous one waits for the broker; kafkajs still sends them one at a time per broker
   * connection (maxInFlightRequests 1), so per-partition order holds.
   */
  private dispatch(): void {
    while (this.inFlight < this.options.maxRequests && this.queue.length > 0) {
      const taken: Pending[] = [];
      let records = 0;
      let bytes = 0;
      while (this.queue.length > 0) {
        const next = this.queue[0]!;
        if (
          taken.length > 0 &&
          (records + next.records.length > this.options.maxRecords || bytes + next.bytes > this.options.maxBytes)
        )
          break;
        taken.push(this.queue.shift()!);
        records += next.records.length;
        bytes += next.bytes;
      }
      this.inFlight++;
      void this.request(taken).finally(() => {
        this.inFlight--;
        this.dispatch();
        if (this.inFlight === 0 && this.queue.length === 0) for (const r of this.idle.splice(0)) r();
      });
    }
  }

  private async request(taken: Pending[]): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    for (const p of taken) {
      for (const r of p.records) {
        const list = byTopic.get(r.topic);
        if (list) list.push(r.message);
        else byTopic.set(r.topic, [r.message]);
      }
    }
    const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    try {
      const producer = await this.connected();
      await producer.sendBatch({ topicMessages, acks: -1 });
    } catch (e) {
      // Fail everything still queued too: it would be written after records that were not.
      const failed = [...taken, ...this.queue];
      this.queue = [];
      const broken = this.producer;
      this.producer = null;
      await broken?.disconnect().catch(() => undefined);
      for (const p of failed) p.reject(e);
      return;
    }
    for (const p of taken) {
      this.onAcked(p.records);
      p.resolve();
    }
  }
}
