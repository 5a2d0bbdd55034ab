/** Step order over small pipelines of test steps; the listings pipeline's topics and stages are pipelines/listings.test.ts. */
import { definePipeline, stages } from './pipeline';

describe('stages', () => {
  const step = (id: string, input: string, output: string) => ({
    id,
    operator: 'echo',
    input,
    outputs: { out: output },
    concurrency: 1,
    timeoutMs: 1000,
    retry: { maxAttempts: 1, initialBackoffMs: 0, maxBackoffMs: 0 },
    replicas: 1,
  });
  const topic = { partitions: 1, schema: 'Listing' as const };

  test.each([
    { name: 'declared downstream first', steps: [step('c', 'b', 'c'), step('b', 'a', 'b')], want: ['b', 'c'] },
    { name: 'already in order', steps: [step('b', 'a', 'b'), step('c', 'b', 'c')], want: ['b', 'c'] },
    {
      name: 'independent branches keep declaration order',
      steps: [step('y', 'a', 'y'), step('x', 'a', 'x'), step('z', 'x', 'z')],
      want: ['y', 'x', 'z'],
    },
    {
      name: 'a cycle goes last, in declaration order',
      steps: [step('p', 'q', 'p'), step('q', 'p', 'q')],
      want: ['p', 'q'],
    },
  ])('$name', ({ steps, want }) => {
    const p = definePipeline({ name: 't', topics: { a: { ...topic, external: true }, b: topic, c: topic }, steps });
    expect(stages(p).map((s) => s.step.id)).toEqual(want);
  });
});
