/**
 * The @platformatic/kafka consumer behind the seam's KafkaConsumer. The library hands out one stream of single
 * messages for all partitions, heartbeats in the background and has no revoke callback; the runtime wants
 * per-partition batches, per-partition backpressure and to know when its partitions' work went stale. So:
 * - Batches: messages go into a queue per partition; a partition's handler gets what is queued (up to
 *   MAX_BATCH) and the next batch of that partition starts only when its handler returned, so each partition
 *   stays in order; at most `partitionsConsumedConcurrently` handlers run at once.
 * - Backpressure: pause and resume act on the whole stream, so the stream is paused while any partition's queue
 *   is over HIGH_MARK and resumed once every queue is under half of it. A slow partition holds the others back
 *   only that far; fetching for it stops when its handler does not take more (the runtime's window).
 * - Generations: every message carries the generation it was fetched in. Messages of an older generation are
 *   dropped, and a join starts a new epoch: queues are emptied, running batches turn stale (isStale), the
 *   runtime's commits for them are dropped, and the stream is opened again from the committed offsets.
 * - A batch whose handler did not resolve all of it (stopping, a rebalance, a rejected commit) or failed:
 *   its partition takes nothing more in this epoch, and the stream is opened again from the committed offsets
 *   in a new epoch (with a `join` to the runtime, whose trackers restart there), unless a join comes first.
 *   The stream also reopens when it ends with an error or goes back on a partition.
 * - Start: committed offsets, with earliest (`fromBeginning`) or latest as the fallback, never "earliest"
 *   mode (it ignores commits); `seek` reopens the stream in manual mode at the offsets asked.
 * - heartbeat() rejects with a rebalance error once the group started rebalancing during the batch, so the
 *   runtime drains and commits as it does on kafkajs (pitfall 6); the library keeps heartbeating by itself.
 * - Commits: a join empties every commit not yet answered, because the library resends a commit its
 *   generation lost under the new one, whether the partition is still this member's or not.
 */
import {
  Consumer,
  FetchIsolationLevels,
  type Message,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
} from '@platformatic/kafka';
import { KafkaClientError } from '../errors';
import type { BaseOptions } from './platformatic';
import type { LibraryConsumer, LibraryStream } from './platformatic-library';
import { guard, toClientError, toConsumed } from './platformatic-codec';
import { PendingCommits } from './platformatic-commits';
import type {
  BatchContext,
  ConsumedMessage,
  ConsumerEvents,
  ConsumerOptions,
  KafkaConsumer,
  RunOptions,
  TopicPartitionOffsets,
} from './types';

/** Records per batch at most: about what one fetch of 1 MiB per partition brings in 1 KB records. */
export const MAX_BATCH = 1000;
/** Records queued for one partition before the whole stream pauses. */
export const HIGH_MARK = 2 * MAX_BATCH;

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  queue: ConsumedMessage[];
  /** Last offset queued in this epoch: a lower one later means the stream went back. */
  last: bigint;
  leaderEpoch: number;
  running: boolean;
  /** A start is queued for the end of this turn (so one fetch's records make one batch). */
  scheduled: boolean;
  /** Takes nothing more until the next epoch (a batch of it was left unresolved). */
  blocked: boolean;
  /**
   * The highest offset resolved for the running batch, through any batch context of this partition in this
   * epoch: resolving is the partition's, as on kafkajs, and the runtime commits (and resolves) through the
   * context of the batch that began its offset tracker, an earlier one.
   */
  resolved: bigint | null;
}

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

const seeksKey = (seeks: ReadonlyMap<string, { offset: bigint }>): string =>
  [...seeks].map(([k, s]) => `${k}@${s.offset}`).join(',');

const rebalancing = () =>
  new KafkaClientError('the group is rebalancing', {
    type: 'REBALANCE_IN_PROGRESS',
    retriable: true,
    connection: false,
  });

