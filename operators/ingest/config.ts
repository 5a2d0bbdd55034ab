/** ingest's configuration (LISTFLOW_INGEST_* in a worker). */
import { defineConfig, field } from '../../runtime/config';

export const ingestConfig = defineConfig({
  fileRoot: field.string({
    description: 'Absolute directory that file:// feeds must be inside; `..` and symlinks leading out are refused.',
    pattern: /^\//,
    patternText: 'absolute path',
    example: '/var/lib/listflow/feeds',
  }),
  httpTimeoutMs: field.int({
    description: 'Time limit for fetching one http(s) feed or OData page, body included.',
    min: 100,
    default: 120_000,
  }),
  maxFeedBytes: field.int({
    description: 'Largest feed or OData page, in bytes, as transferred and after gunzip.',
    min: 1,
    default: 2 * 1024 ** 3,
  }),
  maxRecordBytes: field.int({
    description: 'Largest single record (a JSON element, an NDJSON line, a CSV row), in characters.',
    min: 1024,
    default: 1024 * 1024,
  }),
  maxPages: field.int({
    description: 'Most OData pages followed through @odata.nextLink in one job (stops link loops).',
    min: 1,
    default: 100_000,
  }),
  progressEvery: field.int({
    description: 'Publish a RUNNING status with the counts every this many feed records.',
    min: 1,
    default: 10_000,
  }),
  maxAttempts: field.int({
    description:
      "The ingest step's retry.maxAttempts: on the last attempt a transient failure publishes FAILED instead of retrying.",
    min: 1,
    default: 5,
  }),
});
