/**
 * The level a kafkajs log entry is written at. kafkajs logs at ERROR every failed request it is about to retry
 * itself. Some such answers are routine: right after a transaction ends, the broker answers the next
 * AddPartitionsToTxn with CONCURRENT_TRANSACTIONS while it still writes the last one's markers (a transactional
 * writer per source meets it every few pages), and the Java client retries it silently. Those entries become
 * warnings (and the coordinator answers below), so an ERROR in a worker's log means something is wrong; every
 * other entry keeps its level.
 */
import { logLevel } from 'kafkajs';

// Also routine: a group or transaction coordinator that is still loading or has just moved (a broker that
// started a moment ago, a new __consumer_offsets leader). kafkajs finds the coordinator again and retries, as
// the Java client does without logging; a retry that runs out still fails loudly, as the error it ends in.
const ROUTINE_RETRIED = [
  'another concurrent operation on the same transaction was ongoing',
  'This is not the correct coordinator for this group',
  "The coordinator is loading and hence can't process requests for this group",
  'The group coordinator is not available',
];

export function kafkajsLogLevel(
  level: logLevel,
  entry: { readonly message?: string; readonly error?: unknown },
): logLevel {
  if (level !== logLevel.ERROR) return level;
  const text = `${entry.message ?? ''} ${typeof entry.error === 'string' ? entry.error : ''}`;
  return ROUTINE_RETRIED.some((t) => text.includes(t)) ? logLevel.WARN : level;
}
