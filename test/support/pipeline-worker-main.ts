/**
 * Child-process entry for the operators' integration tests: runs one step of a test pipeline with the REAL
 * operators (operators/index.ts), exactly as `listflow run --operator <step>` does: worker settings from
 * LISTFLOW_*, operator config from LISTFLOW_<OPERATOR>_*. The pipeline, whose topic names and name (hence
 * consumer groups) are unique per test run, comes from LISTFLOW_PIPELINE_FILE, which the runtime reads itself.
 * It is required here: without it the worker would run against the shared `listings.*` topics.
 * Args: <step-id>
 */
import { operators } from '../../operators';
import listings from '../../pipelines/listings';
import { prepareWorker, runWorker } from '../../runtime/run';

if (require.main === module) {
  const [stepId] = process.argv.slice(2);
  if (!stepId || !process.env.LISTFLOW_PIPELINE_FILE) {
    console.error('usage: LISTFLOW_PIPELINE_FILE=<pipeline.json> pipeline-worker-main <step-id>');
    process.exit(2);
  }
  let prepared: ReturnType<typeof prepareWorker>;
  try {
    prepared = prepareWorker(listings, operators, stepId, process.env);
  } catch (e) {
    console.error(e);
    process.exit(2);
  }
  runWorker(prepared).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
