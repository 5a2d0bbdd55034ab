import { decodeSourceState, encodeSourceState, initialSourceState, mainReplication, type SourceState } from './state';

const full: SourceState = {
  cursor: { timestamp: '2026-01-05T10:00:00.123456Z', key: 'K9', keysAtTimestamp: ['K8', 'K9'] },
  initialDone: true,
  photoCursor: { timestamp: '2026-01-05T09:00:00Z', key: 'P1' },
  photoInitialDone: false,
  lastPurgeAt: '2026-01-05T00:00:00.000Z',
  lastPoll: '2026-01-05T10:00:01.000Z',
  counts: { records: 10, deletes: 2, pages: 3, requests: 4 },
};

describe('source state record', () => {
  it.each([
    ['full', full],
    ['initial', initialSourceState()],
  ])('round-trips %s exactly (timestamp strings untouched)', (_n, s) => {
    expect(decodeSourceState(encodeSourceState(s))).toEqual({ ok: true, state: s });
  });

  it.each([
    ['tombstone', null, { ok: true, state: undefined }],
    ['not JSON', '{', { ok: false, problem: 'the value is not JSON' }],
    ['array', '[]', { ok: false, problem: 'the value is not a JSON object' }],
    ['no initialDone', '{"lastPoll":""}', { ok: false, problem: 'initialDone is not a boolean' }],
    [
      'bad cursor',
      '{"initialDone":true,"lastPoll":"","cursor":{"key":"K"}}',
      { ok: false, problem: 'cursor is not { timestamp, key, keysAtTimestamp? }' },
    ],
    [
      'missing counts default to 0',
      '{"initialDone":false,"lastPoll":"x"}',
      {
        ok: true,
        state: { initialDone: false, lastPoll: 'x', counts: { records: 0, deletes: 0, pages: 0, requests: 0 } },
      },
    ],
  ])('%s', (_n, value, expected) => {
    expect(decodeSourceState(value)).toEqual(expected);
  });

  it('gives replicatePass the main cursor', () => {
    expect(mainReplication(full)).toEqual({ cursor: full.cursor, initialDone: true });
    expect(mainReplication(initialSourceState())).toEqual({ initialDone: false });
  });
});
