/**
 * What a kafkajs read_committed consumer is handed from one fetch, through kafkajs's own Batch (the class its
 * consumer builds from each fetch response), with the installed filter of aborted transactions. Fails on
 * kafkajs's original filter (the interleaved cases), passes once scripts/kafkajs-patch/ is applied.
 */
import { assertKafkajsPatched } from './kafkajs-patch';

type Batch = { messages: { offset: string }[] };
const BatchClass = require('kafkajs/src/consumer/batch') as new (
  topic: string,
  fetchedOffset: string,
  partitionData: unknown,
) => Batch;

const ABORT = Buffer.from([0, 0, 0, 0]);
const COMMIT = Buffer.from([0, 0, 0, 1]);

/** A record: `P1` is producer 1 in a transaction, `-` a non-transactional producer; markers are control records. */
function rec(offset: number, producer: string, kind: 'data' | 'abort' | 'commit' = 'data') {
  const control = kind !== 'data';
  return {
    offset: String(offset),
    key: kind === 'abort' ? ABORT : kind === 'commit' ? COMMIT : Buffer.from(`k${offset}`),
    value: control ? null : Buffer.from('v'),
    isControlRecord: control,
    batchContext: { producerId: producer === '-' ? '-1' : producer.slice(1), inTransaction: producer !== '-' },
  };
}

const cases: {
  name: string;
  fetchedOffset: number;
  aborted: { producerId: string; firstOffset: string }[];
  records: ReturnType<typeof rec>[];
  delivered: number[];
}[] = [
  {
    name: 'no aborted transactions: everything but control records',
    fetchedOffset: 0,
    aborted: [],
    records: [rec(0, 'P1'), rec(1, '-'), rec(2, 'P1', 'commit')],
    delivered: [0, 1],
  },
  {
    name: 'one aborted transaction, fetched from its start',
    fetchedOffset: 0,
    aborted: [{ producerId: '1', firstOffset: '0' }],
    records: [rec(0, 'P1'), rec(1, 'P1'), rec(2, 'P1', 'abort'), rec(3, '-')],
    delivered: [3],
  },
  {
    // The case kafkajs 2.2.4 gets wrong: it moves one aborted transaction per record, so record 12 (producer 2,
    // aborted) is delivered. Seen as a page of a source read twice after kill -9 of the sources worker.
    name: 'two interleaved aborted transactions, fetched past both first offsets',
    fetchedOffset: 12,
    aborted: [
      { producerId: '1', firstOffset: '10' },
      { producerId: '2', firstOffset: '11' },
    ],
    records: [
      rec(12, 'P2'),
      rec(13, 'P1'),
      rec(14, 'P2'),
      rec(15, 'P1', 'abort'),
      rec(16, 'P2', 'abort'),
      rec(17, '-'),
    ],
    delivered: [17],
  },
  {
    name: 'four producers aborted at once (a killed worker with four sources)',
    fetchedOffset: 20,
    aborted: ['1', '2', '3', '4'].map((p, i) => ({ producerId: p, firstOffset: String(i) })),
    records: [rec(20, 'P4'), rec(21, 'P3'), rec(22, 'P2'), rec(23, 'P1')].concat(
      ['P1', 'P2', 'P3', 'P4'].map((p, i) => rec(24 + i, p, 'abort')),
    ),
    delivered: [],
  },
  {
    name: 'an aborted transaction, then a committed one of the same producer',
    fetchedOffset: 0,
    aborted: [{ producerId: '1', firstOffset: '0' }],
    records: [rec(0, 'P1'), rec(1, 'P1', 'abort'), rec(2, 'P1'), rec(3, 'P1', 'commit')],
    delivered: [2],
  },
  {
    name: "a committed transaction interleaved with another producer's aborted one",
    fetchedOffset: 0,
    aborted: [{ producerId: '1', firstOffset: '0' }],
    records: [rec(0, 'P1'), rec(1, 'P2'), rec(2, 'P1'), rec(3, 'P1', 'abort'), rec(4, 'P2', 'commit')],
    delivered: [1],
  },
  {
    name: 'an aborted transaction that starts after the fetched records',
    fetchedOffset: 0,
    aborted: [{ producerId: '1', firstOffset: '5' }],
    records: [rec(0, 'P1'), rec(1, 'P1', 'commit'), rec(2, '-')],
    delivered: [0, 2],
  },
];

test('the installed kafkajs carries the fix (the runtime checks the same before building a client)', () => {
  expect(() => assertKafkajsPatched()).not.toThrow();
});

test.each(cases)('read_committed delivers exactly the committed records: $name', (c) => {
  const batch = new BatchClass('t', String(c.fetchedOffset), {
    partition: 0,
    highWatermark: '100',
    abortedTransactions: c.aborted,
    messages: c.records,
  });
  expect(batch.messages.map((m) => Number(m.offset))).toEqual(c.delivered);
});
