/**
 * The check that kafkajs carries Listflow's fix of its read_committed filter (scripts/kafkajs-patch/: without it,
 * a consumer can be handed records of aborted transactions when several transactional producers interleave in a
 * partition, and the sources worker's "no page twice" guarantee breaks). The fix is applied at install; an
 * install run with --ignore-scripts leaves kafkajs's original, so every Kafka client the runtime builds checks
 * first and refuses to start, naming the fix.
 */
import { ConfigError } from '../errors';

const PATCH = 'aborted-transactions-v1';
const MODULE = 'kafkajs/src/consumer/filterAbortedMessages';

let checked = false;
export function assertKafkajsPatched(): void {
  if (checked) return;
  const filter = require(MODULE) as { listflowPatch?: string };
  if (filter.listflowPatch !== PATCH) {
    throw new ConfigError('kafka client (the installed kafkajs)', [
      `${MODULE}.js is kafkajs's original, which can deliver records of aborted transactions to read_committed ` +
        'consumers. Fix: run `npm install` without --ignore-scripts, or `node scripts/kafkajs-patch/apply.cjs`.',
    ]);
  }
  checked = true;
}