export function platformaticConsumer(base: BaseOptions, o: ConsumerOptions): PlatformaticConsumer {
  const consumer = new Consumer({
    ...base,
    groupId: o.groupId,
    autocommit: false,
    isolationLevel: FetchIsolationLevels.READ_COMMITTED,
    ...(o.sessionTimeout !== undefined ? { sessionTimeout: o.sessionTimeout } : {}),
    ...(o.rebalanceTimeout !== undefined ? { rebalanceTimeout: o.rebalanceTimeout } : {}),
    ...(o.heartbeatInterval !== undefined ? { heartbeatInterval: o.heartbeatInterval } : {}),
    ...(o.maxBytesPerPartition !== undefined ? { maxBytesPerPartition: o.maxBytesPerPartition } : {}),
    ...(o.maxBytes !== undefined ? { maxBytes: o.maxBytes } : {}),
    ...(o.maxWaitTimeInMs !== undefined ? { maxWaitTime: o.maxWaitTimeInMs } : {}),
  });
  return new PlatformaticConsumer(consumer as unknown as LibraryConsumer);
}

export class PlatformaticConsumer implements KafkaConsumer {
  private stream: LibraryStream | null = null;
  private opening: Promise<void> | null = null;
  private reopenAfterOpen = false;
  /** The current stream delivered a record. */
  private delivered = false;
  /** The seeks the stream being opened starts at. */
  private openingSeeks = '';
  private topics: string[] = [];
  private fromBeginning = true;
  private handler: ((ctx: BatchContext) => Promise<void>) | null = null;
  private autoResolve = true;
  private concurrency = 1;
  private readonly listeners: { [E in keyof ConsumerEvents]: ((p: ConsumerEvents[E]) => void)[] } = {
    join: [],
    crash: [],
    batchEnd: [],
  };
  private readonly parts = new Map<string, PartitionState>();
  private readonly paused = new Set<string>();
  private readonly seeks = new Map<string, { topic: string; partition: number; offset: bigint }>();
  private assignment: { topic: string; partitions: number[] }[] = [];
  private epoch = 0;
  private rebalances = 0;
  private stopping = false;
  private streamPaused = false;
  private active = 0;
  private readonly waiting: PartitionState[] = [];
  private idle: (() => void)[] = [];
  /** Cancels the restart that is due, if any. */
  private restartDue: (() => void) | null = null;
  private failures = 0;
  /** Commits not yet answered: a join empties them (platformatic-commits.ts). */
  private readonly commits: PendingCommits;

  constructor(private readonly c: LibraryConsumer) {
    this.commits = new PendingCommits((offsets) => guard(c.commit({ offsets })), rebalancing);
    c.on('consumer:group:join', ({ assignments }) => {
      this.commits.withdrawAll();
      this.joined(assignments);
    });
    c.on('consumer:group:rebalance', () => {
      this.rebalances++;
    });
  }

  async connect(): Promise<void> {
    // The library connects and joins on consume(); run() does that.
  }

  async subscribe(opts: { topics: string[]; fromBeginning: boolean }): Promise<void> {
    this.topics = [...opts.topics];
    this.fromBeginning = opts.fromBeginning;
  }

  async run(o: RunOptions): Promise<void> {
    const { eachBatch, eachMessage } = o;
    this.concurrency = Math.max(1, o.partitionsConsumedConcurrently ?? 1);
    if (eachBatch) {
      this.handler = eachBatch;
      this.autoResolve = o.autoResolve ?? true;
    } else if (eachMessage) {
      // One message at a time per partition, each resolved once its handler returned.
      this.autoResolve = false;
      this.handler = async (ctx) => {
        for (const message of ctx.batch.messages) {
          if (!ctx.isRunning() || ctx.isStale()) return;
          await eachMessage({ topic: ctx.batch.topic, partition: ctx.batch.partition, message });
          ctx.resolveOffset(message.offset);
        }
      };
    }
    await this.open();
  }

