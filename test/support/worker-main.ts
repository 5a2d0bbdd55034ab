/**
 * Child-process entry for runtime integration tests: runs one worker of a small test pipeline, exactly as
 * `listflow run` does (settings from LISTFLOW_*, operator config from LISTFLOW_ECHO_*), so tests can
 * kill -9 it, SIGTERM it, or start several. Args: <input-topic> <output-topic> <partitions> [step-id]
 */
import { passThrough } from '../../runtime/passthrough';
import { definePipeline } from '../../runtime/pipeline';
import { prepareWorker, runWorker } from '../../runtime/run';
import { echoOperator } from './echo-operator';

export function testPipeline(input: string, output: string, partitions: number, stepId = 'echo', operator = 'echo') {
  return definePipeline({
    name: 'itest',
    topics: {
      [input]: { partitions, schema: 'RawListing', external: true },
      [output]: { partitions, schema: 'RawListing' },
    },
    steps: [
      {
        id: stepId,
        operator,
        input,
        outputs: { out: output },
        concurrency: Number(process.env.ITEST_CONCURRENCY ?? 8),
        timeoutMs: Number(process.env.ITEST_TIMEOUT_MS ?? 60_000),
        retry: { maxAttempts: 4, initialBackoffMs: 50, maxBackoffMs: 200 },
        replicas: 1,
      },
    ],
  });
}

if (require.main === module) {
  const [input, output, partitions, stepId] = process.argv.slice(2);
  if (!input || !output || !partitions) {
    console.error('usage: worker-main <input> <output> <partitions> [step-id]');
    process.exit(2);
  }
  const operator = process.env.ITEST_OPERATOR ?? 'echo';
  const registry = { echo: echoOperator, passthrough: passThrough('RawListing') };
  const prepared = prepareWorker(
    testPipeline(input, output, Number(partitions), stepId, operator),
    registry,
    stepId ?? 'echo',
    // The platform env every test exports carries the product operators' settings (images' object store, the
    // database URL), which this registry's operators do not own: a worker refuses LISTFLOW_ names it does not know.
    Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) => !/^LISTFLOW_(IMAGES|PUBLISH|INGEST|NORMALIZE|PRICE_CHANGES)_/.test(k) && k !== 'LISTFLOW_POSTGRES_URL',
      ),
    ),
  );
  runWorker(prepared).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
