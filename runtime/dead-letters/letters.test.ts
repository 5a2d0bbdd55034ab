/** The pure parts of `listflow dlq`: reading headers, grouping, filtering, ledger keys, redrive headers. */
import { deadLetter } from './build';
import {
  type DeadLetter,
  groupLetters,
  ledgerKey,
  matchesFilter,
  notRedrivable,
  parseInstant,
  parseLetterRef,
  parseRate,
  readDeadLetter,
  redriveHeaders,
} from './letters';

const wire = Buffer.from([0, 0, 0, 0, 7, 1, 2, 3]);

function letter(offset: number, step: string, code: string, at: string, value: Buffer | null = wire): DeadLetter {
  const out = deadLetter(
    `${step}.in.dlq`,
    {
      topic: `${step}.in`,
      partition: 2,
      offset: String(100 + offset),
      key: 'k1',
      value,
      headers: { 'listflow.trace-id': 't-1', 'x-origin': 'feed' },
    },
    {
      step,
      operator: `${step}-op`,
      error: { code: code as never, kind: 'permanent', message: `bad ${offset}` },
      attempts: 1,
      firstFailure: new Date(at),
      lastFailure: new Date(at),
      detail: { field: 'ListPrice' },
    },
  );
  const headers = Object.fromEntries(
    Object.entries(out.message.headers ?? {}).map(([k, v]) => [k, Buffer.from(String(v))]),
  );
  return readDeadLetter({
    topic: out.topic,
    partition: 0,
    offset: String(offset),
    key: Buffer.from('k1'),
    value,
    headers,
    timestamp: '0',
  });
}

const letters = [
  letter(0, 'tidy', 'NORMALIZE_PRICE_INVALID', '2026-01-02T00:00:00Z'),
  letter(1, 'tidy', 'NORMALIZE_PRICE_INVALID', '2026-01-05T00:00:00Z'),
  letter(2, 'tidy', 'NORMALIZE_STATUS_UNKNOWN', '2026-01-03T00:00:00Z'),
  letter(3, 'enrich', 'BLOBSTORE_UNAVAILABLE', '2026-01-01T00:00:00Z'),
  letter(4, 'tidy', 'NORMALIZE_PRICE_INVALID', '2026-01-01T00:00:00Z'),
];

test('readDeadLetter reads what deadLetter() wrote', () => {
  expect(letters[0]).toMatchObject({
    ref: { topic: 'tidy.in.dlq', partition: 0, offset: '0' },
    step: 'tidy',
    operator: 'tidy-op',
    code: 'NORMALIZE_PRICE_INVALID',
    kind: 'permanent',
    message: 'bad 0',
    sourceTopic: 'tidy.in',
    sourcePartition: '2',
    sourceOffset: '100',
    attempts: 1,
    failedAt: new Date('2026-01-02T00:00:00Z'),
  });
});

test('a letter without headers falls back to (unknown) and the Kafka timestamp', () => {
  const l = readDeadLetter({
    topic: 't.dlq',
    partition: 1,
    offset: '9',
    key: null,
    value: null,
    headers: {},
    timestamp: '1000',
  });
  expect([l.step, l.code, l.failedAt.getTime(), l.sourceTopic]).toEqual(['(unknown)', '(unknown)', 1000, undefined]);
  expect(notRedrivable(l)).toBe('it has no listflow.source.topic header');
});

test('groupLetters: by step, operator and code, with counts and oldest/newest', () => {
  expect(groupLetters(letters)).toEqual([
    {
      step: 'enrich',
      operator: 'enrich-op',
      code: 'BLOBSTORE_UNAVAILABLE',
      count: 1,
      oldest: new Date('2026-01-01T00:00:00Z'),
      newest: new Date('2026-01-01T00:00:00Z'),
      topics: ['enrich.in.dlq'],
    },
    {
      step: 'tidy',
      operator: 'tidy-op',
      code: 'NORMALIZE_PRICE_INVALID',
      count: 3,
      oldest: new Date('2026-01-01T00:00:00Z'),
      newest: new Date('2026-01-05T00:00:00Z'),
      topics: ['tidy.in.dlq'],
    },
    {
      step: 'tidy',
      operator: 'tidy-op',
      code: 'NORMALIZE_STATUS_UNKNOWN',
      count: 1,
      oldest: new Date('2026-01-03T00:00:00Z'),
      newest: new Date('2026-01-03T00:00:00Z'),
      topics: ['tidy.in.dlq'],
    },
  ]);
});

