/**
 * What the @platformatic/kafka adapter converts at the seam: bigint offsets, Map headers, produced records, the
 * library's errors, and its compatibility partitioner placing keys exactly where the Java client (and kafkajs,
 * kafka-client/murmur2.test.ts) does.
 */
import { compatibilityPartitioner, type Message, type MessageToProduce } from '@platformatic/kafka';
import { KafkaClientError } from '../errors';
import { partitionForKey } from './murmur2';
import { keyedOrRoundRobin } from './platformatic';
import { headersFromMap, headersToMap, toClientError, toConsumed, toProduce } from './platformatic-codec';

describe('consumed messages', () => {
  test('offsets and timestamps are bigint there and decimal strings here, past 2^53 too', () => {
    const m = {
      offset: 9007199254740993n,
      timestamp: 1733140000123n,
      key: undefined,
      value: undefined,
      headers: new Map(),
    } as unknown as Message;
    expect(toConsumed(m)).toEqual({
      offset: '9007199254740993',
      timestamp: '1733140000123',
      key: null,
      value: null,
      headers: {},
    });
  });

  test('a Map of headers becomes a record; a repeated header keeps every value in order', () => {
    const headers = new Map<Buffer, Buffer>([
      [Buffer.from('listflow.trace-id'), Buffer.from('t1')],
      [Buffer.from('x'), Buffer.from('1')],
    ]);
    // A Map keyed by Buffers can hold the same name twice (two Buffer objects).
    headers.set(Buffer.from('x'), Buffer.from('2'));
    expect(headersFromMap(headers)).toEqual({
      'listflow.trace-id': Buffer.from('t1'),
      x: [Buffer.from('1'), Buffer.from('2')],
    });
  });
});

describe('produced records', () => {
  test.each<[string, Parameters<typeof toProduce>[1], Partial<MessageToProduce>]>([
    [
      'string key and value become Buffers',
      { key: 'k', value: 'v' },
      { key: Buffer.from('k'), value: Buffer.from('v') },
    ],
    ['a tombstone has no value', { key: 'k', value: null }, { key: Buffer.from('k') }],
    [
      'no key: none sent (the partitioner chooses)',
      { key: null, value: Buffer.from('v') },
      { value: Buffer.from('v') },
    ],
    ['a placed record keeps its partition', { key: 'k', value: 'v', partition: 4 }, { partition: 4 }],
  ])('%s', (_name, message, expected) => {
    const out = toProduce('t', message);
    expect(out).toMatchObject({ topic: 't', ...expected });
    if (message.value === null) expect('value' in out).toBe(false);
    if (message.key === null) expect('key' in out).toBe(false);
  });

  test('headers become a Map of Buffers (the last of repeated values, as headersToStrings reads them)', () => {
    const map = headersToMap({ a: 'x', b: Buffer.from('y'), c: ['1', '2'], d: undefined })!;
    expect([...map].map(([k, v]) => [k.toString(), v.toString()])).toEqual([
      ['a', 'x'],
      ['b', 'y'],
      ['c', '2'],
    ]);
    expect(headersToMap(undefined)).toBeUndefined();
  });
});

describe("the library's errors", () => {
  const protocol = (apiId: string, canRetry: boolean) =>
    Object.assign(new Error(apiId), { code: 'PLT_KFK_PROTOCOL', apiId, canRetry });
  const network = Object.assign(new Error('connect ECONNREFUSED'), { code: 'PLT_KFK_NETWORK', canRetry: true });
  const aggregate = (...errors: Error[]) => Object.assign(new Error('failed'), { code: 'PLT_KFK_MULTIPLE', errors });

  test.each([
    {
      name: 'a rebalance',
      error: protocol('REBALANCE_IN_PROGRESS', true),
      type: 'REBALANCE_IN_PROGRESS',
      retriable: true,
      connection: false,
    },
    {
      name: 'inside an aggregate',
      error: aggregate(protocol('COORDINATOR_LOAD_IN_PROGRESS', true)),
      type: 'COORDINATOR_LOAD_IN_PROGRESS',
      retriable: true,
      connection: false,
    },
    {
      name: 'a refused authorization',
      error: aggregate(protocol('GROUP_AUTHORIZATION_FAILED', false)),
      type: 'GROUP_AUTHORIZATION_FAILED',
      retriable: false,
      connection: false,
    },
    { name: 'unreachable brokers', error: aggregate(network), type: undefined, retriable: true, connection: true },
  ])('$name: type $type, retriable $retriable, connection $connection', ({ error, type, retriable, connection }) => {
    const e = toClientError(error);
    expect(e).toBeInstanceOf(KafkaClientError);
    expect(e).toMatchObject({ type, retriable, connection, cause: error });
  });

  test('errors that are not the library’s pass through unchanged', () => {
    const bug = new TypeError('x is undefined');
    expect(toClientError(bug)).toBe(bug);
    expect(toClientError('text')).toBe('text');
  });
});

test('its compatibility partitioner places every key where the Java client (and kafkajs) does', () => {
  const mismatches: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const key = Buffer.from(i % 2 ? `crea-ddf:L${i}` : `bright-mls:${i * 7919}`);
    for (const count of [1, 3, 6, 12]) {
      const theirs = compatibilityPartitioner({ topic: 't' }, key) % count;
      if (theirs !== partitionForKey(key, count)) mismatches.push(`${key} / ${count}`);
    }
  }
  expect(mismatches).toEqual([]);
});

test('records without a key go round robin, not all to one partition', () => {
  const place = keyedOrRoundRobin();
  const seen = new Set(Array.from({ length: 6 }, () => place({ topic: 't' }, undefined) % 6));
  expect(seen.size).toBe(6);
  expect(place({ topic: 't' }, Buffer.from('k')) % 6).toBe(partitionForKey('k', 6));
});
