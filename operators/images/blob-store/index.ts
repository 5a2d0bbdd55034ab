/**
 * Where image variants live: a content-addressed blob store, chosen once per worker from the images config.
 *
 * - `blobStore: file` (the default): FsBlobStore under `blobRoot` (a local folder or a shared volume).
 * - `blobStore: s3://bucket/prefix`: S3BlobStore through one S3 client for the worker (@aws-sdk/client-s3).
 *   Endpoint, region and path style come from the images config; credentials from the SDK's default chain
 *   (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a web identity token, an instance role), never from config.
 */
import { ListflowError } from '../../../runtime/errors';
import type { Logger } from '../../../runtime/operator';
import type { ImagesConfig } from '../config';
import { FsBlobStore } from './fs';
import type { BlobStore } from './store';

export { FsBlobStore, INCOMING_DIR } from './fs';
export { type BlobStore, blobKey, contentTypeOf, MANIFEST, type StoredImage } from './store';

export type BlobStoreLocation =
  | { readonly kind: 'file' }
  | { readonly kind: 's3'; readonly bucket: string; readonly prefix: string };

/** `file` or `s3://bucket/a/b` -> bucket and prefix `a/b/` (the config pattern has already checked the shape). */
export function parseBlobStore(value: string): BlobStoreLocation {
  if (value === 'file') return { kind: 'file' };
  const rest = value.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash + 1).replace(/^\/+|\/+$/g, '');
  return { kind: 's3', bucket, prefix: path === '' ? '' : `${path}/` };
}

/**
 * The S3 endpoint as messages name it. Without LISTFLOW_IMAGES_S3_ENDPOINT the SDK picks it from its own
 * variables; the operator reads no environment itself (its config arrives through the runtime), so the
 * message names where the SDK looks instead of reading those variables a second time.
 */
export function s3EndpointName(config: Pick<ImagesConfig, 's3Endpoint' | 's3Region'>): string {
  return (
    config.s3Endpoint ??
    `the SDK's default S3 endpoint for ${config.s3Region} (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS S3)`
  );
}

export interface OpenedBlobStore {
  readonly store: BlobStore;
  /** What the worker's logs say about it (never a credential). */
  readonly description: Record<string, string>;
  /** Releases the store's connections at shutdown. */
  close(): void;
}

/**
 * Opens the configured store. The filesystem store sweeps what a killed writer left; the S3 store asks for the
 * bucket once (HEAD), so wrong credentials or a missing bucket stop the worker at startup with the fix, while an
 * outage at startup only warns (the runtime retries the listings once it is back).
 *
 * @throws PermanentError(BLOBSTORE_ACCESS_DENIED) when the object store refuses the bucket or the credentials.
 */
export async function openBlobStore(config: ImagesConfig, logger: Logger): Promise<OpenedBlobStore> {
  const location = parseBlobStore(config.blobStore);
  if (location.kind === 'file') {
    const store = new FsBlobStore({ root: config.blobRoot, publicBaseUrl: config.publicBaseUrl });
    // Temp files a killed worker left behind; an hour is far longer than any write of a live replica.
    const swept = await store.sweepIncoming(60 * 60 * 1000);
    if (swept > 0) logger.info({ swept }, 'images: removed stale temp files from the blob store');
    return { store, description: { blobStore: 'file', blobRoot: config.blobRoot }, close: () => undefined };
  }
  const endpoint = s3EndpointName(config);
  // Loaded only when an S3 store is configured: the SDK costs ~0.2 s to load, which every CLI call
  // (the operator registry reaches this module) would otherwise pay.
  const { createS3Client, S3BlobStore } = require('./s3') as typeof import('./s3');
  const client = createS3Client(config);
  const store = new S3BlobStore({
    client,
    target: { bucket: location.bucket, prefix: location.prefix, region: config.s3Region, endpoint },
    publicBaseUrl: config.publicBaseUrl,
    variantAcl: config.s3ObjectAcl === 'none' ? undefined : config.s3ObjectAcl,
  });
  try {
    await store.probe();
  } catch (e) {
    if (e instanceof ListflowError && e.retriable) {
      logger.warn(
        { err: e.message },
        'images: the object store did not answer at startup; listings retry until it does',
      );
    } else {
      client.destroy();
      throw e;
    }
  }
  return {
    store,
    description: { blobStore: config.blobStore, endpoint, region: config.s3Region },
    close: () => client.destroy(),
  };
}
