/**
 * The level a kafkajs log entry is written at. kafkajs logs at ERROR every failed request it is about to retry
 * itself. One such answer is routine: right after a transaction ends, the broker answers the next
 * AddPartitionsToTxn with CONCURRENT_TRANSACTIONS while it still writes the last one's markers (a transactional
 * writer per source meets it every few pages), and the Java client retries it silently. Those entries become
 * warnings, so an ERROR in a worker's log means something is wrong; every other entry keeps its level.
 */
import { logLevel } from 'kafkajs';

const ROUTINE_RETRIED = ['another concurrent operation on the same transaction was ongoing'];

export function kafkajsLogLevel(
  level: logLevel,
  entry: { readonly message?: string; readonly error?: unknown },
): logLevel {
  if (level !== logLevel.ERROR) return level;
  const text = `${entry.message ?? ''} ${typeof entry.error === 'string' ? entry.error : ''}`;
  return ROUTINE_RETRIED.some((t) => text.includes(t)) ? logLevel.WARN : level;
}
