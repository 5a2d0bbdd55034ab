/**
 * publish: the published view of listings, in Kafka and in PostgreSQL.
 *
 * - Input: EnrichedListing (listings.enriched), in batches (processBatch).
 * - Output: port `published` -> PublishedListing on the compacted topic listings.published, keyed by
 *   listing id; status DELETE produces a tombstone. previousPrice carries the price of the replaced version.
 * - PostgreSQL: table `listings` (query columns + the document as jsonb), `listing_tombstones`, and the
 *   `listing_search` view, from versioned migrations applied at startup (`migrate`). One transaction per
 *   batch; offsets are committed by the runtime only after it commits and the outputs are acknowledged.
 * - Idempotency: version guard on modifiedAt. Older never overwrites newer; equal is a no-op that re-emits the
 *   stored state unchanged, so a replay leaves the table and the topic's latest values as after one run.
 * - Error policy: connection, serialization, deadlock, timeout and resource failures are
 *   RetriableError(PUBLISH_DB_UNAVAILABLE) and the whole batch is retried (the transaction rolled back);
 *   constraint and data errors are PermanentError(PUBLISH_DB_REJECTED), and the runtime splits the batch
 *   to dead-letter only the offending record.
 */
import { defineOperator } from '../../runtime/operator';
import { publishConfig } from './config';
import { createPgDb } from './db';
import { MemoryPublishDb } from './memory-db';
import { applyMigrations } from './migrations';
import { type PublishServices, publishBatch } from './process';
import { publishedListings } from './queries';

export default defineOperator({
  name: 'publish',
  summary: 'Upserts listings into PostgreSQL (version-guarded, batched) and publishes them to listings.published.',
  input: 'EnrichedListing',
  outputs: { published: 'PublishedListing' },
  config: publishConfig,
  deploy: { database: { url: 'postgresUrl' } },
  // The CLI reads the published view through these (listings get|search, ingest --wait, the status page).
  tools: { publishedListings },
  async services(config, logger): Promise<PublishServices> {
    const db = createPgDb({
      url: config.postgresUrl,
      poolSize: config.poolSize,
      statementTimeoutMs: config.statementTimeoutMs,
      connectTimeoutMs: config.connectTimeoutMs,
    });
    if (config.migrate) {
      try {
        const applied = await applyMigrations(db);
        logger.info({ applied }, applied.length ? 'publish: migrations applied' : 'publish: schema up to date');
      } catch (e) {
        await db.close().catch(() => undefined);
        throw e;
      }
    }
    return { db };
  },
  closeServices: (services) => services.db.close(),
  dryRun: {
    // An in-memory stand-in of the database (memory-db.ts): the URL is never dialled, so a dry run needs none.
    config: () => ({ postgresUrl: 'postgres://dry-run.invalid/listflow' }),
    services: (): PublishServices => ({ db: new MemoryPublishDb() }),
  },
  processBatch: publishBatch,
});