  seek(at: { topic: string; partition: number; offset: string }): void {
    this.seeks.set(key(at.topic, at.partition), {
      topic: at.topic,
      partition: at.partition,
      offset: BigInt(at.offset),
    });
  }

  pause(partitions: { topic: string; partitions: number[] }[]): void {
    for (const t of partitions) {
      for (const p of t.partitions) {
        this.paused.add(key(t.topic, p));
        const state = this.parts.get(key(t.topic, p));
        if (state) state.queue = [];
      }
    }
  }

  on<E extends keyof ConsumerEvents>(event: E, listener: (payload: ConsumerEvents[E]) => void): void {
    (this.listeners[event] as ((p: ConsumerEvents[E]) => void)[]).push(listener);
  }

  async disconnect(): Promise<void> {
    this.stopping = true;
    this.restartDue?.();
    // As kafkajs: the running handlers finish first (the worker's last commits go through them).
    while (this.active > 0) await new Promise<void>((r) => this.idle.push(r));
    await this.opening?.catch(() => undefined);
    const stream = this.stream;
    this.stream = null;
    await stream?.close().catch(() => undefined);
    await guard(this.c.close(true));
  }

  private emit<E extends keyof ConsumerEvents>(event: E, payload: ConsumerEvents[E]): void {
    for (const l of this.listeners[event]) l(payload);
  }

  /** Opens the stream: at the sought offsets if any, else where the group committed (fallback per subscribe). */
  private open(): Promise<void> {
    if (this.opening) {
      this.reopenAfterOpen = true;
      return this.opening;
    }
    this.delivered = false;
    this.openingSeeks = seeksKey(this.seeks);
    this.opening = (async () => {
      const seeks = [...this.seeks.values()];
      const stream = await guard(
        this.c.consume({
          topics: this.topics,
          autocommit: false,
          isolationLevel: FetchIsolationLevels.READ_COMMITTED,
          mode: seeks.length > 0 ? MessagesStreamModes.MANUAL : MessagesStreamModes.COMMITTED,
          fallbackMode: this.fromBeginning ? MessagesStreamFallbackModes.EARLIEST : MessagesStreamFallbackModes.LATEST,
          ...(seeks.length > 0 ? { offsets: seeks } : {}),
        }),
      );
      if (this.stopping) {
        await stream.close().catch(() => undefined);
        return;
      }
      this.stream = stream;
      this.streamPaused = false;
      this.failures = 0;
      // A stream being replaced may still deliver what it had buffered: only the current one counts.
      stream.on('data', (m) => {
        if (this.stream === stream) this.received(m);
      });
      stream.on('fetch', () => {
        if (this.stream === stream) this.markersRead(stream);
      });
      stream.on('error', (e) => {
        if (this.stream !== stream) return;
        this.emit('crash', { error: toClientError(e) as Error, restart: true });
        this.restart();
      });
      stream.on('close', () => {
        if (this.stream === stream) this.restart();
      });
    })().finally(() => {
      this.opening = null;
    });
    return this.opening.then(() => {
      if (this.reopenAfterOpen) {
        this.reopenAfterOpen = false;
        this.reopen();
      }
    });
  }

  /**
   * Opens another stream in the same epoch (new start offsets, nothing of this epoch delivered), then closes the
   * old one: the library counts a topic's streams and rejoins the group when one is consumed anew, so opening
   * first keeps a reopening from rebalancing the whole group.
   */
  private reopen(): void {
    const old = this.stream;
    this.stream = null;
    for (const p of this.parts.values()) {
      p.queue = [];
      p.last = -1n;
    }
    void (async () => {
      try {
        if (!this.stopping) await this.open();
      } finally {
        await old?.close().catch(() => undefined);
      }
    })().catch((e: unknown) => this.failed(e));
  }

