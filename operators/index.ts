/**
 * The operator registry: every operator the runtime can run, by name. Pipelines refer to these names.
 * Each operator lives in its own folder; add one line here when you add an operator.
 */
import { type AnyOperator, defineRegistry } from '../runtime/operator';
import ingest from './ingest';
import normalize from './normalize';
import images from './images';
import publish from './publish';
import priceChanges from './price-changes';
import sources from './sources';

// The module is recorded so that operator threads load this same registry (runtime/operator-threads.ts).
export const operators: Record<string, AnyOperator> = defineRegistry(__filename, {
  sources,
  ingest,
  normalize,
  images,
  publish,
  'price-changes': priceChanges,
});
