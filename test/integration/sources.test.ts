/**
 * The owning step's transactional writer (runtime/assigned/transactions.ts) on the real broker: the owner that
 * takes a key over fences the one that had it, so a stale poller's page is never visible to read_committed
 * readers, and its commit is refused. (kafkajs registers the transactional id only at a producer's first
 * transaction(); the writer opens and aborts an empty one at open, which this test would catch missing.)
 * The replication itself, through worker processes, is test/integration/sources-worker.test.ts.
 */
import { openTransactionalWriter } from '../../runtime/assigned/transactions';
import { readAllToEnd } from '../../runtime/topic-reader';
import { connectedKafka } from '../support/kafka-suite';
import { createTopics, uniqueName } from '../support/streams';

const k = connectedKafka('itest-sources');

test("a new owner's writer fences the stale one with the key's transactional id: the stale page is never visible", async () => {
  const raw = uniqueName('itest-sources-raw');
  const state = uniqueName('itest-sources-state');
  await createTopics(k.admin, { [raw]: 1, [state]: 1 });
  const transactionalId = uniqueName('listflow.itest.sources.plain');
  const page = (key: string) => [
    { topic: raw, key: `plain:${key}`, value: Buffer.from(`record ${key}`) },
    { topic: state, key: 'plain', value: Buffer.from(`cursor ${key}`) },
  ];
  const stale = await openTransactionalWriter(k.kafka, transactionalId);
  await stale.commit(page('A'));
  const fresh = await openTransactionalWriter(k.kafka, transactionalId); // the rebalanced owner
  const staleOutcome = await stale.commit(page('STALE')).then(
    () => 'committed',
    (e: unknown) => String(e),
  );
  expect(staleOutcome).not.toBe('committed');
  await fresh.commit(page('B'));
  await Promise.allSettled([stale.close(), fresh.close()]);
  const keys = (await readAllToEnd(k.kafka, [raw])).map((m) => m.message.key?.toString());
  expect(keys).toEqual(['plain:A', 'plain:B']);
  const states = (await readAllToEnd(k.kafka, [state])).map((m) => m.message.value?.toString());
  expect(states).toEqual(['cursor A', 'cursor B']);
});
