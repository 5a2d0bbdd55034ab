/**
 * images: web-ready listing photos.
 *
 * - Input: Listing (listings.normalized).
 * - Output: port `enriched` -> EnrichedListing, the listing plus one ImageAsset per photo (in photo order).
 * - Key / idempotency: key = listing.id. Variants are content-addressed by the sha256 of the source bytes
 *   (`ab/<sha256>/<variant>.<ext>` under blobRoot or the S3 prefix, idempotent writes, manifest last; see
 *   blob-store/), so a replay or the same photo
 *   on two listings rewrites nothing: an image whose manifest exists is not decoded again, and one being rendered
 *   or stored by another job of this worker is waited for, not rendered twice. A photo is not even downloaded
 *   again when its media identity (source and MediaKey, or source and URL) is stored at the same version
 *   (MediaModificationTimestamp, or the URL): the media index in the blob store says which image it is (see
 *   reuse.ts), so a new version of a listing with unchanged photos makes no photo request.
 * - Error policy: a bad photo (fetch failure, blocked URL, too large, unsupported, corrupt) becomes a FAILED
 *   asset with its IMAGE_* reason code and the listing goes on. A blob-store outage is a
 *   RetriableError(BLOBSTORE_UNAVAILABLE): the runtime retries the listing (stored photos are skipped); an object
 *   store that refuses the bucket or credentials is PermanentError(BLOBSTORE_ACCESS_DENIED), dead-lettered for a
 *   redrive once fixed (and a worker that meets it at startup does not start).
 * - Resources: photos are decoded under one worker-wide limit (`concurrency`, default = cores) with
 *   `vipsThreads` libvips threads each and sharp's operation cache off, so memory stays bounded; variants are
 *   stored after a photo leaves the limit, so fsync latency never idles a core. Run the worker
 *   with UV_THREADPOOL_SIZE >= concurrency and, on glibc, with jemalloc preloaded (sharp's advice against
 *   fragmentation).
 */
import pLimit from 'p-limit';
import sharp from 'sharp';
import { defineOperator } from '../../runtime/operator';
import { photoStore } from './blob-gc';
import { openBlobStore } from './blob-store/index';
import { imagesConfig } from './config';
import { createFetcher } from './fetcher';
import { ImagesInFlight, type ImagesServices, processListing } from './process';

export default defineOperator({
  name: 'images',
  summary: 'Fetches listing photos and stores web-ready, metadata-free variants (thumb, card, full).',
  input: 'Listing',
  outputs: { enriched: 'EnrichedListing' },
  config: imagesConfig,
  deploy: { blobStore: { store: 'blobStore', root: 'blobRoot' } },
  // `listflow blobs gc` lists and removes stored images through this.
  tools: { photoStore },
  items: {
    photo:
      'A photo of a listing: fetched, checked and stored (ok), unchanged since stored and reused without a download (reused), or failed with its IMAGE_* code.',
  },
  async services(config, logger, metrics): Promise<ImagesServices> {
    const blobStore = await openBlobStore(config, logger);
    logger.info(blobStore.description, 'images: blob store opened');
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
      blobStore: blobStore.store,
      closeBlobStore: () => blobStore.close(),
      imageLimit: pLimit(config.concurrency),
      imagesInFlight: new ImagesInFlight(),
      ...(metrics && { metrics }),
    };
  },
  async closeServices(services) {
    services.closeBlobStore?.();
    await services.fetcher.close?.();
  },
  dryRun: {
    // Photos next to the feed are read from its folder; variants go to the scratch directory, never to the
    // object store a worker's environment names (LISTFLOW_IMAGES_BLOB_STORE).
    config: async ({ filesDir, scratchDir }) => ({
      blobRoot: await scratchDir(),
      blobStore: 'file',
      fileRoot: filesDir,
    }),
  },
  process: processListing,
});
