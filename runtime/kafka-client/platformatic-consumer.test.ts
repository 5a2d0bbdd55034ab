/**
 * The @platformatic/kafka consumer adapter against a scripted library (its consumer and its stream): how the
 * stream of single messages becomes per-partition batches, backpressure on a whole-stream pause, generations
 * instead of a revoke callback, reopening after a rejected commit, and where consuming starts.
 */
import { EventEmitter } from 'node:events';
import type { Message } from '@platformatic/kafka';
import type { BatchContext } from './types';
import { HIGH_MARK, MAX_BATCH, PlatformaticConsumer } from './platformatic-consumer';
import type { LibraryConsumer, LibraryStream } from './platformatic-library';

class FakeStream extends EventEmitter implements LibraryStream {
  readonly offsetsToFetch = new Map<string, bigint>();
  readableLength = 0;
  paused = false;
  closed = false;
  pause() {
    this.paused = true;
  }
  resume() {
    this.paused = false;
  }
  async close() {
    this.closed = true;
    this.emit('close');
  }
}

class FakeLibrary extends EventEmitter implements LibraryConsumer {
  generationId = 1;
  assignments = [{ topic: 't', partitions: [0, 1] }];
  readonly streams: { options: Record<string, unknown>; stream: FakeStream }[] = [];
  readonly commits: { topic: string; partition: number; offset: bigint; leaderEpoch: number }[][] = [];
  commitError: Error | null = null;
  async consume(options: Record<string, unknown>) {
    const stream = new FakeStream();
    this.streams.push({ options, stream });
    return stream;
  }
  /** When set, each commit is rejected by a rejoin: it waits for this, then is sent again, as the library does. */
  rejoinBeforeRetry: Promise<void> | null = null;
  async commit(o: { offsets: { topic: string; partition: number; offset: bigint; leaderEpoch: number }[] }) {
    this.commits.push([...o.offsets]);
    if (this.rejoinBeforeRetry) {
      await this.rejoinBeforeRetry;
      // The library reads the same options again for its retry under the new generation.
      this.commits.push([...o.offsets]);
      return;
    }
    if (this.commitError) throw this.commitError;
  }
  async close() {}
  join(partitions: number[], generation = this.generationId + 1) {
    this.generationId = generation;
    this.assignments = [{ topic: 't', partitions }];
    this.emit('consumer:group:join', { assignments: this.assignments });
  }
  get stream(): FakeStream {
    return this.streams[this.streams.length - 1]!.stream;
  }
  /** Pushes records of one partition as the library does: one Message each, in one turn. */
  push(partition: number, from: number, count: number, generationId = this.generationId, on = this.stream) {
    for (let i = 0; i < count; i++) {
      const offset = BigInt(from + i);
      on.emit('data', {
        topic: 't',
        partition,
        offset,
        leaderEpoch: 3,
        key: Buffer.from(`k${from + i}`),
        value: Buffer.from(`v${from + i}`),
        headers: new Map([[Buffer.from('h'), Buffer.from('x')]]),
        timestamp: 1700000000000n + offset,
        metadata: { consumer: { generationId } },
      } as unknown as Message);
    }
  }
}

const turn = () => new Promise((r) => setImmediate(r));

/** A started adapter; `handle` is each batch's handler (by default it records the batch and returns). */
async function started(
  handle?: (ctx: BatchContext) => Promise<void>,
  opts: { autoResolve?: boolean; concurrency?: number; fromBeginning?: boolean } = {},
) {
  const lib = new FakeLibrary();
  const consumer = new PlatformaticConsumer(lib);
  const batches: BatchContext[] = [];
  const joins: Record<string, number[] | undefined>[] = [];
  const crashes: Error[] = [];
  consumer.on('join', ({ assignment }) => joins.push({ ...assignment }));
  consumer.on('crash', ({ error }) => crashes.push(error));
  await consumer.subscribe({ topics: ['t'], fromBeginning: opts.fromBeginning ?? true });
  lib.join([0, 1], 1);
  await consumer.run({
    partitionsConsumedConcurrently: opts.concurrency ?? 2,
    ...(opts.autoResolve !== undefined ? { autoResolve: opts.autoResolve } : {}),
    eachBatch: async (ctx) => {
      batches.push(ctx);
      await handle?.(ctx);
    },
  });
  return { lib, consumer, batches, joins, crashes };
}