test.each([
  { filter: {}, offsets: ['0', '1', '2', '3', '4'] },
  { filter: { step: 'tidy' }, offsets: ['0', '1', '2', '4'] },
  { filter: { step: 'enrich-op' }, offsets: ['3'] },
  { filter: { code: 'NORMALIZE_PRICE_INVALID' }, offsets: ['0', '1', '4'] },
  { filter: { since: new Date('2026-01-02T00:00:00Z') }, offsets: ['0', '1', '2'] },
  { filter: { until: new Date('2026-01-02T00:00:00Z') }, offsets: ['3', '4'] },
  {
    filter: {
      step: 'tidy',
      code: 'NORMALIZE_PRICE_INVALID',
      since: new Date('2026-01-02T00:00:00Z'),
      until: new Date('2026-01-05T00:00:00Z'),
    },
    offsets: ['0'],
  },
])('matchesFilter %j', ({ filter, offsets }) => {
  expect(letters.filter((l) => matchesFilter(l, filter)).map((l) => l.ref.offset)).toEqual(offsets);
});

test('ledger keys and letter references round-trip', () => {
  expect(ledgerKey(letters[2]!.ref)).toBe('tidy.in.dlq:0:2');
  expect(parseLetterRef('listings.raw.dlq:3:0042')).toEqual({ topic: 'listings.raw.dlq', partition: 3, offset: '42' });
  expect(parseLetterRef(ledgerKey(letters[2]!.ref))).toEqual(letters[2]!.ref);
  expect(parseLetterRef('listings.raw.dlq:3')).toBe(
    'Expected <topic>:<partition>:<offset> (e.g. listings.raw.dlq:0:42) but received "listings.raw.dlq:3".',
  );
});

test('redriveHeaders keeps the original headers, drops what the dead-letter writer added, adds the redrive ids', () => {
  const h = redriveHeaders(letters[1]!, 'r-1');
  expect(Object.fromEntries(Object.entries(h).map(([k, v]) => [k, String(v)]))).toEqual({
    'listflow.trace-id': 't-1',
    'x-origin': 'feed',
    'listflow.redrive.id': 'r-1',
    'listflow.redrive.of': 'tidy.in.dlq:0:1',
  });
});

test.each([
  { value: wire, why: undefined },
  { value: Buffer.from('{"ListingKey":"x"}'), why: 'its value is not the original message (not Avro wire format)' },
  { value: null, why: 'its value is not the original message (not Avro wire format)' },
])('notRedrivable($value)', ({ value, why }) => {
  expect(notRedrivable(letter(9, 'parse', 'INGEST_RECORD_UNPARSEABLE', '2026-01-01T00:00:00Z', value))).toBe(why);
});

test.each([
  ['100/s', 100],
  ['30', 30],
  ['600/m', 10],
  ['0.5/s', 0.5],
  ['0/s', 'Expected --rate as N/s or N/m with N > 0 (e.g. 100/s) but received "0/s".'],
  ['fast', 'Expected --rate as N/s or N/m with N > 0 (e.g. 100/s) but received "fast".'],
])('parseRate(%s)', (raw, want) => {
  expect(parseRate(raw)).toBe(want);
});

test('parseInstant', () => {
  expect(parseInstant('since', '2026-01-02T03:04:05Z')).toEqual(new Date('2026-01-02T03:04:05Z'));
  expect(parseInstant('since', 'yesterday')).toBe(
    'Expected an ISO 8601 date-time for --since (e.g. 2026-01-31T12:00:00Z) but received "yesterday".',
  );
});
