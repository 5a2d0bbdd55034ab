/**
 * The runtime's pass-through operator: emits every record unchanged, under the same key, on port `out`.
 * It measures what the runtime itself costs (benchmarks compare real operators against it) and is the
 * simplest operator the runtime's own integration tests run.
 *
 * Input: any schema. Output: the same schema. Idempotency key: the input key. Errors: none of its own.
 */
import type { SchemaName } from '../schemas/generated/types';
import { defineConfig } from './config';
import { defineOperator, emit } from './operator';

export function passThrough<S extends SchemaName>(schema: S) {
  return defineOperator({
    name: 'passthrough',
    summary: `Copies ${schema} records unchanged (runtime baseline).`,
    input: schema,
    outputs: { out: schema },
    config: defineConfig({}),
    process: (record, ctx) => [emit.output('out', ctx.input.key ?? '', record)],
  });
}
