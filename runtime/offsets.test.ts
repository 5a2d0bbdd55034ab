import { CommitCoalescer, PartitionOffsets } from './offsets';

describe('PartitionOffsets', () => {
  const make = () => {
    const commits: string[] = [];
    const t = new PartitionOffsets(1, async (o) => {
      commits.push(o);
    });
    return { t, commits };
  };

  test.each([
    { name: 'in order', begin: ['0', '1', '2'], finish: ['0', '1', '2'], committable: '3' },
    { name: 'gap holds the prefix', begin: ['0', '1', '2'], finish: ['1', '2'], committable: null },
    { name: 'gap filled late', begin: ['0', '1', '2'], finish: ['2', '1', '0'], committable: '3' },
    { name: 'partial prefix', begin: ['5', '6', '9', '10'], finish: ['5', '9', '10'], committable: '6' },
    { name: 'offset gaps from compaction', begin: ['5', '9', '12'], finish: ['12', '5', '9'], committable: '13' },
    {
      name: 'beyond 2^53',
      begin: ['9007199254740993', '9007199254740994'],
      finish: ['9007199254740993'],
      committable: '9007199254740994',
    },
  ])('$name', ({ begin, finish, committable }) => {
    const { t } = make();
    for (const o of begin) t.begin(o);
    for (const o of finish) t.finish(o);
    expect(t.committable()).toBe(committable);
  });

  test('never commits the same or a lower offset twice', async () => {
    const { t, commits } = make();
    t.begin('0');
    t.begin('1');
    t.finish('0');
    await t.flush();
    await t.flush();
    t.finish('1');
    await t.flush();
    expect(commits).toEqual(['1', '2']);
    expect(t.lastCommitted).toBe('2');
    expect(t.uncommitted).toBe(0);
  });

  test('one commit in flight; finishes during it are committed by the next flush', async () => {
    const calls: string[] = [];
    let release!: () => void;
    let inFlight = 0;
    let maxInFlight = 0;
    const t = new PartitionOffsets(1, async (o) => {
      calls.push(o);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      if (calls.length === 1) await new Promise<void>((r) => (release = r));
      inFlight--;
    });
    for (const o of ['0', '1', '2']) t.begin(o);
    t.finish('0');
    const first = t.flush();
    t.finish('1');
    const second = t.flush();
    t.finish('2');
    const third = t.flush();
    release();
    await Promise.all([first, second, third]);
    expect(maxInFlight).toBe(1);
    expect(calls[0]).toBe('1');
    expect(calls[calls.length - 1]).toBe('3');
    expect(t.lastCommitted).toBe('3');
  });

  test('a failed commit rejects its caller and a later flush retries', async () => {
    let fail = true;
    const commits: string[] = [];
    const t = new PartitionOffsets(1, async (o) => {
      if (fail) throw new Error('broker down');
      commits.push(o);
    });
    t.begin('0');
    t.finish('0');
    await expect(t.flush()).rejects.toThrow('broker down');
    fail = false;
    await t.flush();
    expect(commits).toEqual(['1']);
  });

  test('counts what a crash would process again', async () => {
    const { t } = make();
    for (const o of ['0', '1', '2', '3']) t.begin(o);
    t.finish('0');
    t.finish('2');
    expect(t.uncommitted).toBe(4);
    expect(t.committableCount).toBe(1);
    await t.flush();
    expect(t.uncommitted).toBe(3);
    expect(t.committableCount).toBe(0);
  });

  test('stays correct across compaction', async () => {
    const { t, commits } = make();
    for (let i = 0; i < 5000; i++) {
      t.begin(String(i));
      t.finish(String(i));
      if (i % 100 === 99) await t.flush();
    }
    expect(commits[commits.length - 1]).toBe('5000');
    expect(t.uncommitted).toBe(0);
  });

  test('rejects offsets started out of order', () => {
    const { t } = make();
    t.begin('3');
    expect(() => t.begin('2')).toThrow('out of order');
  });
});

describe('CommitCoalescer', () => {
  type Sent = { topic: string; partitions: { partition: number; offset: string }[] }[];
  const recorder = () => {
    const requests: Sent[] = [];
    let release: () => void = () => {};
    const send = (offsets: { topics: Sent }) => {
      requests.push(offsets.topics);
      return new Promise<void>((r) => {
        release = r;
      });
    };
    return { requests, send, release: () => release() };
  };
  const turn = () => new Promise((r) => setImmediate(r));
  const live = { valid: () => true, stale: () => new Error('stale') };

  test('commits arriving in one turn share one request; a partition is sent once, at its highest offset', async () => {
    const c = new CommitCoalescer();
    const r = recorder();
    const done = [
      c.commit('t', 0, '5', { ...live, send: r.send }),
      c.commit('t', 1, '9', { ...live, send: r.send }),
      c.commit('t', 0, '7', { ...live, send: r.send }),
    ];
    await turn();
    expect(r.requests).toEqual([
      [
        {
          topic: 't',
          partitions: [
            { partition: 0, offset: '7' },
            { partition: 1, offset: '9' },
          ],
        },
      ],
    ]);
    r.release();
    await Promise.all(done);
  });

  test('one request in flight: commits made meanwhile wait and go in the next one', async () => {
    const c = new CommitCoalescer();
    const r = recorder();
    const first = c.commit('t', 0, '1', { ...live, send: r.send });
    await turn();
    const second = c.commit('t', 0, '2', { ...live, send: r.send });
    await turn();
    expect(r.requests).toHaveLength(1);
    r.release();
    await first;
    await turn();
    expect(r.requests.map((q) => q[0]!.partitions[0]!.offset)).toEqual(['1', '2']);
    r.release();
    await second;
  });

  test('a commit for a partition no longer owned is rejected and never sent', async () => {
    const c = new CommitCoalescer();
    const r = recorder();
    const lost = c.commit('t', 3, '4', {
      valid: () => false,
      stale: () => new Error('partition 3 revoked'),
      send: r.send,
    });
    await expect(lost).rejects.toThrow('partition 3 revoked');
    expect(r.requests).toEqual([]);
  });

  test('a failed request rejects every commit it carried, so none counts as committed', async () => {
    const c = new CommitCoalescer();
    const fail = () => Promise.reject(new Error('coordinator moved'));
    const both = [c.commit('t', 0, '3', { ...live, send: fail }), c.commit('t', 1, '3', { ...live, send: fail })];
    for (const p of both) await expect(p).rejects.toThrow('coordinator moved');
  });
});
