/**
 * Listflow's replacement for kafkajs 2.2.4's src/consumer/filterAbortedMessages.js, copied over it at install
 * (scripts/kafkajs-patch/apply.cjs). Same signature, same module path, so kafkajs's Batch uses it unchanged.
 *
 * Why: kafkajs moves at most ONE aborted transaction from the fetch response's list into its "aborted producers"
 * set per message (`if`, not `while`). When a fetch starts past the first offsets of two or more aborted
 * transactions, which is common when several transactional producers interleave in one partition (the sources
 * worker runs one per source) and a fetch response was cut by its byte limit, the second producer's aborted
 * records are handed to a read_committed consumer as if committed. Kafka's Java consumer (Fetcher /
 * CompletedFetch.consumeAbortedTransactionsUpTo) consumes every aborted transaction whose first offset is at or
 * before the record being read; this does the same. Tested in runtime/kafka-client/kafkajs-aborted-filter.test.ts.
 */
const Long = require('../utils/long');

const ABORTED_MESSAGE_KEY = Buffer.from([0, 0, 0, 0]);

const isAbortMarker = ({ key }) => {
  if (!key) return false;
  return Buffer.from(key).equals(ABORTED_MESSAGE_KEY);
};

const filterAbortedMessages = ({ messages, abortedTransactions }) => {
  if (!abortedTransactions?.length) {
    return messages;
  }
  // Ordered by first offset: the broker sends them so, but nothing below depends on trusting that.
  const remaining = [...abortedTransactions].sort((a, b) =>
    Long.fromValue(a.firstOffset).compare(Long.fromValue(b.firstOffset)),
  );
  const abortedProducers = new Set();

  return messages.filter((message) => {
    const offset = Long.fromValue(message.offset);
    while (remaining.length && offset.gte(Long.fromValue(remaining[0].firstOffset))) {
      abortedProducers.add(String(remaining.shift().producerId));
    }
    const { producerId, inTransaction } = message.batchContext;
    if (isAbortMarker(message)) {
      // The transaction is over: later records of this producer belong to a new one.
      abortedProducers.delete(String(producerId));
      return true;
    }
    return !(inTransaction && abortedProducers.has(String(producerId)));
  });
};

// Marks the module as Listflow's, so the runtime can refuse to run on an unpatched kafkajs.
filterAbortedMessages.listflowPatch = 'aborted-transactions-v1';

module.exports = filterAbortedMessages;
