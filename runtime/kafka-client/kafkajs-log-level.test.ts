import { logLevel } from 'kafkajs';
import { kafkajsLogLevel } from './kafkajs-log-level';

const CONCURRENT =
  'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing';

test.each([
  {
    what: 'the retried CONCURRENT_TRANSACTIONS response',
    level: logLevel.ERROR,
    entry: { message: 'Response AddPartitionsToTxn(key: 24, version: 1)', error: CONCURRENT },
    want: logLevel.WARN,
  },
  {
    what: "kafkajs's retry notice for it",
    level: logLevel.ERROR,
    entry: { message: `Failed to send messages: ${CONCURRENT}` },
    want: logLevel.WARN,
  },
  {
    what: 'a coordinator that moved (NOT_COORDINATOR), retried',
    level: logLevel.ERROR,
    entry: { message: 'Response FindCoordinator', error: 'This is not the correct coordinator for this group' },
    want: logLevel.WARN,
  },
  {
    what: 'a coordinator still loading, retried',
    level: logLevel.ERROR,
    entry: {
      message: "Response JoinGroup: The coordinator is loading and hence can't process requests for this group",
    },
    want: logLevel.WARN,
  },
  {
    what: 'any other error',
    level: logLevel.ERROR,
    entry: { message: 'Crash: KafkaJSNumberOfRetriesExceeded', error: 'Connection error' },
    want: logLevel.ERROR,
  },
  { what: 'a warning', level: logLevel.WARN, entry: { message: CONCURRENT }, want: logLevel.WARN },
])('$what', ({ level, entry, want }) => {
  expect(kafkajsLogLevel(level, entry)).toBe(want);
});
