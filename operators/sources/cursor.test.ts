import { advance, compareInstants, isPast, parseInstant, type SourceCursor } from './cursor';

describe('instants are compared exactly, never through Date', () => {
  test.each([
    ['2026-01-05T10:00:00.123456Z', '2026-01-05T10:00:00.123457Z', -1],
    ['2026-01-05T10:00:00.1234561Z', '2026-01-05T10:00:00.123456Z', 1],
    ['2026-01-05T10:00:00.000000Z', '2026-01-05T10:00:00Z', 0],
    ['2026-01-05T10:00:00.5Z', '2026-01-05T10:00:00.500000Z', 0],
    ['2026-01-05T12:00:00.000001+02:00', '2026-01-05T10:00:00.000001Z', 0],
    ['2026-01-05T09:59:59.999999-00:00', '2026-01-05T10:00:00Z', -1],
    ['2026-12-31T23:00:00-05:00', '2027-01-01T03:59:59.999999Z', 1],
  ])('%s vs %s: %i', (a, b, sign) => {
    expect(Math.sign(compareInstants(a, b))).toBe(sign);
    expect(Math.sign(compareInstants(b, a))).toBe(-sign || 0);
  });

  test.each([
    '2026-01-05T10:00:00',
    '2026-01-05 10:00:00Z',
    '2026-13-05T10:00:00Z',
    'yesterday',
    '2026-01-05T10:00:00.1234567890Z',
  ])('%s is not an instant', (s) => {
    expect(parseInstant(s)).toBeUndefined();
    expect(() => compareInstants(s, '2026-01-05T10:00:00Z')).toThrow(RangeError);
  });

  test('parsing many instants in turn gives each its own value (the memo never answers for another string)', () => {
    const xs = ['2026-01-05T10:00:00Z', '2026-01-05T10:00:01Z', 'not an instant', '2026-01-05T10:00:00.5Z'];
    const expected = [
      { seconds: 1767607200, fraction: '000000000' },
      { seconds: 1767607201, fraction: '000000000' },
      undefined,
      { seconds: 1767607200, fraction: '500000000' },
    ];
    for (const i of [0, 1, 2, 3, 0, 2, 1, 3, 3, 0, 1, 2]) expect(parseInstant(xs[i]!)).toEqual(expected[i]);
  });

  test('microseconds that a Date would round away still order', () => {
    const a = '2026-01-05T10:00:00.123001Z';
    const b = '2026-01-05T10:00:00.123999Z';
    expect(new Date(a).getTime()).toBe(new Date(b).getTime());
    expect(compareInstants(a, b)).toBeLessThan(0);
  });
});

describe('isPast', () => {
  const T = '2026-01-05T10:00:00.000100Z';
  const pair: SourceCursor = { timestamp: T, key: 'L5' };
  const set: SourceCursor = { timestamp: T, key: 'L5', keysAtTimestamp: ['L5', 'L9', 'L1'] };
  test.each<[string, SourceCursor | undefined, string, string, boolean]>([
    ['no cursor: everything', undefined, T, 'L0', true],
    ['pair: later timestamp', pair, '2026-01-05T10:00:00.000101Z', 'L0', true],
    ['pair: earlier timestamp', pair, '2026-01-05T10:00:00.000099Z', 'L9', false],
    ['pair: tie, greater key', pair, T, 'L6', true],
    ['pair: tie, the cursor key itself', pair, T, 'L5', false],
    ['pair: tie, smaller key', pair, T, 'L4', false],
    ['set: tie, a key taken', set, T, 'L9', false],
    ['set: tie, a smaller key not taken (server ordered by timestamp only)', set, T, 'L2', true],
    ['set: later timestamp', set, '2026-01-05T10:00:01Z', 'L1', true],
  ])('%s', (_what, cursor, timestamp, key, past) => {
    expect(isPast({ timestamp, key }, cursor)).toBe(past);
  });
});

describe('advance', () => {
  const t1 = '2026-01-05T10:00:00.000001Z';
  const t2 = '2026-01-05T10:00:00.000002Z';
  test.each<[string, SourceCursor | undefined, Array<[string, string]>, boolean, SourceCursor | undefined]>([
    ['nothing taken', undefined, [], false, undefined],
    [
      'pair: to the greatest (timestamp, key)',
      undefined,
      [
        [t1, 'B'],
        [t2, 'A'],
        [t1, 'C'],
      ],
      false,
      { timestamp: t2, key: 'A' },
    ],
    ['pair: never back', { timestamp: t2, key: 'A' }, [[t1, 'Z']], false, { timestamp: t2, key: 'A' }],
    [
      'set: keys at the last timestamp',
      undefined,
      [
        [t1, 'B'],
        [t2, 'C'],
        [t2, 'A'],
      ],
      true,
      { timestamp: t2, key: 'C', keysAtTimestamp: ['C', 'A'] },
    ],
    [
      'set: a new timestamp resets the keys',
      { timestamp: t1, key: 'B', keysAtTimestamp: ['B'] },
      [[t2, 'A']],
      true,
      { timestamp: t2, key: 'A', keysAtTimestamp: ['A'] },
    ],
    [
      'set: the same key twice is kept once',
      { timestamp: t1, key: 'B', keysAtTimestamp: ['B'] },
      [
        [t1, 'B'],
        [t1, 'A'],
      ],
      true,
      { timestamp: t1, key: 'B', keysAtTimestamp: ['B', 'A'] },
    ],
  ])('%s', (_what, cursor, taken, ties, expected) => {
    expect(
      advance(
        cursor,
        taken.map(([timestamp, key]) => ({ timestamp, key })),
        ties,
      ),
    ).toEqual(expected);
  });
});
