/** The built-in pipeline against the operator registry (runtime/pipeline-validation.ts checks any pipeline). */
import { operators } from '../operators';
import { validatePipeline } from '../runtime/pipeline-validation';
import listings from './listings';

test('the built-in listings pipeline is valid against the real operators', () => {
  expect(validatePipeline(listings, operators)).toEqual([]);
});
