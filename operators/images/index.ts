/**
 * images: web-ready listing photos.
 *
 * - Input: Listing (listings.normalized).
 * - Output: port `enriched` -> EnrichedListing, the listing plus one ImageAsset per photo (in photo order).
 * - Key / idempotency: key = listing.id. Variants are content-addressed by the sha256 of the source bytes
 *   (`<blobRoot>/ab/<sha256>/<variant>.<ext>`, atomic writes, manifest last), so a replay or the same photo
 *   on two listings rewrites nothing: an image whose manifest exists is not decoded again, and one being rendered
 *   or stored by another job of this worker is waited for, not rendered twice.
 * - Error policy: a bad photo (fetch failure, blocked URL, too large, unsupported, corrupt) becomes a FAILED
 *   asset with its IMAGE_* reason code and the listing goes on. A blob-store failure is a
 *   RetriableError(BLOBSTORE_UNAVAILABLE): the runtime retries the listing (stored photos are skipped).
 * - Resources: photos are decoded under one worker-wide limit (`concurrency`, default = cores) with
 *   `vipsThreads` libvips threads each and sharp's operation cache off, so memory stays bounded; variants are
 *   stored after a photo leaves the limit, so fsync latency never idles a core. Run the worker
 *   with UV_THREADPOOL_SIZE >= concurrency and, on glibc, with jemalloc preloaded (sharp's advice against
 *   fragmentation).
 */
import pLimit from 'p-limit';
import sharp from 'sharp';
import { defineOperator } from '../../runtime/operator';
import { FsBlobStore } from './blob-store';
import { imagesConfig } from './config';
import { createFetcher } from './fetcher';
import { ImagesInFlight, type ImagesServices, processListing } from './process';

export default defineOperator({
  name: 'images',
  summary: 'Fetches listing photos and stores web-ready, metadata-free variants (thumb, card, full).',
  input: 'Listing',
  outputs: { enriched: 'EnrichedListing' },
  config: imagesConfig,
  async services(config, logger): Promise<ImagesServices> {
    const blobStore = new FsBlobStore({ root: config.blobRoot, publicBaseUrl: config.publicBaseUrl });
    // Temp files a killed worker left behind; an hour is far longer than any write of a live replica.
    const swept = await blobStore.sweepIncoming(60 * 60 * 1000);
    if (swept > 0) logger.info({ swept }, 'images: removed stale temp files from the blob store');
    // Process-wide sharp settings belong to the worker that owns the process, set once here.
    sharp.cache(false);
    sharp.concurrency(config.vipsThreads);
    logger.info(
      { concurrency: config.concurrency, vipsThreads: config.vipsThreads, simd: sharp.simd() },
      'images: sharp configured',
    );
    return {
      fetcher: createFetcher({
        connectTimeoutMs: config.connectTimeoutMs,
        readTimeoutMs: config.readTimeoutMs,
        maxBytes: config.maxBytes,
        maxRedirects: config.maxRedirects,
        attempts: config.fetchAttempts,
        allowHosts: config.allowHosts,
        fileRoot: config.fileRoot,
      }),
      blobStore,
      imageLimit: pLimit(config.concurrency),
      imagesInFlight: new ImagesInFlight(),
    };
  },
  process: processListing,
});
