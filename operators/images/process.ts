/**
 * images: Listing -> EnrichedListing. Pure: everything it touches comes through ctx.services.
 */
import { createHash } from 'node:crypto';
import type { LimitFunction } from 'p-limit';
import { ListflowError, PermanentError } from '../../runtime/errors';
import { type EmitFor, emit, type ItemMetrics, type OperatorContext } from '../../runtime/operator';
import type { ImageAsset, Listing, Photo } from '../../schemas/generated/types';
import type { BlobStore, StoredImage } from './blob-store/index';
import { type ImagesConfig, parseVariants } from './config';
import { type Fetcher, sniffImageFormat } from './fetcher';
import { decideReuse, identityOf, type MediaIdentity, mediaEntry, storedForReuse } from './reuse';
import { FILE_EXTENSION, type RenderedImage, type RenderOptions, renderVariants } from './variants';

export interface ImagesServices {
  readonly fetcher: Fetcher;
  readonly blobStore: BlobStore;
  /** Releases the blob store's connections (the S3 client) when the worker stops. */
  readonly closeBlobStore?: () => void;
  /** One limit for the whole worker, shared by every job in flight: at most this many photos fetched and rendered at once. */
  readonly imageLimit: LimitFunction;
  /** Images being rendered and stored right now, by sha256, so one source image is rendered once however many photos carry it. */
  readonly imagesInFlight: ImagesInFlight;
  /** The worker's item counts (`photo`: ok, reused, or failed by code); absent in tests and the dry run. */
  readonly metrics?: ItemMetrics;
}

/**
 * The worker's images in flight. The blob store alone cannot say "stored": an image whose variants are still
 * being written (outside the limit, see processPhoto) has no manifest yet, so a second photo with the same bytes,
 * in this listing or another, would render and store it again. It waits for the first one instead.
 */
export class ImagesInFlight {
  readonly #claims = new Map<string, Promise<StoredImage>>();

  get size(): number {
    return this.#claims.size;
  }

  /** The image another photo is already producing, if any. */
  pending(sha256: string): Promise<StoredImage> | undefined {
    return this.#claims.get(sha256);
  }

  /** Claims an image; whoever claims must settle it (the claim is dropped once settled, so the map stays small). */
  claim(sha256: string): Claim {
    let resolve!: (image: StoredImage) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<StoredImage>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Nobody may be waiting: a failure then belongs to the claimer alone, not to an unhandled rejection.
    promise.catch(() => undefined);
    this.#claims.set(sha256, promise);
    return {
      resolve: (image) => {
        this.#claims.delete(sha256);
        resolve(image);
      },
      reject: (e) => {
        this.#claims.delete(sha256);
        reject(e);
      },
    };
  }
}

