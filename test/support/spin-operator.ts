/**
 * A cpuBound test operator for the operator-threads tests (runtime/operator-threads.test.ts), loaded by the
 * thread from the build (dist/test/support/spin-operator.js, through the registry it exports). It copies RawListing like the echo operator,
 * and its payload scripts a failure:
 * - `spin`: loops forever (a thread stuck in one job);
 * - `type-error`: a bug (TypeError);
 * - `permanent`: a PermanentError with a code and detail;
 * - `bad-output`: an output that does not fit its schema (price as text).
 */
import { defineConfig } from '../../runtime/config';
import { PermanentError } from '../../runtime/errors';
import { defineOperator, defineRegistry, emit } from '../../runtime/operator';

const spin = defineOperator({
  name: 'spin',
  summary: 'Test operator for operator threads: copies RawListing; its payload scripts stuck jobs and failures.',
  input: 'RawListing',
  outputs: { out: 'RawListing' },
  config: defineConfig({}),
  cpuBound: true,
  process(record, ctx) {
    const p = record.payload;
    if (p.includes('spin')) for (;;);
    if (p.includes('type-error')) (undefined as unknown as { x: () => void }).x();
    if (p.includes('permanent')) {
      throw new PermanentError('NORMALIZE_PAYLOAD_INVALID', `scripted rejection of ${record.listingKey}`, {
        detail: { field: 'payload' },
      });
    }
    if (p.includes('bad-output')) {
      // Deliberately off-schema, as a buggy operator would emit it.
      const off = { ...record, position: 'x' } as unknown as typeof record;
      return [emit.output('out', record.listingKey, off)];
    }
    return [
      emit.output(
        'out',
        ctx.input.key ?? record.listingKey,
        { ...record, payload: `${p}|thread` },
        { attempt: String(ctx.attempt) },
      ),
    ];
  },
});

export default spin;
/** A registry of its own, which the threads load it through (runtime/operator-thread.ts). */
export const operators = defineRegistry(__filename, { spin });