describe('batches from a stream of single messages', () => {
  test("one fetch's records of a partition make one batch, with the seam's offsets, keys and headers", async () => {
    const { lib, batches } = await started();
    lib.push(0, 10, 5);
    lib.push(1, 0, 3);
    await turn();
    expect(batches.map((b) => [b.batch.partition, b.batch.messages.map((m) => m.offset)])).toEqual([
      [0, ['10', '11', '12', '13', '14']],
      [1, ['0', '1', '2']],
    ]);
    const first = batches[0]!.batch.messages[0]!;
    expect(first).toEqual({
      offset: '10',
      key: Buffer.from('k10'),
      value: Buffer.from('v10'),
      headers: { h: Buffer.from('x') },
      timestamp: '1700000000010',
    });
  });

  test("a partition's next batch starts only once its handler returned, and takes what queued meanwhile", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const { lib, batches } = await started(async (ctx) => {
      if (ctx.batch.messages[0]!.offset === '0') await held;
    });
    lib.push(0, 0, 2);
    await turn();
    lib.push(0, 2, 3);
    await turn();
    expect(batches).toHaveLength(1);
    release();
    await turn();
    expect(batches.map((b) => b.batch.messages.map((m) => m.offset))).toEqual([
      ['0', '1'],
      ['2', '3', '4'],
    ]);
  });

  test(`a batch holds at most ${MAX_BATCH} records; the rest follow in order`, async () => {
    const { lib, batches } = await started();
    lib.push(0, 0, MAX_BATCH + 5);
    for (let i = 0; i < 5; i++) await turn();
    expect(batches.map((b) => b.batch.messages.length)).toEqual([MAX_BATCH, 5]);
    expect(batches[1]!.batch.messages[0]!.offset).toBe(String(MAX_BATCH));
  });

  test('no more handlers run at once than partitionsConsumedConcurrently', async () => {
    let running = 0;
    let most = 0;
    const { lib, batches } = await started(
      async () => {
        most = Math.max(most, ++running);
        await turn();
        running--;
      },
      { concurrency: 1 },
    );
    lib.push(0, 0, 2);
    lib.push(1, 0, 2);
    for (let i = 0; i < 6; i++) await turn();
    expect(batches).toHaveLength(2);
    expect(most).toBe(1);
  });
});

test('per-partition backpressure: the whole stream pauses while one queue is full, and resumes once drained', async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const { lib, batches } = await started(async (ctx) => {
    if (ctx.batch.messages[0]!.offset === '0') await held;
  });
  lib.push(0, 0, 1);
  await turn();
  lib.push(0, 1, HIGH_MARK);
  expect(lib.stream.paused).toBe(true);
  release();
  for (let i = 0; i < 6; i++) await turn();
  expect(lib.stream.paused).toBe(false);
  expect(batches.reduce((n, b) => n + b.batch.messages.length, 0)).toBe(HIGH_MARK + 1);
});

describe('generations instead of a revoke callback', () => {
  test('records fetched before the latest join are never handed to the runtime', async () => {
    const { lib, batches } = await started();
    lib.join([0, 1], 2);
    lib.push(0, 0, 3, 1);
    lib.push(0, 0, 2, 2);
    await turn();
    expect(batches.map((b) => b.batch.messages.map((m) => m.offset))).toEqual([['0', '1']]);
  });

  test('a join empties the queues, tells the runtime, and makes running batches of revoked partitions stale', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const { lib, batches, joins } = await started(() => held);
    lib.push(1, 0, 2);
    await turn();
    const running = batches[0]!;
    expect(running.isStale()).toBe(false);
    lib.push(1, 2, 2);
    lib.join([0]);
    expect(joins).toEqual([{ t: [0, 1] }, { t: [0] }]);
    expect(running.isStale()).toBe(true);
    release();
    for (let i = 0; i < 3; i++) await turn();
    // The two records queued behind the running batch belonged to the old generation: dropped.
    expect(batches).toHaveLength(1);
  });

  test('a join after records came reopens the stream from the commits, so records dropped from the queues come again', async () => {
    const { lib } = await started(() => new Promise(() => undefined));
    lib.push(0, 0, 1);
    lib.push(0, 1, 1);
    await turn();
    lib.join([0, 1]);
    await turn();
    expect(lib.streams).toHaveLength(2);
    expect(lib.streams[0]!.stream.closed).toBe(true);
    expect(lib.streams[1]!.options).toMatchObject({ mode: 'committed' });
  });

  test('heartbeat() rejects with a rebalance error once the group started rebalancing', async () => {
    const beats: unknown[] = [];
    const { lib } = await started(async (ctx) => {
      beats.push(await ctx.heartbeat().then(() => 'ok'));
      lib.emit('consumer:group:rebalance');
      beats.push(await ctx.heartbeat().catch((e: { type?: string }) => e.type));
    });
    lib.push(0, 0, 1);
    await turn();
    expect(beats).toEqual(['ok', 'REBALANCE_IN_PROGRESS']);
  });
});

