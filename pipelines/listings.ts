/**
 * The listings pipeline:
 *   sources (RESO Web API replication) -> listings.raw (+ listings.source-state, the cursors)
 *   ingest -> listings.raw -> normalize -> listings.normalized -> images -> listings.enriched
 *   -> publish -> listings.published (+ PostgreSQL view) -> price-changes -> listings.price-changes
 *
 * Topology only: operators live in operators/, the runtime in runtime/.
 */
import { definePipeline } from '../runtime/pipeline';

const DAY_MS = 24 * 60 * 60 * 1000;

export default definePipeline({
  name: 'listings',
  topics: {
    // Written by `listflow ingest` (outside the pipeline).
    'listings.ingest-jobs': { partitions: 3, schema: 'IngestJob', retentionMs: 7 * DAY_MS, external: true },
    'listings.ingest-status': { partitions: 3, schema: 'IngestJobStatus', compact: true },
    // One record per declared source, written by `listflow sources apply` from the sources file; the sources
    // step's replicas share its partitions, so a source has one poller. More partitions than replicas lets a
    // rebalance spread the sources; a replica past the partition count would own nothing.
    'listings.sources': { partitions: 4, schema: 'SourceDeclaration', compact: true, external: true },
    'listings.source-state': { partitions: 4, schema: 'SourceState', compact: true },
    // The listings each source holds (key <source>:<ListingKey>): what a purge pass compares with the server's keys.
    'listings.source-keys': { partitions: 4, schema: 'SourceKey', compact: true },
    'listings.raw': { partitions: 6, schema: 'RawListing', retentionMs: 7 * DAY_MS },
    'listings.normalized': { partitions: 6, schema: 'Listing', retentionMs: 7 * DAY_MS },
    'listings.enriched': { partitions: 6, schema: 'EnrichedListing', retentionMs: 7 * DAY_MS },
    'listings.published': { partitions: 6, schema: 'PublishedListing', compact: true },
    'listings.price-changes': { partitions: 3, schema: 'PriceChanged', retentionMs: 30 * DAY_MS },
  },
  steps: [
    {
      // A poller per source, owned (not consumed): see operators/sources/index.ts and runtime/assigned/.
      id: 'sources',
      operator: 'sources',
      input: 'listings.sources',
      outputs: { raw: 'listings.raw', state: 'listings.source-state', keys: 'listings.source-keys' },
      concurrency: 1,
      timeoutMs: 10 * 60 * 1000,
      // Restarts of a source's poller after a failure its own bounded request retries did not absorb.
      retry: { maxAttempts: 8, initialBackoffMs: 1000, maxBackoffMs: 60_000 },
      replicas: 1,
      resources: { cpu: '250m', memory: '256Mi', memoryLimit: '512Mi' },
    },
    {
      id: 'ingest',
      operator: 'ingest',
      input: 'listings.ingest-jobs',
      outputs: { raw: 'listings.raw', status: 'listings.ingest-status' },
      concurrency: 1,
      timeoutMs: 30 * 60 * 1000,
      retry: { maxAttempts: 5, initialBackoffMs: 1000, maxBackoffMs: 60_000 },
      replicas: 1,
      resources: { cpu: '250m', memory: '256Mi', memoryLimit: '512Mi' },
    },
    {
      id: 'normalize',
      operator: 'normalize',
      input: 'listings.raw',
      outputs: { listings: 'listings.normalized' },
      // normalize is CPU per record: one thread runs it off the event loop that does the Kafka I/O, hence a
      // core per pod. A job on a thread waits for a round trip, so more of them are in flight to keep the
      // thread and the event loop both busy (bench:normalize: 0.80 at 16, 0.92 at 64; the pass-through is
      // the same at either).
      concurrency: 64,
      threads: 1,
      timeoutMs: 10_000,
      retry: { maxAttempts: 3, initialBackoffMs: 200, maxBackoffMs: 5_000 },
      replicas: 2,
      resources: { cpu: '1', memory: '256Mi', memoryLimit: '512Mi' },
    },
    {
      id: 'images',
      operator: 'images',
      input: 'listings.normalized',
      outputs: { enriched: 'listings.enriched' },
      concurrency: 4,
      timeoutMs: 120_000,
      retry: { maxAttempts: 5, initialBackoffMs: 1000, maxBackoffMs: 30_000 },
      replicas: 2,
      resources: { cpu: '1', memory: '1Gi', cpuLimit: '2', memoryLimit: '2Gi' },
    },
    {
      id: 'publish',
      operator: 'publish',
      input: 'listings.enriched',
      outputs: { published: 'listings.published' },
      concurrency: 1,
      timeoutMs: 30_000,
      retry: { maxAttempts: 8, initialBackoffMs: 500, maxBackoffMs: 30_000 },
      replicas: 1,
      resources: { cpu: '250m', memory: '256Mi', memoryLimit: '512Mi' },
    },
    {
      id: 'price-changes',
      operator: 'price-changes',
      input: 'listings.published',
      outputs: { changes: 'listings.price-changes' },
      concurrency: 8,
      timeoutMs: 10_000,
      retry: { maxAttempts: 3, initialBackoffMs: 200, maxBackoffMs: 5_000 },
      replicas: 1,
      resources: { cpu: '100m', memory: '128Mi', memoryLimit: '256Mi' },
    },
  ],
});
