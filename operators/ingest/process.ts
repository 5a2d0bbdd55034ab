/**
 * ingest's job: read one feed and turn it into RawListing records plus job-status events. Pure: the file
 * system and the network come through `ctx.services`, the time through `ctx.clock`.
 */
import { classifyError, ListflowError, PermanentError } from '../../runtime/errors';
import { emit, type OperatorContext, type OutputEmit, type RejectEmit } from '../../runtime/operator';
import type { IngestJob, IngestJobState, IngestJobStatus, RawListing } from '../../schemas/generated/types';
import type { ingestConfig } from './config';
import type { ConfigOf } from '../../runtime/config';
import type { IngestServices } from './feed-sources';
import { type ReadOptions, readFeed } from './feed-readers';
import { listingKeyFieldsOf } from '../normalize/profiles/registry';

export type IngestConfig = ConfigOf<(typeof ingestConfig)['fields']>;
export type IngestContext = OperatorContext<IngestConfig, IngestServices>;
export type IngestEmit = OutputEmit<'raw', RawListing> | OutputEmit<'status', IngestJobStatus> | RejectEmit;

const FORMATS = new Set(['auto', 'json', 'ndjson', 'csv', 'reso_odata']);

/** `<source>:<ListingKey>`: the key of the RawListing and, later, the listing id. */
export const listingId = (source: string, listingKey: string): string => `${source}:${listingKey}`;

/** How a feed is read under ingest's settings: its limits, and the profile's listing-key fields. */
export function feedReadOptions(
  config: IngestConfig,
  profile: string | null | undefined,
  signal: AbortSignal,
): ReadOptions {
  return {
    fileRoot: config.fileRoot,
    httpTimeoutMs: config.httpTimeoutMs,
    maxFeedBytes: config.maxFeedBytes,
    maxRecordBytes: config.maxRecordBytes,
    maxPages: config.maxPages,
    keyFields: listingKeyFieldsOf(profile),
    signal,
  };
}

/**
 * Streams the feed. Yields a RUNNING status first, a RUNNING status with the counts every `progressEvery`
 * records, then COMPLETED; or FAILED plus a dead letter of the job when the feed cannot be read.
 * A transient failure is thrown (the runtime retries the job; keys are deterministic, so a replay
 * overwrites rather than duplicates) until the last attempt, which publishes FAILED.
 */
export async function* ingestFeed(job: IngestJob, ctx: IngestContext): AsyncGenerator<IngestEmit> {
  const counts = { records: 0, rejects: 0 };
  const status = (state: IngestJobState, errorCode: string | null = null, message: string | null = null) =>
    emit.output<'status', IngestJobStatus>('status', job.jobId, {
      jobId: job.jobId,
      source: job.source,
      uri: job.uri,
      state,
      records: counts.records,
      rejects: counts.rejects,
      errorCode,
      message,
      updatedAt: ctx.clock.now(),
    });

  yield status('RUNNING');
  try {
    validateJob(job);
    const items = readFeed(job.uri, job.format, ctx.services, feedReadOptions(ctx.config, job.profile, ctx.signal));
    for await (const item of items) {
      const where =
        item.page > 1
          ? `record ${item.position} (page ${item.page}, line ${item.line})`
          : `record ${item.position} (line ${item.line})`;
      if (item.ok) {
        counts.records++;
        const receivedAt = ctx.clock.now();
        yield emit.output<'raw', RawListing>('raw', listingId(job.source, item.listingKey), {
          jobId: job.jobId,
          source: job.source,
          listingKey: item.listingKey,
          position: item.position,
          receivedAt,
          defaultCountry: job.defaultCountry,
          defaultCurrency: job.defaultCurrency,
          profile: job.profile ?? null,
          payload: item.payload,
        });
      } else {
        counts.rejects++;
        yield emit.reject(item.code, `Job ${job.jobId}: ${where} of ${job.uri}: ${item.reason}.`, item.payload, {
          jobId: job.jobId,
          source: job.source,
          uri: job.uri,
          position: String(item.position),
          line: String(item.line),
          page: String(item.page),
        });
      }
      if ((counts.records + counts.rejects) % ctx.config.progressEvery === 0) yield status('RUNNING');
    }
  } catch (thrown) {
    if (ctx.signal.aborted) throw thrown; // deadline or shutdown: the runtime decides
    const c = classifyError(thrown);
    if (c.kind === 'bug' || (c.kind === 'retriable' && ctx.attempt < ctx.config.maxAttempts)) throw thrown;
    const message = `Job ${job.jobId} failed after ${counts.records} records and ${counts.rejects} rejects: ${c.message}`;
    yield status('FAILED', c.code, message);
    // The job's own bytes (payload null): after the cause is fixed, `listflow dlq redrive` resubmits it as is.
    yield emit.reject(c.code, message, null, {
      // The failure's own detail first (a blocked URL's host, address and rule), the job's names win.
      ...(c.error instanceof ListflowError ? c.error.detail : {}),
      jobId: job.jobId,
      source: job.source,
      uri: job.uri,
      attempt: String(ctx.attempt),
    });
    return;
  }
  yield status('COMPLETED');
}

function validateJob(job: IngestJob): void {
  if (job.jobId.trim() === '')
    throw new PermanentError('INGEST_JOB_INVALID', 'Expected a non-empty jobId for the ingest job but received "".');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(job.source)) {
    throw new PermanentError(
      'INGEST_JOB_INVALID',
      `Expected a source of letters, digits, '.', '_' or '-' for job ${job.jobId} but received ${JSON.stringify(job.source)}. The source prefixes every listing id (<source>:<ListingKey>).`,
    );
  }
  if (!FORMATS.has(job.format)) {
    throw new PermanentError(
      'INGEST_JOB_INVALID',
      `Expected format auto, json, ndjson, csv or reso_odata for job ${job.jobId} but received ${JSON.stringify(job.format)}.`,
    );
  }
}
