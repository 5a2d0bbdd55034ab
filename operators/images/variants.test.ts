import sharp from 'sharp';
import { PermanentError } from '../../runtime/errors';
import * as fx from '../../test/fixtures/images/fixtures';
import { parseVariants } from './config';
import { decodeFailureReason, type RenderOptions, renderVariants, renderVariantsDecodingEach } from './variants';

const opts: RenderOptions = {
  variants: parseVariants(['thumb:320', 'card:800', 'full:1600']),
  format: 'webp',
  quality: 80,
  effort: 2,
  maxPixels: 100_000_000,
};

/** Mean red minus blue of the left tenth of an image: > 0 where the fixture's warm half is. */
async function leftWarmth(img: Buffer): Promise<number> {
  const { data, info } = await sharp(img).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let sum = 0;
  let n = 0;
  for (let y = 0; y < info.height; y++) {
    for (let x = 0; x < Math.max(1, Math.floor(info.width / 10)); x++) {
      const i = (y * info.width + x) * info.channels;
      sum += data[i]! - data[i + 2]!;
      n++;
    }
  }
  return sum / n;
}

describe('renderVariants', () => {
  test.each([
    [1, 300, 200, 'warm'],
    [2, 300, 200, 'cool'],
    [3, 300, 200, 'cool'],
    [4, 300, 200, 'warm'],
    [5, 200, 300, null],
    [6, 200, 300, null],
    [7, 200, 300, null],
    [8, 200, 300, null],
  ] as const)('EXIF orientation %i of a 300x200 photo gives %ix%i', async (orientation, w, h, left) => {
    const input = await fx.photoJpeg(300, 200, { orientation });
    expect((await sharp(input).metadata()).orientation).toBe(orientation);
    const r = await renderVariants(input, opts);
    expect([r.width, r.height]).toEqual([w, h]);
    for (const v of r.variants) {
      const m = await sharp(v.data).metadata();
      expect([m.width, m.height, m.orientation]).toEqual([w, h, undefined]);
    }
    if (left) expect((await leftWarmth(r.variants[0]!.data)) > 0).toBe(left === 'warm');
  });

  test('derives thumb 320, card 800 and full 1600 from a 4000x3000 photo, as WebP', async () => {
    const r = await renderVariants(await fx.photoJpeg(4000, 3000), opts);
    expect([r.width, r.height]).toEqual([4000, 3000]);
    const got = await Promise.all(
      r.variants.map(async (v) => {
        const m = await sharp(v.data).metadata();
        return [v.name, v.width, v.height, v.format, m.format, m.width, m.height];
      }),
    );
    expect(got).toEqual([
      ['thumb', 320, 240, 'webp', 'webp', 320, 240],
      ['card', 800, 600, 'webp', 'webp', 800, 600],
      ['full', 1600, 1200, 'webp', 'webp', 1600, 1200],
    ]);
    expect(r.dhash).toMatch(/^[0-9a-f]{16}$/);
  }, 30_000);

  test.each([
    [500, 400, [320, 500, 500]],
    [100, 80, [100, 100, 100]],
  ])('never enlarges a %ix%i photo', async (w, h, widths) => {
    const r = await renderVariants(await fx.photoJpeg(w, h), opts);
    expect(r.variants.map((v) => v.width)).toEqual(widths);
  });

  test.each([
    ['avif', 'heif'],
    ['jpeg', 'jpeg'],
    ['webp', 'webp'],
  ] as const)('encodes variants as %s when configured', async (format, detected) => {
    const r = await renderVariants(await fx.alphaPng(400, 300), {
      ...opts,
      format,
      variants: parseVariants(['t:200']),
    });
    const m = await sharp(r.variants[0]!.data).metadata();
    expect([m.format, m.width, m.height]).toEqual([detected, 200, 150]);
  });

  test.each([
    ['CMYK JPEG', () => fx.cmykJpeg(), 'srgb', 3, false],
    ['PNG with alpha', () => fx.alphaPng(), 'srgb', 4, true],
    ['16-bit PNG', () => fx.sixteenBitPng(), 'srgb', 3, false],
    ['GIF', () => fx.gif(), 'srgb', 3, false],
  ])('%s becomes 8-bit sRGB', async (_name, make, space, channels, hasAlpha) => {
    const r = await renderVariants(await make(), opts);
    for (const v of r.variants) {
      const m = await sharp(v.data).metadata();
      expect([m.space, m.channels, m.depth, m.hasAlpha]).toEqual([space, channels, 'uchar', hasAlpha]);
    }
  });

  test('CMYK colours are converted, not reinterpreted', async () => {
    const src = await fx.photoJpeg(400, 300);
    const viaCmyk = await renderVariants(await sharp(src).toColourspace('cmyk').jpeg().toBuffer(), opts);
    expect(await leftWarmth(viaCmyk.variants[0]!.data)).toBeGreaterThan(20);
  });

  test('strips every piece of metadata, GPS included', async () => {
    const input = await fx.photoJpeg(400, 300, { exif: fx.gpsExif() });
    const inMeta = await sharp(input).metadata();
    expect(inMeta.exif?.includes('ListflowCam')).toBe(true);
    // The GPS IFD pointer (tag 0x8825, little-endian) is there before processing.
    expect(inMeta.exif?.includes(Buffer.from([0x25, 0x88]))).toBe(true);
    const r = await renderVariants(input, opts);
    for (const v of r.variants) {
      const m = await sharp(v.data).metadata();
      expect([m.exif, m.icc, m.xmp, m.iptc]).toEqual([undefined, undefined, undefined, undefined]);
      expect(v.data.includes('ListflowCam')).toBe(false);
      expect(v.data.includes('EXIF')).toBe(false);
    }
  });

  test.each([
    ['truncated JPEG', fx.truncatedJpeg, 'IMAGE_CORRUPT'],
    ['zero-byte file', fx.zeroBytes, 'IMAGE_CORRUPT'],
    ['text file named .jpg', fx.textNamedJpg, 'IMAGE_UNSUPPORTED'],
    ['SVG with an external reference', fx.svgWithExternalRef, 'IMAGE_UNSUPPORTED'],
    ['30,000 x 30,000 declared PNG (bomb)', () => fx.pngBomb(), 'IMAGE_TOO_LARGE'],
  ])('%s fails with %s', async (_name, make, code) => {
    const err = await renderVariants(await make(), opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe(code);
    // One line: it is the asset's reason in the published document, so it must not depend on what libvips's
    // process-wide error buffer held from other decodes.
    expect((err as PermanentError).message).not.toContain('\n');
  });

  test.each([
    ['libvips text on the next line', 'Input buffer has corrupt header:\nVipsJpeg: premature end of JPEG image\n'],
    ['libvips text on the same line', 'Input buffer has corrupt header: VipsJpeg: premature end of JPEG image'],
    ['libvips buffer already cleared', 'Input buffer has corrupt header: '],
    ['another libvips domain', 'Input buffer has corrupt header: jpegload_buffer: out of order read at line 40'],
  ])('a decode failure reads the same whatever libvips added (%s)', (_name, message) => {
    expect(decodeFailureReason(message)).toBe('the image could not be decoded: Input buffer has corrupt header');
  });

  test.each([
    [
      'only libvips text',
      'VipsJpeg: premature end of JPEG image\nvips2png: unable to write',
      'the image could not be decoded',
    ],
    ['no libvips text', 'Input file is missing', 'the image could not be decoded: Input file is missing'],
  ])('a decode failure with %s', (_name, message, reason) => {
    expect(decodeFailureReason(message)).toBe(reason);
  });

  test('the bomb message names the declared size and the limit', async () => {
    await expect(renderVariants(fx.pngBomb(), opts)).rejects.toThrow(
      'the image declares 30000x30000 = 900000000 pixels, over the limit of 100000000',
    );
  });

  test('decode-once and decode-per-variant give the same dimensions', async () => {
    const input = await fx.photoJpeg(2400, 1800, { orientation: 6 });
    const once = await renderVariants(input, opts);
    const each = await renderVariantsDecodingEach(input, opts);
    expect(once.variants.map((v) => [v.name, v.width, v.height])).toEqual(each.map((v) => [v.name, v.width, v.height]));
  }, 30_000);
});
