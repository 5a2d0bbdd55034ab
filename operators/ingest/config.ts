/** ingest's configuration (LISTFLOW_INGEST_* in a worker). */
import { defineConfig, field } from '../../runtime/config';
import { allowHostsField } from '../../runtime/http/allow-list';

export const ingestConfig = defineConfig({
  fileRoot: field.string({
    description: 'Absolute directory that file:// feeds must be inside; `..` and symlinks leading out are refused.',
    pattern: /^\//,
    patternText: 'absolute path',
    example: '/var/lib/listflow/feeds',
  }),
  httpTimeoutMs: field.int({
    description: 'Time limit for fetching one http(s) feed or OData page, redirects and body included.',
    min: 100,
    default: 120_000,
  }),
  connectTimeoutMs: field.int({ description: 'TCP/TLS connect timeout per http(s) request.', min: 1, default: 10_000 }),
  idleTimeoutMs: field.int({
    description:
      'Longest wait for response headers, and between two body chunks, of an http(s) feed (a trickling server).',
    min: 1,
    default: 30_000,
  }),
  maxRedirects: field.int({ description: 'Redirects followed per feed or OData page.', min: 0, max: 20, default: 5 }),
  allowHosts: allowHostsField({
    description:
      'host[:port] entries ingest may reach although they resolve to non-public addresses (loopback, private, link-local), and that an OData nextLink may lead to from another origin. Everything else is refused.',
    example: 'feeds.internal,127.0.0.1:18090',
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