  /** A new epoch from the committed offsets: after an unresolved or failed batch, or a broken stream. */
  private restart(): void {
    if (this.stopping || this.restartDue) return;
    const now = () => {
      this.restartDue = null;
      if (this.stopping) return;
      this.seeks.clear();
      this.newEpoch(this.assignment);
      this.reopen();
    };
    // At once after a left batch (on the next turn, after what this one still does); with backoff after failures.
    if (this.failures === 0) {
      const t = setImmediate(now);
      this.restartDue = () => clearImmediate(t);
    } else {
      const t = setTimeout(now, Math.min(10_000, 250 * 2 ** this.failures));
      t.unref();
      this.restartDue = () => clearTimeout(t);
    }
  }

  private failed(e: unknown): void {
    this.failures++;
    this.emit('crash', { error: toClientError(e) as Error, restart: true });
    this.restart();
  }

  /**
   * The library joined the group (again): a new epoch with its assignment, and a new stream once records were
   * delivered (or seeks asked in the join): the library's own stream keeps its positions for partitions the
   * group never committed, so what was dropped from the queues here would never come again.
   */
  private joined(assignments: { topic: string; partitions: number[] }[]): void {
    this.seeks.clear();
    this.newEpoch(assignments);
    if (this.opening) {
      // The join of the stream being opened (its first consume): it starts fresh, unless other seeks came.
      if (seeksKey(this.seeks) !== this.openingSeeks) this.reopenAfterOpen = true;
    } else if (this.stream && (this.seeks.size > 0 || this.delivered)) {
      this.reopen();
    }
  }

  private newEpoch(assignments: { topic: string; partitions: number[] }[]): void {
    this.epoch++;
    this.assignment = assignments.map((a) => ({ topic: a.topic, partitions: [...a.partitions] }));
    this.paused.clear();
    for (const p of this.parts.values()) {
      p.queue = [];
      p.last = -1n;
      p.blocked = false;
    }
    this.waiting.length = 0;
    const assignment: Record<string, number[]> = {};
    for (const a of this.assignment) assignment[a.topic] = [...a.partitions];
    this.emit('join', { assignment });
    this.resumeIfDrained();
  }

  private assigned(topic: string, partition: number): boolean {
    return this.assignment.some((a) => a.topic === topic && a.partitions.includes(partition));
  }

  private state(topic: string, partition: number): PartitionState {
    const k = key(topic, partition);
    let s = this.parts.get(k);
    if (!s) {
      s = {
        topic,
        partition,
        queue: [],
        last: -1n,
        leaderEpoch: -1,
        running: false,
        scheduled: false,
        blocked: false,
        resolved: null,
      };
      this.parts.set(k, s);
    }
    return s;
  }

  private received(m: Message): void {
    this.delivered = true;
    // Fetched before the latest join: the stream fetches again from the committed offsets.
    const generation = (m.metadata?.consumer as { generationId?: number } | undefined)?.generationId;
    if (generation !== undefined && generation !== this.c.generationId) return;
    if (this.paused.has(key(m.topic, m.partition))) return;
    const s = this.state(m.topic, m.partition);
    if (s.blocked) return;
    if (m.offset <= s.last) {
      // The stream went back on this partition (a fetch answered across a join): start over from the commits.
      s.blocked = true;
      this.restart();
      return;
    }
    s.last = m.offset;
    s.leaderEpoch = m.leaderEpoch;
    s.queue.push(toConsumed(m));
    if (s.queue.length >= HIGH_MARK && !this.streamPaused && this.stream) {
      this.streamPaused = true;
      this.stream.pause();
    }
    this.schedule(s);
  }