describe('reopening the stream', () => {
  test('a commit rejected during a rejoin: the partition takes nothing more, and the stream reopens from the commits', async () => {
    const { lib, batches, joins, crashes } = await started(async (ctx) => {
      await ctx.commit({ topics: [{ topic: 't', partitions: [{ partition: 0, offset: '1' }] }] });
    });
    // As the library rejects it: a ProtocolError inside its aggregate.
    lib.commitError = Object.assign(new Error('commit failed'), {
      code: 'PLT_KFK_MULTIPLE',
      errors: [
        Object.assign(new Error('rebalance'), {
          code: 'PLT_KFK_PROTOCOL',
          apiId: 'REBALANCE_IN_PROGRESS',
          canRetry: true,
        }),
      ],
    });
    const first = lib.stream;
    lib.push(0, 0, 2);
    await turn();
    expect(batches).toHaveLength(1);
    expect(lib.commits[0]).toEqual([{ topic: 't', partition: 0, offset: 1n, leaderEpoch: 3 }]);
    lib.push(0, 2, 1, lib.generationId, first);
    for (let i = 0; i < 4; i++) await turn();
    expect(lib.streams).toHaveLength(2);
    expect(lib.streams[0]!.stream.closed).toBe(true);
    expect(lib.streams[1]!.options).toMatchObject({ mode: 'committed' });
    expect(joins).toHaveLength(2);
    // A rebalance is no crash; the record after the rejected batch was not handed over in the old epoch.
    expect(crashes).toEqual([]);
    expect(batches.map((b) => b.batch.messages.map((m) => m.offset))).toEqual([['0', '1']]);
  });

  test('a commit the library sends again after a rejoin carries no offsets, and is reported failed', async () => {
    let rejoin!: () => void;
    const outcomes: string[] = [];
    const { lib } = await started(async (ctx) => {
      await ctx.commit({ topics: [{ topic: 't', partitions: [{ partition: 0, offset: '2' }] }] }).then(
        () => outcomes.push('committed'),
        (e: { type?: string }) => outcomes.push(`rejected ${e.type}`),
      );
    });
    lib.rejoinBeforeRetry = new Promise<void>((r) => {
      rejoin = r;
    });
    lib.push(0, 0, 2);
    await turn();
    // Partition 0 went to another member in the new generation: resending 2 could move its commit back.
    lib.join([1]);
    rejoin();
    for (let i = 0; i < 4; i++) await turn();
    expect(lib.commits).toEqual([[{ topic: 't', partition: 0, offset: 2n, leaderEpoch: 3 }], []]);
    expect(outcomes).toEqual(['rejected REBALANCE_IN_PROGRESS']);
  });

  test('a batch left partly unresolved is fetched again from the commits, as kafkajs does', async () => {
    const { lib, batches } = await started(async (ctx) => ctx.resolveOffset('0'), { autoResolve: false });
    lib.push(0, 0, 3);
    for (let i = 0; i < 4; i++) await turn();
    expect(batches).toHaveLength(1);
    expect(lib.streams).toHaveLength(2);
    lib.push(0, 1, 2);
    await turn();
    expect(batches[1]!.batch.messages.map((m) => m.offset)).toEqual(['1', '2']);
  });

  test("resolving is the partition's: an earlier batch's context resolves the running batch (no reopening)", async () => {
    // The runtime commits, and resolves, through the context of the batch that began its offset tracker.
    const seen: BatchContext[] = [];
    const { lib, batches, joins } = await started(
      async (ctx) => {
        seen.push(ctx);
        const last = ctx.batch.messages[ctx.batch.messages.length - 1]!.offset;
        seen[0]!.resolveOffset(last);
      },
      { autoResolve: false },
    );
    lib.push(0, 0, 3);
    await turn();
    lib.push(0, 3, 2);
    for (let i = 0; i < 4; i++) await turn();
    expect(batches.map((b) => b.batch.messages.map((m) => m.offset))).toEqual([
      ['0', '1', '2'],
      ['3', '4'],
    ]);
    expect(lib.streams).toHaveLength(1);
    expect(joins).toHaveLength(1);
  });

  test("an earlier epoch's batch context resolves nothing of the next epoch", async () => {
    const { lib, batches } = await started(
      async (ctx) => {
        const last = ctx.batch.messages[ctx.batch.messages.length - 1]!.offset;
        // The first batch resolves itself; the next epoch's batch only through the first one's context.
        (batches.length === 1 ? ctx : batches[0]!).resolveOffset(last);
      },
      { autoResolve: false },
    );
    lib.push(0, 0, 3);
    for (let i = 0; i < 4; i++) await turn();
    expect(lib.streams).toHaveLength(1);
    lib.join([0, 1]);
    for (let i = 0; i < 4; i++) await turn();
    const streams = lib.streams.length;
    lib.push(0, 3, 2);
    for (let i = 0; i < 4; i++) await turn();
    expect(batches).toHaveLength(2);
    // Left unresolved in its own epoch: the stream reopens from the commits.
    expect(lib.streams.length).toBe(streams + 1);
  });

  test('a failed batch is a crash the consumer recovers from (restart), and the stream reopens', async () => {
    const { lib, crashes } = await started(async () => {
      throw new Error('dead letter topic unwritable');
    });
    lib.push(0, 0, 1);
    for (let i = 0; i < 4; i++) await turn();
    expect(crashes.map((e) => e.message)).toEqual(['dead letter topic unwritable']);
    expect(lib.streams).toHaveLength(2);
  });
});

