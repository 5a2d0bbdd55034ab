/**
 * Web-ready variants of one photo, with sharp.
 *
 * - Safety: the header is read first and anything over the pixel limit is refused before a pixel is decoded
 *   (decompression bombs); decoding runs with `limitInputPixels` too and `failOn: 'error'`, so truncated and
 *   corrupt data fail instead of yielding grey half-images. Only raster formats are accepted (never SVG).
 * - Decode once: the photo is decoded a single time, already shrunk to the widest variant (shrink-on-load:
 *   libjpeg and libwebp decode at 1/2, 1/4, 1/8 scale directly), EXIF-oriented and converted to 8-bit sRGB
 *   (CMYK and 16-bit inputs included). Every variant and the dHash are derived from those pixels.
 * - Privacy: outputs are encoded from raw pixels, so no metadata (EXIF, GPS, XMP, IPTC, ICC) can survive.
 * - Never enlarged: a variant is at most as wide as the (oriented) source.
 */
import sharp from 'sharp';
import { PermanentError } from '../../runtime/errors';
import type { VariantFormat, VariantSpec } from './config';
import { dhashOfRaw, type RawImage } from './dhash';

export interface RenderOptions {
  /** Ascending by width. */
  readonly variants: readonly VariantSpec[];
  readonly format: VariantFormat;
  readonly quality: number;
  readonly effort: number;
  readonly maxPixels: number;
}

export interface RenderedVariant {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly format: VariantFormat;
  readonly data: Buffer;
}

export interface RenderedImage {
  /** Source dimensions after EXIF orientation. */
  readonly width: number;
  readonly height: number;
  readonly dhash: string;
  readonly variants: readonly RenderedVariant[];
}

/** Formats sharp reports for the rasters we accept (AVIF and HEIC both report heif). */
const ACCEPTED = new Set(['jpeg', 'png', 'webp', 'gif', 'heif']);

export const FILE_EXTENSION: Record<VariantFormat, string> = { webp: 'webp', avif: 'avif', jpeg: 'jpg' };

/**
 * What a decode failure says about the photo: sharp's own words, without what libvips added. libvips keeps
 * one error buffer for the whole process, and whichever decode reads it first clears it, so with photos
 * decoded concurrently the same bytes got "Input buffer has corrupt header:" with libvips's text on the next
 * line, on the same line ("...header: VipsJpeg: premature end of JPEG image"), or a message that is only
 * libvips's text, run to run. The asset's reason is part of the published document, which must be a
 * function of the input (replays, `listflow dry-run`), so everything from libvips's first fragment
 * (`VipsJpeg:`, `vips_image_...:`, `jpegload_buffer:`) on is dropped.
 */
const LIBVIPS_FRAGMENT = /(?:^|\s)(?:Vips\w*|vips_\w+|\w+(?:load|save)(?:_\w+)?):[\s\S]*$/;

export function decodeFailureReason(sharpMessage: string): string {
  const own = sharpMessage.split('\n', 1)[0]!.replace(LIBVIPS_FRAGMENT, '').trim().replace(/:$/, '');
  return own === '' ? 'the image could not be decoded' : `the image could not be decoded: ${own}`;
}

const corrupt = (e: unknown) =>
  new PermanentError('IMAGE_CORRUPT', decodeFailureReason(String((e as Error)?.message ?? e)));

function isPixelLimitError(e: unknown): boolean {
  return /pixel limit/i.test((e as Error)?.message ?? '');
}

/** Reads the header only; refuses non-rasters and bombs before any decoding. Returns oriented dimensions. */
export async function inspect(input: Buffer, maxPixels: number): Promise<{ width: number; height: number }> {
  if (input.length === 0) throw new PermanentError('IMAGE_CORRUPT', 'the image is empty (0 bytes)');
  let meta: sharp.Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (e) {
    if (/unsupported image format/i.test((e as Error).message ?? '')) {
      throw new PermanentError('IMAGE_UNSUPPORTED', 'the bytes are not in a known image format');
    }
    throw corrupt(e);
  }
  if (!ACCEPTED.has(meta.format)) {
    throw new PermanentError('IMAGE_UNSUPPORTED', `the ${meta.format} format is not accepted for photos`);
  }
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!width || !height) throw new PermanentError('IMAGE_CORRUPT', 'the image header has no dimensions');
  if (width * height > maxPixels) {
    throw new PermanentError(
      'IMAGE_TOO_LARGE',
      `the image declares ${width}x${height} = ${width * height} pixels, over the limit of ${maxPixels}`,
    );
  }
  return { width, height };
}

/** Decodes once, oriented, sRGB, 8-bit, no wider than `maxWidth`. */
export async function decodeOnce(input: Buffer, maxWidth: number, maxPixels: number): Promise<RawImage> {
  try {
    const { data, info } = await sharp(input, { limitInputPixels: maxPixels, failOn: 'error', autoOrient: true })
      .resize({ width: maxWidth, withoutEnlargement: true })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, channels: info.channels };
  } catch (e) {
    if (isPixelLimitError(e)) throw new PermanentError('IMAGE_TOO_LARGE', (e as Error).message);
    throw corrupt(e);
  }
}

/** Encodes one variant from decoded pixels. */
export async function encodeVariant(
  img: RawImage,
  spec: VariantSpec,
  opts: Pick<RenderOptions, 'format' | 'quality' | 'effort'>,
): Promise<RenderedVariant> {
  let p = sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } });
  if (spec.width < img.width) p = p.resize({ width: spec.width });
  if (opts.format === 'webp') p = p.webp({ quality: opts.quality, effort: Math.min(opts.effort, 6) });
  else if (opts.format === 'avif') p = p.avif({ quality: opts.quality, effort: opts.effort });
  else p = p.flatten({ background: '#ffffff' }).jpeg({ quality: opts.quality, mozjpeg: false });
  const { data, info } = await p.toBuffer({ resolveWithObject: true });
  return { name: spec.name, width: info.width, height: info.height, format: opts.format, data };
}

/** The whole job for one photo: inspect, decode once, derive every variant and the dHash. */
export async function renderVariants(input: Buffer, opts: RenderOptions): Promise<RenderedImage> {
  const { width, height } = await inspect(input, opts.maxPixels);
  const widest = Math.max(...opts.variants.map((v) => v.width));
  const raw = await decodeOnce(input, widest, opts.maxPixels);
  const variants: RenderedVariant[] = [];
  // One at a time: the worker's image limit already keeps every core busy with other photos.
  for (const spec of opts.variants) variants.push(await encodeVariant(raw, spec, opts));
  return { width, height, dhash: await dhashOfRaw(raw), variants };
}

/** The naive way, kept for the benchmark: one full decode per variant. */
export async function renderVariantsDecodingEach(input: Buffer, opts: RenderOptions): Promise<RenderedVariant[]> {
  const out: RenderedVariant[] = [];
  for (const spec of opts.variants) {
    const p = sharp(input, { limitInputPixels: opts.maxPixels, failOn: 'error', autoOrient: true })
      .resize({ width: spec.width, withoutEnlargement: true })
      .toColourspace('srgb')
      .webp({ quality: opts.quality, effort: Math.min(opts.effort, 6) });
    const { data, info } = await p.toBuffer({ resolveWithObject: true });
    out.push({ name: spec.name, width: info.width, height: info.height, format: 'webp', data });
  }
  return out;
}
