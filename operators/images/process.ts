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
import { FILE_EXTENSION, type RenderOptions, renderVariants } from './variants';

export interface ImagesServices {
  readonly fetcher: Fetcher;
  readonly blobStore: BlobStore;
  /** One limit for the whole worker, shared by every job in flight: at most this many photos at once. */
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

/** Fetches, checks, and renders one photo, or reuses what the blob store already has for its bytes. */
export async function processPhoto(photo: Photo, ctx: ImagesContext): Promise<ImageAsset> {
  const { fetcher, blobStore } = ctx.services;
  const opts = renderOptions(ctx.config);
  try {
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
      return okAsset(photo, stored);
    }
    const rendered = await renderVariants(bytes, opts);
    const variants = [];
    for (const v of rendered.variants) {
      const uri = await blobStore.putVariant(sha256, `${v.name}.${FILE_EXTENSION[v.format]}`, v.data);
      variants.push({ name: v.name, width: v.width, height: v.height, format: v.format, bytes: v.data.length, uri });
    }
    const image: StoredImage = {
      sha256,
      width: rendered.width,
      height: rendered.height,
      dhash: rendered.dhash,
      variants,
    };
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
  const images = await Promise.all(photos.map((p) => ctx.services.imageLimit(() => processPhoto(p, ctx))));
  return [emit.output('enriched', listing.id, { listing, images, enrichedAt: ctx.clock.now() })];
}
