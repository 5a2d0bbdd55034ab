import { encodeAvroBody, readerType } from '../../runtime/serde';
import { initialSourceState, mainReplication, type SourceState, sourceStateOf, stateRecordOf } from './state';

const full: SourceState = {
  cursor: { timestamp: '2026-01-05T10:00:00.123456Z', key: 'K9', keysAtTimestamp: ['K8', 'K9'] },
  initialDone: true,
  photoCursor: { timestamp: '2026-01-05T09:00:00Z', key: 'P1' },
  photoInitialDone: true,
  lastPurgeAt: '2026-01-05T00:00:00.000Z',
  snapshot: { id: 'ab12', position: 500, done: false, total: 1200, takenAt: '2026-01-02T00:00:00.000Z' },
  lastPoll: '2026-01-05T10:00:01.000Z',
  counts: { records: 10, deletes: 2, pages: 3, requests: 4 },
};

describe('source state record', () => {
  it.each([
    ['full', full],
    ['initial', initialSourceState()],
  ])('round-trips %s exactly through its Avro record (timestamp strings untouched)', (_n, s) => {
    const record = stateRecordOf('plain', s);
    const decoded = readerType('SourceState').fromBuffer(encodeAvroBody('SourceState', record));
    expect(sourceStateOf(decoded)).toEqual(s);
    expect(decoded.source).toBe('plain');
  });

  it('gives replicatePass the main cursor', () => {
    expect(mainReplication(full)).toEqual({ cursor: full.cursor, initialDone: true });
    expect(mainReplication(initialSourceState())).toEqual({ initialDone: false });
  });
});