  /**
   * The library drops transaction markers without a message, so a partition that ends in markers (a topic
   * written transactionally) would never show as read to its end: when the stream's position passed what it
   * delivered, and nothing of the partition waits or runs, that position is reported as handled (batchEnd), as
   * kafkajs reports a batch of only markers.
   */
  private markersRead(stream: LibraryStream): void {
    // Records still buffered in the stream are behind its position: wait until they are delivered.
    if (this.streamPaused || stream.readableLength > 0) return;
    for (const a of this.assignment) {
      for (const partition of a.partitions) {
        const next = stream.offsetsToFetch.get(`${a.topic}:${partition}`);
        const s = this.parts.get(key(a.topic, partition)) ?? this.state(a.topic, partition);
        if (next === undefined || next <= s.last + 1n || this.paused.has(key(a.topic, partition))) continue;
        if (s.blocked || s.running || s.scheduled || s.queue.length > 0) continue;
        s.last = next - 1n;
        this.emit('batchEnd', { topic: a.topic, partition, lastOffset: String(s.last) });
      }
    }
  }

  private resumeIfDrained(): void {
    if (!this.streamPaused || !this.stream) return;
    for (const s of this.parts.values()) if (s.queue.length >= HIGH_MARK / 2) return;
    this.streamPaused = false;
    this.stream.resume();
  }

  /** Starts the partition's next batch at the end of the turn: the library pushes a fetch's records in one go. */
  private schedule(s: PartitionState): void {
    if (s.scheduled || s.running || s.queue.length === 0 || !this.handler || this.stopping) return;
    s.scheduled = true;
    queueMicrotask(() => {
      s.scheduled = false;
      if (s.running || s.queue.length === 0 || this.stopping) return;
      if (this.active >= this.concurrency) {
        if (!this.waiting.includes(s)) this.waiting.push(s);
        return;
      }
      void this.runBatch(s);
    });
  }

  private async runBatch(s: PartitionState): Promise<void> {
    s.running = true;
    this.active++;
    const messages = s.queue.splice(0, MAX_BATCH);
    this.resumeIfDrained();
    const epoch = this.epoch;
    const rebalances = this.rebalances;
    const last = BigInt(messages[messages.length - 1]!.offset);
    s.resolved = null;
    let error: unknown = null;
    const ctx: BatchContext = {
      batch: { topic: s.topic, partition: s.partition, highWatermark: String(s.last + 1n), messages },
      heartbeat: async () => {
        if (this.rebalances !== rebalances || this.epoch !== epoch) throw rebalancing();
      },
      isRunning: () => !this.stopping,
      isStale: () => this.epoch !== epoch || !this.assigned(s.topic, s.partition),
      commit: (offsets) => this.commit(offsets.topics),
      resolveOffset: (offset) => {
        if (this.epoch !== epoch) return;
        const o = BigInt(offset);
        if (s.resolved === null || o > s.resolved) s.resolved = o;
      },
    };
    try {
      await this.handler!(ctx);
      if (this.autoResolve) s.resolved = last;
    } catch (e) {
      error = e;
    } finally {
      this.active--;
      s.running = false;
    }
    const through = s.resolved;
    this.emit('batchEnd', {
      topic: s.topic,
      partition: s.partition,
      lastOffset: through === null ? null : String(through),
    });
    if (epoch === this.epoch && (error !== null || through === null || through < last)) {
      // Part of the batch is left: nothing more of this partition in this epoch, which starts over from the
      // commits (kafkajs fetches the unresolved records again).
      s.blocked = true;
      s.queue = [];
      const rebalance = (error as { type?: string } | null)?.type === 'REBALANCE_IN_PROGRESS';
      if (error !== null && !rebalance) this.emit('crash', { error: error as Error, restart: true });
      if (!this.stopping) this.restart();
    }
    if (this.active === 0) for (const r of this.idle.splice(0)) r();
    this.schedule(s);
    while (this.active < this.concurrency && this.waiting.length > 0) this.schedule(this.waiting.shift()!);
  }

  private commit(topics: readonly TopicPartitionOffsets[]): Promise<void> {
    return this.commits.commit(topics, (t, p) => this.parts.get(key(t, p))?.leaderEpoch ?? -1);
  }
}