interface Claim {
  resolve(image: StoredImage): void;
  reject(e: unknown): void;
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
  | { readonly kind: 'shared'; readonly image: Promise<StoredImage> }
  | { readonly kind: 'rendered'; readonly sha256: string; readonly rendered: RenderedImage; readonly claim: Claim };

/**
 * One photo's bytes, with a `photo-fetch` child of the job's span when spans are exported (the fetcher's own
 * retries inside it): the URL's host, not the URL, which may carry an MLS token in its query.
 */
async function fetchPhoto(photo: Photo, ctx: ImagesContext): Promise<Buffer> {
  const { fetcher } = ctx.services;
  if (!ctx.span.recording) return fetcher.fetch(photo.url, ctx.signal);
  const startedAt = Date.now();
  const attributes = { 'server.address': hostOf(photo.url) };
  try {
    const bytes = await fetcher.fetch(photo.url, ctx.signal);
    ctx.span.phase('photo-fetch', startedAt, Date.now(), { ...attributes, 'listflow.photo.bytes': bytes.length });
    return bytes;
  } catch (e) {
    const code = e instanceof ListflowError ? e.code : 'UNEXPECTED';
    ctx.span.phase('photo-fetch', startedAt, Date.now(), attributes, code);
    throw e;
  }
}

const hostOf = (url: string): string => {
  try {
    return new URL(url).host || 'file';
  } catch {
    return 'invalid';
  }
};

/** Fetches and checks one photo, then reuses what another photo or the blob store has for its bytes, or renders it. */
async function prepare(photo: Photo, ctx: ImagesContext, opts: RenderOptions): Promise<Prepared> {
  const { blobStore, imagesInFlight } = ctx.services;
  const bytes = await fetchPhoto(photo, ctx);
  if (bytes.length === 0) throw new PermanentError('IMAGE_CORRUPT', 'the image is empty (0 bytes)');
  const format = sniffImageFormat(bytes);
  if (!format) {
    throw new PermanentError('IMAGE_UNSUPPORTED', 'the bytes are not a JPEG, PNG, WebP, GIF, AVIF or HEIC image');
  }
  const sha256 = sha256Hex(bytes);
  // Checked and claimed with no await in between, so two photos cannot both claim the same bytes.
  const pending = imagesInFlight.pending(sha256);
  if (pending) return { kind: 'shared', image: pending };
  const claim = imagesInFlight.claim(sha256);
  try {
    // Touched like a photo reused by its media identity: another listing's photo with these bytes is as
    // unreferenced as that one until publish (see storedForReuse).
    const stored = await storedForReuse(blobStore, sha256, opts.variants, opts.format);
    if (stored.kind === 'reuse') {
      ctx.logger.debug({ url: photo.url, sha256 }, 'image already stored');
      claim.resolve(stored.image);
      return { kind: 'stored', image: stored.image };
    }
    return { kind: 'rendered', sha256, rendered: await renderVariants(bytes, opts), claim };
  } catch (e) {
    claim.reject(e);
    throw e;
  }
}

/** Stores rendered variants, the manifest last (its presence says every variant is in place). */
async function store(sha256: string, rendered: RenderedImage, blobStore: BlobStore): Promise<StoredImage> {
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
  await blobStore.putManifest(image);
  return image;
}

/**
 * One photo of a listing of `source`: the stored image its media identity names when that version is stored
 * (no download), else fetched and rendered under the worker's image limit, stored after it, and recorded in
 * the media index.
 *
 * The limit covers what costs CPU and memory (the fetched bytes, the decoded pixels); storing the encoded
 * variants is I/O whose latency (one fsync per file) would otherwise hold a slot and leave a core idle. The
 * variants wait for storage in memory, a few hundred KB per photo, bounded by the photos of the jobs in flight.
 * The index lookup is I/O too, so it runs before the limit.
 */
export async function processPhoto(photo: Photo, source: string, ctx: ImagesContext): Promise<ImageAsset> {
  const { asset, reused } = await photoAsset(photo, source, ctx);
  // Counted per attempt: a listing retried for a reason not of its photos counts them again. `ok` is a photo
  // fetched (and rendered or found by its bytes), `reused` one taken from the media index with no download.
  const outcome = asset.status !== 'OK' ? 'failed' : reused ? 'reused' : 'ok';
  ctx.services.metrics?.count('photo', outcome, asset.reasonCode ?? undefined);
  return asset;
}

async function photoAsset(
  photo: Photo,
  source: string,
  ctx: ImagesContext,
): Promise<{ asset: ImageAsset; reused: boolean }> {
  const { blobStore, imageLimit } = ctx.services;
  const opts = renderOptions(ctx.config);
  const media = identityOf(source, photo);
  try {
    const decision = await decideReuse(blobStore, media, opts.variants, opts.format);
    if (decision.kind === 'reuse') {
      ctx.logger.debug({ url: photo.url, sha256: decision.image.sha256 }, 'photo unchanged since stored: reused');
      return { asset: okAsset(photo, decision.image), reused: true };
    }
    ctx.logger.debug({ url: photo.url, why: decision.reason }, 'photo fetched');
    const prepared = await imageLimit(() => prepare(photo, ctx, opts));
    let image: StoredImage;
    if (prepared.kind !== 'rendered') image = await prepared.image;
    else {
      const { sha256, rendered, claim } = prepared;
      try {
        image = await store(sha256, rendered, blobStore);
      } catch (e) {
        claim.reject(e);
        throw e;
      }
      claim.resolve(image);
    }
    await remember(media, image.sha256, ctx);
    return { asset: okAsset(photo, image), reused: false };
  } catch (e) {
    if (!isPhotoFailure(e)) throw e;
    ctx.logger.info({ url: photo.url, code: e.code, reason: e.message }, 'photo failed');
    return { asset: failedAsset(photo, e), reused: false };
  }
}

/**
 * Records which image this version of the photo is, after the image is stored (an entry never names an image
 * not yet complete). An overwrite, so repeating it is harmless; a failed write is only logged, since all it
 * costs is one more download of this photo, while failing the listing would redo every photo of it.
 */
async function remember(media: MediaIdentity, sha256: string, ctx: ImagesContext): Promise<void> {
  try {
    await ctx.services.blobStore.putMediaEntry(mediaEntry(media, sha256, ctx.clock.now()));
  } catch (e) {
    ctx.logger.warn({ sha256, err: (e as Error).message }, 'images: the media index entry was not written');
  }
}

export async function processListing(listing: Listing, ctx: ImagesContext): Promise<ImagesEmit[]> {
  // A deleted listing needs no photos: publish removes it. A photo that left the listing's Media is not in
  // `photos`, so it has no asset in the output (its image stays stored until `blobs gc`).
  const photos = listing.status === 'DELETE' ? [] : [...listing.photos].sort((a, b) => a.order - b.order);
  const images = await Promise.all(photos.map((p) => processPhoto(p, listing.source, ctx)));
  return [emit.output('enriched', listing.id, { listing, images, enrichedAt: ctx.clock.now() })];
}
