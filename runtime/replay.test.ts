import {
  entryReread,
  ledgerEntry,
  parseReplayFrom,
  planLines,
  planReplay,
  readLedgerEntry,
  refusal,
  totalReread,
  totalSkipped,
} from './replay';

describe('parseReplayFrom', () => {
  test.each([
    ['earliest', { kind: 'earliest' }],
    ['latest', { kind: 'latest' }],
    ['2026-01-31T12:00:00Z', { kind: 'time', at: new Date('2026-01-31T12:00:00Z') }],
    ['2026-01-31T12:00:00.250+02:00', { kind: 'time', at: new Date('2026-01-31T10:00:00.250Z') }],
    ['2026-01-31', { kind: 'time', at: new Date('2026-01-31T00:00:00Z') }],
  ])('%s', (s, want) => {
    expect(parseReplayFrom(s)).toEqual(want);
  });

  test.each(['yesterday', '2026-13-01T00:00:00Z', '2026-01-31T12:00', '1700000000000', ''])('%j is refused', (s) => {
    expect(parseReplayFrom(s)).toBe(
      `Expected earliest, latest or an ISO 8601 date-time (e.g. 2026-01-31T12:00:00Z) for --from but received ${JSON.stringify(s)}.`,
    );
  });
});

describe('planReplay', () => {
  const p = (partition: number, low: bigint, high: bigint, committed: bigint, atTime?: bigint) => ({
    partition,
    low,
    high,
    committed,
    ...(atTime === undefined ? {} : { atTime }),
  });
  test.each([
    // name, from, partition state, expected from/to/reread/skipped
    ['earliest moves back to the start', { kind: 'earliest' } as const, p(0, 0n, 100n, 100n), [100n, 0n, 100n, 0n]],
    [
      'earliest after retention: the start is low',
      { kind: 'earliest' } as const,
      p(0, 40n, 100n, 90n),
      [90n, 40n, 50n, 0n],
    ],
    ['latest skips what is pending', { kind: 'latest' } as const, p(0, 0n, 100n, 60n), [60n, 100n, 0n, 40n]],
    [
      'no commit yet: the group is at the start',
      { kind: 'earliest' } as const,
      p(0, 10n, 20n, -1n),
      [10n, 10n, 0n, 0n],
    ],
    [
      'a time moves to the offset for it',
      { kind: 'time', at: new Date(0) } as const,
      p(0, 0n, 100n, 100n, 70n),
      [100n, 70n, 30n, 0n],
    ],
    [
      'a time before retention is clamped to low',
      { kind: 'time', at: new Date(0) } as const,
      p(0, 50n, 100n, 100n, 3n),
      [100n, 50n, 50n, 0n],
    ],
    [
      'a time after the last record: the end',
      { kind: 'time', at: new Date(0) } as const,
      p(0, 0n, 100n, 100n),
      [100n, 100n, 0n, 0n],
    ],
    ['an empty partition', { kind: 'earliest' } as const, p(0, 0n, 0n, -1n), [0n, 0n, 0n, 0n]],
  ])('%s', (_name, from, state, [f, t, r, s]) => {
    expect(planReplay(from, [state])).toEqual([{ partition: 0, from: f, to: t, reread: r, skipped: s }]);
  });

  test('partitions in order, totals and the printed table', () => {
    const plan = planReplay({ kind: 'earliest' }, [p(1, 0n, 7n, 7n), p(0, 0n, 1200n, 1000n)]);
    expect(plan.map((x) => x.partition)).toEqual([0, 1]);
    expect(totalReread(plan)).toBe(1007n);
    expect(totalSkipped(plan)).toBe(0n);
    expect(planLines(plan)).toEqual([
      'PARTITION  FROM  TO  RE-READ  SKIPPED',
      '0          1000   0     1000        0',
      '1             7   0        7        0',
    ]);
  });
});

describe('refusal', () => {
  test('no members: allowed', () => {
    expect(refusal('g', 'clean', 'listflow-clean', { state: 'Empty', members: [] })).toBeUndefined();
  });
  test('members: names them and says how to stop them', () => {
    const why = refusal('listflow.listings.clean', 'clean', 'listflow-clean', {
      state: 'Stable',
      members: [{ clientId: 'listflow-clean', clientHost: '/10.0.0.7' }],
    });
    expect(why).toContain(
      'The consumer group listflow.listings.clean has 1 active member(s) (state Stable: listflow-clean@10.0.0.7)',
    );
    expect(why).toContain('kubectl scale deployment listflow-clean --replicas=0');
    expect(why).toContain('stop `listflow run --all`');
  });
});

describe('ledger entries', () => {
  const plan = planReplay({ kind: 'earliest' }, [
    { partition: 0, low: 0n, high: 5n, committed: 5n },
    { partition: 1, low: 0n, high: 3n, committed: 2n },
  ]);
  const entry = ledgerEntry(
    {
      replayId: 'r1',
      pipeline: 'listings',
      step: 'clean',
      group: 'listflow.listings.clean',
      topic: 'listings.raw',
      from: 'earliest',
      resetAt: '2026-12-01T00:00:00.000Z',
      by: 'ops@host',
    },
    plan,
  );
  test('round trip through the topic value, offsets as strings', () => {
    expect(readLedgerEntry(Buffer.from(JSON.stringify(entry)))).toEqual(entry);
    expect(entry.partitions[1]).toEqual({ partition: 1, from: '2', to: '0', reread: '2', skipped: '0' });
    expect(entryReread(entry)).toBe(7n);
  });
  test.each([null, Buffer.from('not json'), Buffer.from('{"replayId":1}'), Buffer.from('[]')])(
    'not an entry: %s',
    (v) => {
      expect(readLedgerEntry(v)).toBeUndefined();
    },
  );
});
