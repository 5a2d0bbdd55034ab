/**
 * What the images operator hands to sharp's decoder, for the photos sharp cannot take as they are:
 *
 * - HEIC (HEVC-coded HEIF): decoded by libheif (./heif), then given to sharp as a PNG carrying the image's ICC
 *   profile, so the same pipeline converts it to sRGB like any other photo with a profile.
 * - Broken metadata: a JPEG, PNG or WebP whose EXIF, XMP, IPTC or ICC block is corrupt may fail to decode as a
 *   whole although its pixels are intact. `stripMetadata` removes those blocks (and only them) so the decode
 *   can be tried again; the variants carry no metadata anyway. EXIF orientation is lost with them: the photo
 *   is used as stored.
 */
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { decodeHeif } from './heif';

/** A HEIC photo as a lossless PNG (fast, no compression), with its ICC profile when it has one. */
export async function heifAsPng(input: Buffer, maxPixels: number): Promise<Buffer> {
  const px = await decodeHeif(input, maxPixels);
  const png = await sharp(px.data, {
    raw: { width: px.width, height: px.height, channels: 4 },
    limitInputPixels: maxPixels,
  })
    .png({ compressionLevel: 0 })
    .toBuffer();
  return px.icc ? withIccProfile(png, px.icc) : png;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** `png` with an iCCP chunk (the profile, deflated) right after IHDR, where the PNG spec wants it. */
export function withIccProfile(png: Buffer, icc: Buffer): Buffer {
  const ihdrEnd = 8 + 8 + png.readUInt32BE(8) + 4;
  const iccp = pngChunk('iCCP', Buffer.concat([Buffer.from('icc\0\0', 'latin1'), deflateSync(icc)]));
  return Buffer.concat([png.subarray(0, ihdrEnd), iccp, png.subarray(ihdrEnd)]);
}

/** JPEG APPn segments that hold metadata only: APP1 (EXIF, XMP) to APP13 (IPTC) and APP15, plus COM. APP0 (JFIF) and APP14 (Adobe: how to read CMYK) stay. */
const JPEG_METADATA = (marker: number) => (marker >= 0xe1 && marker <= 0xed) || marker === 0xef || marker === 0xfe;
/** WebP chunks that hold metadata only, and their VP8X flags. */
const WEBP_METADATA: Record<string, number> = { EXIF: 0x08, 'XMP ': 0x04, ICCP: 0x20 };
const PNG_METADATA = new Set(['eXIf', 'iCCP', 'iTXt', 'tEXt', 'zTXt', 'tIME']);

/**
 * The photo without its metadata blocks, or undefined when it has none to remove or its structure cannot be
 * walked (then the photo really is corrupt).
 */
export function stripMetadata(input: Buffer): Buffer | undefined {
  if (input.length > 3 && input[0] === 0xff && input[1] === 0xd8) return stripJpeg(input);
  if (input.length > 12 && input.toString('latin1', 0, 4) === 'RIFF' && input.toString('latin1', 8, 12) === 'WEBP')
    return stripWebp(input);
  if (input.length > 8 && input.subarray(0, 8).equals(PNG_SIGNATURE)) return stripPng(input);
  return undefined;
}

function stripJpeg(input: Buffer): Buffer | undefined {
  const keep: Buffer[] = [input.subarray(0, 2)];
  let removed = false;
  let i = 2;
  while (i + 4 <= input.length && input[i] === 0xff) {
    const marker = input[i + 1]!;
    // Start of scan: the entropy-coded data follows; everything from here on is pixels.
    if (marker === 0xda) {
      keep.push(input.subarray(i));
      return removed ? Buffer.concat(keep) : undefined;
    }
    const end = i + 2 + input.readUInt16BE(i + 2);
    if (end > input.length) {
      // A metadata segment that claims more than there is: drop it and look for the next marker.
      if (!JPEG_METADATA(marker)) return undefined;
      const next = input.indexOf(Buffer.from([0xff, 0xdb]), i + 4);
      if (next < 0) return undefined;
      removed = true;
      i = next;
      continue;
    }
    if (JPEG_METADATA(marker)) removed = true;
    else keep.push(input.subarray(i, end));
    i = end;
  }
  return undefined;
}

function stripWebp(input: Buffer): Buffer | undefined {
  const chunks: Buffer[] = [];
  let flagsOff = -1;
  let clear = 0;
  let i = 12;
  while (i + 8 <= input.length) {
    const type = input.toString('latin1', i, i + 4);
    const size = input.readUInt32LE(i + 4);
    const end = i + 8 + size + (size & 1);
    const meta = WEBP_METADATA[type];
    if (meta !== undefined) {
      clear |= meta;
      // A metadata chunk that runs past the end ends the file: what follows it cannot be found.
      if (end > input.length) break;
    } else {
      if (end > input.length) return undefined;
      if (type === 'VP8X') flagsOff = chunks.reduce((n, c) => n + c.length, 12) + 8;
      chunks.push(input.subarray(i, end));
    }
    i = end;
  }
  if (clear === 0) return undefined;
  const body = Buffer.concat(chunks);
  const out = Buffer.concat([Buffer.from('RIFF\0\0\0\0WEBP', 'latin1'), body]);
  out.writeUInt32LE(out.length - 8, 4);
  if (flagsOff >= 0) out[flagsOff] = out[flagsOff]! & ~clear;
  return out;
}

function stripPng(input: Buffer): Buffer | undefined {
  const keep: Buffer[] = [input.subarray(0, 8)];
  let removed = false;
  let i = 8;
  while (i + 12 <= input.length) {
    const end = i + 12 + input.readUInt32BE(i);
    const type = input.toString('latin1', i + 4, i + 8);
    if (end > input.length) return undefined;
    if (PNG_METADATA.has(type)) removed = true;
    else keep.push(input.subarray(i, end));
    i = end;
    if (type === 'IEND') break;
  }
  return removed ? Buffer.concat(keep) : undefined;
}
