/**
 * images: Listing -> EnrichedListing. Pure: everything it touches comes through ctx.services.
 */
import { createHash } from 'node:crypto';
import type { LimitFunction } from 'p-limit';
import { ListflowError, PermanentError } from '../../runtime/errors';
import { type EmitFor, emit, type OperatorContext } from '../../runtime/operator';
import type { ImageAsset, Listing, Photo } from '../../schemas/generated/types';
import type { BlobStore, StoredImage } from './blob-store';
import { type ImagesConfig, parseVariants, type VariantSpec } from './config';
import { type Fetcher, sniffImageFormat } from './fetcher';
import { FILE_EXTENSION, type RenderedImage, type RenderOptions, renderVariants } from './variants';

export interface ImagesServices {
  readonly fetcher: Fetcher;
  readonly blobStore: BlobStore;
  /** One limit for the whole worker, shared by every job in flight: at most this many photos fetched and rendered at once. */
  readonly imageLimit: LimitFunction;
}

export type ImagesContext = OperatorContext<ImagesConfig, ImagesServices>;
export type ImagesEmit = EmitFor<{ enriched: 'EnrichedListing' }>;

export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function renderOptions(config: ImagesConfig): RenderOptions {
  return {
    variants: parseVariants(config.variants),
    format: config.format,
    quality: config.quality,
    effort: config.effort,
    maxPixels: config.maxPixels,
  };
}

/** A stored image can be reused only if it has exactly the variants (names, widths, format) asked for now. */
function matches(stored: StoredImage, specs: readonly VariantSpec[], format: string): boolean {
  if (stored.variants.length !== specs.length) return false;
  return specs.every((s) =>
    stored.variants.some(
      (v) => v.name === s.name && v.format === format && v.width === Math.min(s.width, stored.width),
    ),
  );
}

const okAsset = (photo: Photo, image: StoredImage): ImageAsset => ({
  sourceUrl: photo.url,
  order: photo.order,
  status: 'OK',
  reasonCode: null,
  reason: null,
  sha256: image.sha256,
  width: image.width,
  height: image.height,
  dhash: image.dhash,
  variants: image.variants.map((v) => ({ ...v })),
});

const failedAsset = (photo: Photo, e: ListflowError): ImageAsset => ({
  sourceUrl: photo.url,
  order: photo.order,
  status: 'FAILED',
  reasonCode: e.code,
  reason: e.message,
  sha256: null,
  width: null,
  height: null,
  dhash: null,
  variants: [],
});

/** True for errors that describe the photo (fail the asset); anything else fails the listing and is retried. */
const isPhotoFailure = (e: unknown): e is ListflowError =>
  e instanceof ListflowError && e.kind === 'permanent' && e.code.startsWith('IMAGE_');

/** What the image limit hands back: an image the store already has, or the rendered variants to store. */
type Prepared =
  | { readonly kind: 'stored'; readonly image: StoredImage }
  | { readonly kind: 'rendered'; readonly sha256: string; readonly rendered: RenderedImage };

/** Fetches and checks one photo, then reuses what the blob store has for its bytes or renders it. */
async function prepare(photo: Photo, ctx: ImagesContext, opts: RenderOptions): Promise<Prepared> {
  const { fetcher, blobStore } = ctx.services;
  const bytes = await fetcher.fetch(photo.url, ctx.signal);
  if (bytes.length === 0) throw new PermanentError('IMAGE_CORRUPT', 'the image is empty (0 bytes)');
  const format = sniffImageFormat(bytes);
  if (!format) {
    throw new PermanentError('IMAGE_UNSUPPORTED', 'the bytes are not a JPEG, PNG, WebP, GIF, AVIF or HEIC image');
  }
  const sha256 = sha256Hex(bytes);
  const stored = await blobStore.get(sha256);
  if (stored && matches(stored, opts.variants, opts.format)) {
    ctx.logger.debug({ url: photo.url, sha256 }, 'image already stored');
    return { kind: 'stored', image: stored };
  }
  return { kind: 'rendered', sha256, rendered: await renderVariants(bytes, opts) };
}

/**
 * One photo: fetched and rendered under the worker's image limit, stored after it.
 *
 * The limit covers what costs CPU and memory (the fetched bytes, the decoded pixels); storing the encoded
 * variants is I/O whose latency (one fsync per file) would otherwise hold a slot and leave a core idle. The
 * variants wait for storage in memory, a few hundred KB per photo, bounded by the photos of the jobs in flight.
 */
export async function processPhoto(photo: Photo, ctx: ImagesContext): Promise<ImageAsset> {
  const { blobStore, imageLimit } = ctx.services;
  const opts = renderOptions(ctx.config);
  try {
    const prepared = await imageLimit(() => prepare(photo, ctx, opts));
    if (prepared.kind === 'stored') return okAsset(photo, prepared.image);
    const { sha256, rendered } = prepared;
    const variants = await Promise.all(
      rendered.variants.map(async (v) => {
        const uri = await blobStore.putVariant(sha256, `${v.name}.${FILE_EXTENSION[v.format]}`, v.data);
        return { name: v.name, width: v.width, height: v.height, format: v.format, bytes: v.data.length, uri };
      }),
    );
    const image: StoredImage = {
      sha256,
      width: rendered.width,
      height: rendered.height,
      dhash: rendered.dhash,
      variants,
    };
    // Last: its presence says every variant is in place.
    await blobStore.putManifest(image);
    return okAsset(photo, image);
  } catch (e) {
    if (!isPhotoFailure(e)) throw e;
    ctx.logger.info({ url: photo.url, code: e.code, reason: e.message }, 'photo failed');
    return failedAsset(photo, e);
  }
}

export async function processListing(listing: Listing, ctx: ImagesContext): Promise<ImagesEmit[]> {
  // A deleted listing needs no photos: publish removes it.
  const photos = listing.status === 'DELETE' ? [] : [...listing.photos].sort((a, b) => a.order - b.order);
  const images = await Promise.all(photos.map((p) => processPhoto(p, ctx)));
  return [emit.output('enriched', listing.id, { listing, images, enrichedAt: ctx.clock.now() })];
}
