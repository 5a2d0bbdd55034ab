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
 * - Colour: a photo with an ICC profile (Display P3, Adobe RGB, CMYK) is converted to sRGB on decode.
 * - HEIC: decoded by libheif on worker threads (./heif, ./decode), since libvips here has no HEVC decoder;
 *   a HEIF that cannot be decoded is IMAGE_UNSUPPORTED with the decoder's reason, never IMAGE_CORRUPT.
 * - Broken metadata: a photo that fails to decode is tried once more without its metadata blocks (./decode).
 * - Animated GIF and WebP: the first frame.
 */
import sharp from 'sharp';
import { PermanentError } from '../../runtime/errors';
import type { VariantFormat, VariantSpec } from './config';
import { heifAsPng, stripMetadata } from './decode';
import { dhashOfRaw, type RawImage } from './dhash';
import { sniffImageFormat } from './fetcher';

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

export interface Header {
  /** After EXIF orientation. */
  readonly width: number;
  readonly height: number;
  readonly format: string;
  /** For HEIF: hevc (HEIC) or av1 (AVIF). */
  readonly compression: string | undefined;
}

/** A HEIF decode failure: IMAGE_UNSUPPORTED (this decoder cannot, another may), with why. */
const heifUnsupported = (why: string) =>
  new PermanentError(
    'IMAGE_UNSUPPORTED',
    `the HEIF image cannot be decoded: ${why.replace(/^the image could not be decoded: ?/, '') || 'unknown reason'}`,
  );

/** Reads the header only; refuses non-rasters and bombs before any decoding. Returns oriented dimensions. */
export async function inspect(input: Buffer, maxPixels: number): Promise<Header> {
  if (input.length === 0) throw new PermanentError('IMAGE_CORRUPT', 'the image is empty (0 bytes)');
  let meta: sharp.Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (e) {
    if (/unsupported image format/i.test((e as Error).message ?? '')) {
      throw new PermanentError('IMAGE_UNSUPPORTED', 'the bytes are not in a known image format');
    }
    if (sniffImageFormat(input) === 'heif') throw heifUnsupported(decodeFailureReason(String((e as Error).message)));
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
  return { width, height, format: meta.format, compression: meta.compression };
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

/**
 * The whole job for one photo: inspect, decode once, derive every variant and the dHash. A photo that is
 * corrupt only in its metadata blocks is rendered from its pixels (see stripMetadata).
 */
export async function renderVariants(input: Buffer, opts: RenderOptions): Promise<RenderedImage> {
  try {
    return await renderDecodable(input, opts);
  } catch (e) {
    if (!(e instanceof PermanentError) || e.code !== 'IMAGE_CORRUPT') throw e;
    const stripped = stripMetadata(input);
    if (!stripped) throw e;
    try {
      return await renderDecodable(stripped, opts);
    } catch {
      throw e; // the pixels are broken too: the first reason is the one that says so
    }
  }
}

async function renderDecodable(input: Buffer, opts: RenderOptions): Promise<RenderedImage> {
  let head: Header;
  let source = input;
  try {
    head = await inspect(input, opts.maxPixels);
  } catch (e) {
    if (!(e instanceof PermanentError) || e.code !== 'IMAGE_UNSUPPORTED' || sniffImageFormat(input) !== 'heif') throw e;
    // libvips cannot read even the header of this HEIF: libheif decides, and its refusal says why.
    source = await heifAsPng(input, opts.maxPixels);
    head = await inspect(source, opts.maxPixels);
  }
  if (source === input && head.format === 'heif' && head.compression !== 'av1') {
    // libvips reads a HEIC's header but has no HEVC decoder: libheif decodes it, oriented, with its profile.
    source = await heifAsPng(input, opts.maxPixels);
    head = await inspect(source, opts.maxPixels);
  }
  const widest = Math.max(...opts.variants.map((v) => v.width));
  let raw: RawImage;
  try {
    raw = await decodeOnce(source, widest, opts.maxPixels);
  } catch (e) {
    if (head.format === 'heif' && e instanceof PermanentError && e.code === 'IMAGE_CORRUPT')
      throw heifUnsupported(e.message);
    throw e;
  }
  const { width, height } = head;
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
