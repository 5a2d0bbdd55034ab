/**
 * The operator registry: every operator the runtime can run, by name. Pipelines refer to these names.
 * Each operator lives in its own folder; add one line here when you add an operator.
 */
import type { OperatorDefinition } from '../runtime/operator';

// biome-ignore lint/suspicious/noExplicitAny: the registry holds operators of every input/output type.
export const operators: Record<string, OperatorDefinition<any, any, any, any>> = {};
