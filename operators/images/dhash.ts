/**
 * dHash: a 64-bit perceptual "difference hash" for spotting near-duplicate photos (the same room shot twice,
 * the same photo re-encoded or resized by another MLS). The image is reduced to 9x8 grey pixels; each bit
 * says whether a pixel is brighter than its right-hand neighbour. Near-duplicates differ in a few bits
 * (compare with `hammingDistance`); unrelated photos differ in about half of them.
 */
import sharp from 'sharp';

export const DHASH_WIDTH = 9;
export const DHASH_HEIGHT = 8;

/** 16 hex digits from 9x8 grey pixels, row by row. Bit order: row-major, most significant first. */
export function dhashFromGrey(px: Uint8Array): string {
  if (px.length !== DHASH_WIDTH * DHASH_HEIGHT) {
    throw new RangeError(`dhash needs ${DHASH_WIDTH * DHASH_HEIGHT} grey pixels, received ${px.length}`);
  }
  let bits = 0n;
  for (let y = 0; y < DHASH_HEIGHT; y++) {
    for (let x = 0; x < DHASH_WIDTH - 1; x++) {
      const i = y * DHASH_WIDTH + x;
      bits = (bits << 1n) | (px[i]! > px[i + 1]! ? 1n : 0n);
    }
  }
  return bits.toString(16).padStart(16, '0');
}

/** Number of differing bits between two dHashes (0-64). */
export function hammingDistance(a: string, b: string): number {
  let x = BigInt(`0x${a}`) ^ BigInt(`0x${b}`);
  let n = 0;
  while (x > 0n) {
    n += Number(x & 1n);
    x >>= 1n;
  }
  return n;
}

export interface RawImage {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 2 | 3 | 4;
}

/** dHash of decoded 8-bit pixels (any channel count; alpha is ignored). */
export async function dhashOfRaw(img: RawImage): Promise<string> {
  const { data, info } = await sharp(img.data, {
    raw: { width: img.width, height: img.height, channels: img.channels },
  })
    .removeAlpha()
    .greyscale()
    .resize(DHASH_WIDTH, DHASH_HEIGHT, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  // greyscale() may still yield 3 identical bands from sRGB input: take the first of each pixel.
  const grey = new Uint8Array(DHASH_WIDTH * DHASH_HEIGHT);
  for (let i = 0; i < grey.length; i++) grey[i] = data[i * info.channels]!;
  return dhashFromGrey(grey);
}
