/**
 * fetchCommittedOffsets against a scripted admin: a coordinator that is still loading is asked again, with
 * capped backoff and within the time limit; anything else fails at once.
 */
import { KafkaJSNonRetriableError, KafkaJSProtocolError } from 'kafkajs';
import { fetchCommittedOffsets } from './kafka';

type Answer = Error | { partition: number; offset: string }[];

/** An error as kafkajs's protocol layer builds it from a broker's error code. */
function brokerError(type: string, code: number, retriable: boolean): Error {
  // The typings take an Error or a string; at runtime the constructor reads the broker's error entry.
  const entry = { type, code, retriable, message: type } as unknown as Error;
  return new KafkaJSProtocolError(entry);
}

const LOADING = brokerError('COORDINATOR_LOAD_IN_PROGRESS', 14, true);
const NOT_COORDINATOR = brokerError('NOT_COORDINATOR_FOR_GROUP', 16, true);
const AUTH = brokerError('GROUP_AUTHORIZATION_FAILED', 30, false);

function scriptedAdmin(answers: Answer[]) {
  const calls: unknown[] = [];
  return {
    calls,
    admin: {
      fetchOffsets: async (req: unknown) => {
        calls.push(req);
        const a = answers.shift();
        if (a === undefined) throw new Error('scripted admin: no more answers');
        if (a instanceof Error) throw a;
        return [{ topic: 't', partitions: a.map((p) => ({ ...p, metadata: null })) }];
      },
    },
  };
}

const OFFSETS = [
  { partition: 0, offset: '42' },
  { partition: 1, offset: '-1' },
];

test.each([
  { name: 'answered at once', answers: [OFFSETS], waits: [] },
  {
    name: 'coordinator loading, then answered',
    answers: [LOADING, NOT_COORDINATOR, LOADING, OFFSETS],
    waits: [100, 200, 400],
  },
  {
    name: 'backoff is capped at 1 s',
    answers: [LOADING, LOADING, LOADING, LOADING, LOADING, LOADING, OFFSETS],
    waits: [100, 200, 400, 800, 1000, 1000],
  },
])('$name', async ({ answers, waits }) => {
  const { admin, calls } = scriptedAdmin([...answers]);
  const slept: number[] = [];
  const got = await fetchCommittedOffsets(admin, 'g', 't', { sleep: async (ms) => void slept.push(ms) });
  expect(got).toEqual(
    new Map([
      [0, 42n],
      [1, -1n],
    ]),
  );
  expect(slept).toEqual(waits);
  expect(calls).toHaveLength(answers.length);
  expect(calls[0]).toEqual({ groupId: 'g', topics: ['t'] });
});

test.each([
  { name: 'a non-retriable broker error', error: AUTH },
  { name: 'a client-side error', error: new KafkaJSNonRetriableError('Invalid groupId') },
  { name: 'a bug', error: new TypeError('x is undefined') },
])('$name is thrown at once, not retried', async ({ error }) => {
  const { admin, calls } = scriptedAdmin([error, OFFSETS]);
  await expect(fetchCommittedOffsets(admin, 'g', 't', { sleep: async () => undefined })).rejects.toBe(error);
  expect(calls).toHaveLength(1);
});

test('a coordinator that never loads fails once the time limit is spent', async () => {
  const { admin, calls } = scriptedAdmin(Array.from({ length: 50 }, () => LOADING));
  let now = 0;
  const spy = jest.spyOn(Date, 'now').mockImplementation(() => now);
  try {
    const sleep = async (ms: number) => {
      now += ms;
    };
    await expect(fetchCommittedOffsets(admin, 'g', 't', { timeoutMs: 3000, sleep })).rejects.toBe(LOADING);
    // 100 + 200 + 400 + 800 + 1000 = 2500 ms slept; one more 1000 ms wait would pass 3000 ms.
    expect(calls).toHaveLength(6);
    expect(now).toBe(2500);
  } finally {
    spy.mockRestore();
  }
});
