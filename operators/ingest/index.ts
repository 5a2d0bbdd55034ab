/**
 * ingest: reads one MLS feed per IngestJob and emits every record as a RawListing.
 *
 * - Input: IngestJob (listings.ingest-jobs), key jobId.
 * - Outputs: port `raw` -> RawListing keyed `<source>:<ListingKey>`; port `status` -> IngestJobStatus keyed
 *   jobId (RUNNING at the start and every `progressEvery` records, then COMPLETED or FAILED with counts).
 * - Formats: JSON array, NDJSON, CSV with a header row, RESO Web API OData pages (following @odata.nextLink);
 *   gzip detected from the magic bytes; `auto` sniffs the format. Streaming, so memory stays bounded.
 * - Idempotency: keys are deterministic, so a retried job rewrites the same keys (the last write wins on
 *   the compacted view, and normalize is idempotent per key).
 * - Errors: one unreadable record or one without a ListingKey is a reject (dead letter naming the job,
 *   position, line and reason; the payload is the record's text) and the feed goes on. A feed that cannot be
 *   read: transient causes (network, timeout, 5xx, 429) are thrown as RetriableError and retried by the
 *   runtime; on the last attempt (`maxAttempts`), and at once for permanent causes (404, permission denied,
 *   a path outside `fileRoot`, a broken frame, too large), the job publishes FAILED and dead-letters the job
 *   as JSON with the code.
 * - Security: file:// confined to `fileRoot` (lexically and after symlinks); http(s) through the runtime's
 *   guarded client (runtime/http): public unicast addresses only unless a host is on `allowHosts` (checked
 *   at connect time and on every redirect hop), connect, idle and whole-transfer timeouts, a byte limit (also
 *   after gunzip); an OData nextLink must stay on the first page's origin (or an allow-listed host) and a
 *   remote page may not link to file://. Archives served as a feed are refused by their magic bytes.
 */
import { defineOperator } from '../../runtime/operator';
import { ingestConfig } from './config';
import { ingestFeed } from './process';
import { closeIngestServices, feedReader, ingestServices } from './tools';

export default defineOperator({
  name: 'ingest',
  summary: 'Reads an MLS feed (JSON, NDJSON, CSV, RESO OData; gzip) into RawListing records.',
  input: 'IngestJob',
  outputs: { raw: 'RawListing', status: 'IngestJobStatus' },
  config: ingestConfig,
  deploy: { feeds: { root: 'fileRoot' } },
  services: ingestServices,
  closeServices: closeIngestServices,
  // The dry run reads the feed it was given, from its folder, with the step's attempts per fetch.
  dryRun: { config: ({ filesDir, retry }) => ({ fileRoot: filesDir, maxAttempts: retry.maxAttempts }) },
  // `profile check` reads a feed as this worker would, with the same services.
  tools: { feedReader: feedReader(ingestServices, closeIngestServices) },
  process: (job, ctx) => ingestFeed(job, ctx),
});
