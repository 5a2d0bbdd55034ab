/**
 * A scriptable operator for the runtime's integration tests. It reads RawListing and writes RawListing
 * with the same key, appending `|echo` to the payload, so a test can match every output to its input.
 * Behaviour comes from its config (LISTFLOW_ECHO_* in a child process):
 * - minDelayMs/maxDelayMs: a pseudo-random job time derived from the offset (deterministic, abortable);
 * - poison: a payload containing this text fails permanently (dead letter);
 * - flaky: a payload containing this text fails retriably until attempt `healOnAttempt`;
 * - slow/slowMs: a payload containing `slow` takes slowMs (longer than the session timeout in one test).
 */
import { defineConfig, field } from '../../runtime/config';
import { PermanentError, RetriableError } from '../../runtime/errors';
import { defineOperator, emit } from '../../runtime/operator';
import { sleep } from '../../runtime/execute/retry';

export const echoOperator = defineOperator({
  name: 'echo',
  summary: 'Test operator: copies RawListing with a marker, with scriptable delays and failures.',
  input: 'RawListing',
  outputs: { out: 'RawListing' },
  config: defineConfig({
    minDelayMs: field.int({ description: 'Minimum job time.', min: 0, default: 0 }),
    maxDelayMs: field.int({ description: 'Maximum job time.', min: 0, default: 0 }),
    poison: field.string({ description: 'Payload text that fails permanently.', default: '\u0000never' }),
    flaky: field.string({ description: 'Payload text that fails retriably.', default: '\u0000never' }),
    healOnAttempt: field.int({ description: 'Attempt on which flaky records succeed.', min: 1, default: 3 }),
    slow: field.string({ description: 'Payload text that makes a job slow.', default: '\u0000never' }),
    slowMs: field.int({ description: 'Job time of slow records.', min: 0, default: 0 }),
  }),
  async process(record, ctx) {
    const c = ctx.config;
    if (record.payload.includes(c.poison)) {
      throw new PermanentError('NORMALIZE_PAYLOAD_INVALID', `poison record ${record.listingKey}`);
    }
    if (record.payload.includes(c.flaky) && ctx.attempt < c.healOnAttempt) {
      throw new RetriableError(
        'INGEST_FEED_UNREACHABLE',
        `flaky record ${record.listingKey} failed on attempt ${ctx.attempt}`,
      );
    }
    const spread = c.maxDelayMs - c.minDelayMs;
    const delay = record.payload.includes(c.slow)
      ? c.slowMs
      : c.minDelayMs + (spread > 0 ? (Number(ctx.input.offset) * 7919) % (spread + 1) : 0);
    if (delay > 0) await sleep(delay, ctx.signal);
    return [emit.output('out', ctx.input.key ?? record.listingKey, { ...record, payload: `${record.payload}|echo` })];
  },
});