test('a partition that ends in transaction markers is reported read to its end (batchEnd), once nothing waits', async () => {
  const { lib, consumer } = await started();
  const ends: (string | null)[] = [];
  consumer.on('batchEnd', ({ partition, lastOffset }) => partition === 1 && ends.push(lastOffset));
  lib.push(1, 0, 2);
  await turn();
  // Records 0-1, then a commit marker at 2: the stream's position is 3, no record 2 ever comes.
  lib.stream.offsetsToFetch.set('t:1', 3n);
  lib.stream.emit('fetch');
  expect(ends).toEqual(['1', '2']);
  // Nothing new: no second report.
  lib.stream.emit('fetch');
  expect(ends).toEqual(['1', '2']);
});

describe('where consuming starts', () => {
  test.each([
    { fromBeginning: true, fallbackMode: 'earliest' },
    { fromBeginning: false, fallbackMode: 'latest' },
  ])('committed offsets, with $fallbackMode as the fallback (fromBeginning $fromBeginning)', async (c) => {
    const { lib } = await started(undefined, { fromBeginning: c.fromBeginning });
    expect(lib.streams[0]!.options).toMatchObject({
      mode: 'committed',
      fallbackMode: c.fallbackMode,
      autocommit: false,
      isolationLevel: 1,
    });
  });

  test('seeks made in the join listener reopen the stream at those offsets (manual mode)', async () => {
    const { lib, consumer } = await started();
    consumer.on('join', () => consumer.seek({ topic: 't', partition: 1, offset: '42' }));
    lib.join([0, 1]);
    await turn();
    expect(lib.streams).toHaveLength(2);
    expect(lib.streams[1]!.options).toMatchObject({
      mode: 'manual',
      offsets: [{ topic: 't', partition: 1, offset: 42n }],
    });
  });
});

test('disconnect waits for the running handlers, then closes the stream and leaves', async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const { lib, consumer } = await started(() => held);
  lib.push(0, 0, 1);
  await turn();
  let done = false;
  const leaving = consumer.disconnect().then(() => (done = true));
  await turn();
  expect(done).toBe(false);
  release();
  await leaving;
  expect(lib.stream.closed).toBe(true);
});
